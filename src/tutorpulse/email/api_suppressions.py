"""JSON routes of the suppression list and the deliverability summary.

- ``GET /api/email/suppressions`` (read): search and page the list.
- ``POST /api/email/suppressions`` (write): add an address (201; 200 if it was already there).
- ``DELETE /api/email/suppressions/{email}`` (write): remove an address (404 if absent).
- ``GET /api/email/deliverability?days=`` (read): the deliverability figures.
Additions and removals are written to the audit log.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from tutorpulse.core.audit import Actor
from tutorpulse.email import deliverability, suppression
from tutorpulse.email.models import Suppression
from tutorpulse.web.auth import require_api
from tutorpulse.web.deps import ClockDep, DbSession, RequestId

router = APIRouter(prefix="/api/email", tags=["email suppression"])

Reader = Annotated[Actor, Depends(require_api("read"))]
Writer = Annotated[Actor, Depends(require_api("write"))]
Reason = Literal["unsubscribe", "bounce", "complaint", "manual"]


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class SuppressionRead(_Camel):
    email: str
    reason: str
    source: str | None
    note: str | None
    created_at: datetime
    created_by: str | None

    @classmethod
    def of(cls, row: Suppression) -> SuppressionRead:
        return cls(
            email=row.email,
            reason=row.reason,
            source=row.source,
            note=row.note,
            created_at=row.created_at,
            created_by=row.created_by,
        )


class SuppressionPage(_Camel):
    items: list[SuppressionRead]
    total: int
    limit: int
    offset: int


class SuppressionCreate(_Camel):
    email: str = Field(min_length=3, max_length=suppression.MAX_EMAIL_LENGTH)
    reason: Reason = "manual"
    note: str | None = Field(None, max_length=suppression.MAX_NOTE_LENGTH)


class SuppressionAdded(SuppressionRead):
    created: bool = Field(description="False when the address was already suppressed.")


class DeliverabilityDayRead(_Camel):
    day: date
    sent: int
    delivered: int
    human_opened: int
    human_clicked: int


class DeliverabilityRead(_Camel):
    start: datetime
    end: datetime
    days: int
    sent: int
    delivered: int
    bounced: int
    hard_bounced: int = Field(description="Addresses suppressed after a hard bounce in the window.")
    complained: int
    failed: int
    human_opened: int = Field(description="Messages opened at least once by a person.")
    machine_only_opened: int = Field(description="Messages whose only opens were machines.")
    human_clicked: int
    machine_only_clicked: int
    machine_open_events: int
    machine_click_events: int
    unsubscribed: int
    suppressions_added: int
    delivery_rate: float | None
    bounce_rate: float | None
    complaint_rate: float | None
    human_open_rate: float | None
    human_click_rate: float | None
    daily: list[DeliverabilityDayRead]


@router.get("/suppressions", response_model=SuppressionPage, summary="List suppressed addresses")
def list_suppressions(
    db: DbSession,
    _actor: Reader,
    q: Annotated[str | None, Query(max_length=200, description="Address or note contains")] = None,
    reason: Reason | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> SuppressionPage:
    page = suppression.list_suppressions(db, q=q, reason=reason, limit=limit, offset=offset)
    return SuppressionPage(
        items=[SuppressionRead.of(r) for r in page.items],
        total=page.total,
        limit=limit,
        offset=offset,
    )


@router.post(
    "/suppressions",
    response_model=SuppressionAdded,
    status_code=201,
    summary="Suppress an address",
)
def add_suppression(
    body: SuppressionCreate,
    response: Response,
    db: DbSession,
    clock: ClockDep,
    actor: Writer,
    request_id: RequestId,
) -> SuppressionAdded:
    row, created = suppression.add_suppression(
        db,
        email=body.email,
        reason=body.reason,
        note=body.note,
        source="api",
        now=clock.now(),
        actor=actor,
        request_id=request_id,
    )
    if not created:
        response.status_code = 200
    return SuppressionAdded(**SuppressionRead.of(row).model_dump(), created=created)


@router.delete(
    "/suppressions/{email}",
    response_model=SuppressionRead,
    summary="Remove an address from the suppression list",
)
def remove_suppression(
    db: DbSession,
    actor: Writer,
    request_id: RequestId,
    email: Annotated[str, Path(min_length=3, max_length=suppression.MAX_EMAIL_LENGTH)],
) -> SuppressionRead:
    row = suppression.remove_suppression(db, email=email, actor=actor, request_id=request_id)
    return SuppressionRead.of(row)


@router.get("/deliverability", response_model=DeliverabilityRead, summary="Deliverability figures")
def get_deliverability(
    db: DbSession,
    clock: ClockDep,
    _actor: Reader,
    days: Annotated[int, Query(ge=1, le=365, description="Window length in days")] = 30,
) -> DeliverabilityRead:
    s = deliverability.compute_deliverability(db, now=clock.now(), days=days)
    return DeliverabilityRead(
        start=s.start,
        end=s.end,
        days=s.days,
        sent=s.sent,
        delivered=s.delivered,
        bounced=s.bounced,
        hard_bounced=s.hard_bounced,
        complained=s.complained,
        failed=s.failed,
        human_opened=s.human_opened,
        machine_only_opened=s.machine_only_opened,
        human_clicked=s.human_clicked,
        machine_only_clicked=s.machine_only_clicked,
        machine_open_events=s.machine_open_events,
        machine_click_events=s.machine_click_events,
        unsubscribed=s.unsubscribed,
        suppressions_added=s.suppressions_added,
        delivery_rate=s.rate(s.delivered),
        bounce_rate=s.rate(s.bounced),
        complaint_rate=s.rate(s.complained),
        human_open_rate=s.rate(s.human_opened),
        human_click_rate=s.rate(s.human_clicked),
        daily=[
            DeliverabilityDayRead(
                day=d.day,
                sent=d.sent,
                delivered=d.delivered,
                human_opened=d.human_opened,
                human_clicked=d.human_clicked,
            )
            for d in s.daily
        ],
    )
