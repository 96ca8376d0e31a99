"""The audit log over JSON (admins only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict

from tutorpulse.core.audit import Actor, list_audit
from tutorpulse.web.auth import require_api
from tutorpulse.web.deps import DbSession

router = APIRouter(prefix="/api", tags=["audit"])

MAX_LIMIT = 200


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


class AuditEntry(BaseModel):
    model_config = ConfigDict(alias_generator=_camel, populate_by_name=True, from_attributes=True)

    id: int
    at: datetime
    actor_type: str
    actor_id: int | None
    actor_name: str
    action: str
    target_type: str | None
    target_id: str | None
    details: dict[str, Any]
    request_id: str | None


class AuditPage(BaseModel):
    entries: list[AuditEntry]
    total: int
    limit: int
    offset: int


@router.get("/audit", response_model=AuditPage, summary="Audit log, newest first")
def get_audit(
    db: DbSession,
    _actor: Annotated[Actor, Depends(require_api("admin"))],
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> AuditPage:
    rows, total = list_audit(db, limit=limit, offset=offset)
    return AuditPage(
        entries=[AuditEntry.model_validate(r) for r in rows],
        total=total,
        limit=limit,
        offset=offset,
    )
