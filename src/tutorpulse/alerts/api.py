"""Alert JSON routes (original-compatible paths and fields).

Reading needs the ``read`` scope; changing an alert needs ``write``; rules need ``admin``.
The actor of every change is the authenticated user or key; a client-sent
``acknowledgedBy`` that names someone else is rejected.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request

from tutorpulse.alerts import service
from tutorpulse.alerts.queries import to_read
from tutorpulse.alerts.repository import tutors_by_id
from tutorpulse.alerts.schemas import (
    AlertAcknowledge,
    AlertActionResult,
    AlertBulkAction,
    AlertDetail,
    AlertPatch,
    AlertStats,
    RuleRead,
    RuleUpdate,
    UpdateMessagesCounts,
    UpdateMessagesResult,
)
from tutorpulse.core.audit import Actor
from tutorpulse.core.errors import Invalid
from tutorpulse.web.auth import require_api
from tutorpulse.web.deps import ClockDep, DbSession, RequestId

router = APIRouter(prefix="/api/alerts", tags=["alerts"])

Reader = Annotated[Actor, Depends(require_api("read"))]
Writer = Annotated[Actor, Depends(require_api("write"))]
Admin = Annotated[Actor, Depends(require_api("admin"))]
Severity = Literal["critical", "high", "medium", "low"]
Category = Literal["churn", "engagement", "quality", "reliability", "technical"]
State = Literal["open", "acknowledged", "snoozed", "resolved"]


def _limit(request: Request, limit: int) -> int:
    top = int(request.app.state.settings.alerts_max_limit)
    if limit > top:
        raise Invalid.field("limit", f"must be at most {top}")
    return limit


@router.get("", summary="List alerts (or their statistics with stats=true)")
def list_alerts(
    request: Request,
    db: DbSession,
    clock: ClockDep,
    _actor: Reader,
    tutor_id: Annotated[str | None, Query(alias="tutorId", max_length=64)] = None,
    severity: Severity | None = None,
    category: Category | None = None,
    rule: Annotated[str | None, Query(max_length=64)] = None,
    state: State | None = None,
    acknowledged: bool | None = None,
    resolved: bool | None = None,
    high_priority: Annotated[bool, Query(alias="highPriority")] = False,
    stats: bool = False,
    days: Annotated[int, Query(ge=1, le=365)] = 7,
    assigned_to: Annotated[int | None, Query(alias="assignedTo", ge=1)] = None,
    subject: Annotated[str | None, Query(max_length=64)] = None,
    sort: Literal["priority", "severity", "newest"] = "priority",
    limit: Annotated[int, Query(ge=1)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    """``{alerts, count}``; ``stats=true`` → the statistics; ``highPriority=true`` →
    unacknowledged, unresolved critical/high alerts."""
    now = clock.now()
    if stats:
        return service.stats(db, now=now, days=days).model_dump(by_alias=True, mode="json")
    page = service.list_alerts(
        db,
        now=now,
        limit=_limit(request, limit),
        offset=offset,
        tutor_id=tutor_id,
        severity=severity,
        category=category,
        rule=rule,
        state=state,
        acknowledged=acknowledged,
        resolved=resolved,
        high_priority=high_priority,
        assigned_to_id=assigned_to,
        subject=subject,
        sort=sort,
    )
    return page.model_dump(by_alias=True, mode="json")


@router.get("/stats", response_model=AlertStats, summary="Alert statistics over a window")
def alert_stats(
    db: DbSession, clock: ClockDep, _actor: Reader, days: Annotated[int, Query(ge=1, le=365)] = 7
) -> AlertStats:
    return service.stats(db, now=clock.now(), days=days)


def _check_claimed(actor: Actor, claimed: str | None) -> None:
    if claimed and claimed not in (actor.name, actor.label):
        raise Invalid.field(
            "acknowledgedBy", "must be the authenticated caller (or left out; it is recorded)"
        )


@router.post(
    "",
    response_model=UpdateMessagesResult,
    summary="Bulk action: re-render unresolved alerts' messages (update-messages)",
)
def bulk_action(
    body: AlertBulkAction, db: DbSession, actor: Writer, request_id: RequestId
) -> UpdateMessagesResult:
    updated, unchanged, errors = service.update_messages(db, actor=actor, request_id=request_id)
    return UpdateMessagesResult(
        success=True,
        result=UpdateMessagesCounts(updated=updated, unchanged=unchanged, errors=errors),
        message=f"Updated {updated} alert message(s); {unchanged} unchanged, {errors} errors",
    )


@router.patch("", response_model=AlertActionResult, summary="Change an alert's state")
def patch_alert(
    body: AlertPatch, db: DbSession, clock: ClockDep, actor: Writer, request_id: RequestId
) -> AlertActionResult:
    _check_claimed(actor, body.acknowledged_by)
    now = clock.now()
    alert = service.transition(
        db,
        alert_id=body.alert_id,
        action=body.action,
        actor=actor,
        now=now,
        note=body.note,
        snooze_until=body.snooze_until,
        assignee_id=body.assignee_id,
        request_id=request_id,
    )
    tutor = tutors_by_id(db, [alert.tutor_id]).get(alert.tutor_id)
    return AlertActionResult(success=True, action=body.action, alert=to_read(alert, tutor, now))


@router.post("/acknowledge", response_model=AlertActionResult, summary="Acknowledge an alert")
def acknowledge(
    body: AlertAcknowledge, db: DbSession, clock: ClockDep, actor: Writer, request_id: RequestId
) -> AlertActionResult:
    now = clock.now()
    alert = service.transition(
        db,
        alert_id=body.alert_id,
        action="acknowledge",
        actor=actor,
        now=now,
        note=body.note,
        request_id=request_id,
    )
    tutor = tutors_by_id(db, [alert.tutor_id]).get(alert.tutor_id)
    return AlertActionResult(success=True, action="acknowledge", alert=to_read(alert, tutor, now))


@router.get("/rules", response_model=list[RuleRead], summary="Alert rules and their settings")
def list_rules(
    request: Request, db: DbSession, clock: ClockDep, _actor: Reader, preview: bool = False
) -> list[RuleRead]:
    counts = (
        service.preview_rules(db, now=clock.now(), settings=request.app.state.settings)
        if preview
        else {}
    )
    return [service.rule_read(r, counts.get(r.key)) for r in service.list_rules(db)]


@router.patch("/rules/{key}", response_model=RuleRead, summary="Change a rule (admin)")
def update_rule(
    key: str, body: RuleUpdate, db: DbSession, clock: ClockDep, actor: Admin
) -> RuleRead:
    changes = body.model_dump(exclude_none=True)
    rule = service.update_rule(db, key=key, changes=changes, actor=actor, now=clock.now())
    return service.rule_read(rule, None)


@router.get("/{alert_id}", response_model=AlertDetail, summary="One alert with its history")
def get_alert(alert_id: int, db: DbSession, clock: ClockDep, _actor: Reader) -> AlertDetail:
    return service.get_alert_detail(db, alert_id=alert_id, now=clock.now())
