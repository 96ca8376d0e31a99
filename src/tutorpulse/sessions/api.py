"""Session ingestion over HTTP: ``POST /api/sessions`` (batch upsert by session id)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from tutorpulse.core.audit import Actor
from tutorpulse.core.errors import Invalid, PayloadTooLarge
from tutorpulse.sessions import service
from tutorpulse.web.auth import require_api
from tutorpulse.web.deps import ClockDep, DbSession, SettingsDep

router = APIRouter(prefix="/api", tags=["sessions"])
Ingester = Annotated[Actor, Depends(require_api("ingest", "write"))]


class SessionsIngested(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    success: bool
    received: int
    created: int
    updated: int
    unchanged: int
    derived_first_sessions: int = Field(alias="derivedFirstSessions")


async def _body(request: Request) -> Any:
    limit = int(request.app.state.settings.ingest_max_body_bytes)
    raw = await request.body()
    if len(raw) > limit:
        raise PayloadTooLarge(f"Request body is {len(raw)} bytes; at most {limit} accepted")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise Invalid.field("body", "must be a JSON document") from None


@router.post(
    "/sessions",
    response_model=SessionsIngested,
    response_model_by_alias=True,
    summary="Upsert sessions by sessionId (bookings, status changes, ratings, reschedules)",
    description=(
        'Body: `{"sessions": [...]}` (or a bare array) of up to INGEST_MAX_BATCH rows using '
        "the data contract's session columns in camelCase or snake_case (docs/import.md). "
        "Validated exactly like a sessions file; any invalid row rejects the whole request "
        "with every problem listed (field `sessions[i].column`) and nothing is stored."
    ),
    responses={400: {}, 413: {}},
)
def ingest_sessions(
    request: Request,
    db: DbSession,
    clock: ClockDep,
    settings: SettingsDep,
    _actor: Ingester,
    body: Annotated[Any, Depends(_body)],
) -> SessionsIngested:
    items = body.get("sessions") if isinstance(body, dict) else body
    if not isinstance(items, list):
        raise Invalid.field("sessions", "required: a JSON array of sessions")
    result = service.record_sessions(db, items=items, now=clock.now(), settings=settings)
    if result.created or result.updated:
        refresher = getattr(request.app.state, "refresher", None)
        if refresher is not None:
            refresher.poke()
    return SessionsIngested(
        success=True,
        received=result.received,
        created=result.created,
        updated=result.updated,
        unchanged=result.unchanged,
        derived_first_sessions=result.derived_first_sessions,
    )
