"""Alert lifecycle: acknowledge, resolve, snooze, assign, reopen — each recorded twice,
in the alert's history (alert_event) and in the audit log, with the authenticated actor."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from tutorpulse.alerts import repository
from tutorpulse.alerts.generate import store_tutor_priorities
from tutorpulse.alerts.models import Alert, AlertEvent
from tutorpulse.core.audit import Actor, record_audit
from tutorpulse.core.errors import Conflict, Invalid, NotFound

ACTIONS = ("acknowledge", "resolve", "snooze", "assign", "reopen")
ASSIGNABLE_ROLES = ("admin", "coach")
MAX_NOTE = 2000


def transition(
    db: Session,
    *,
    alert_id: int,
    action: str,
    actor: Actor,
    now: datetime,
    note: str | None = None,
    snooze_until: datetime | None = None,
    assignee_id: int | None = None,
    request_id: str | None = None,
) -> Alert:
    """Apply ``action`` to alert ``alert_id``; returns it. Raises NotFound, Invalid, Conflict."""
    if action not in ACTIONS:
        raise Invalid.field("action", f"must be one of {', '.join(ACTIONS)}")
    if note is not None and len(note) > MAX_NOTE:
        raise Invalid.field("note", f"at most {MAX_NOTE} characters")
    alert = repository.get_alert(db, alert_id)
    if alert is None:
        raise NotFound(f"No alert {alert_id}")
    data: dict[str, Any] = {"from": alert.state}
    if action == "reopen" and repository.unresolved_fingerprint(db, alert.fingerprint):
        raise Conflict(
            f"Alert {alert_id} cannot be reopened: a newer alert for the same rule and "
            "tutor is open"
        )
    if action != "reopen" and alert.state == "resolved":
        raise Conflict(f"Alert {alert_id} is resolved; reopen it first")
    if action == "acknowledge":
        if alert.state == "acknowledged":
            raise Conflict(f"Alert {alert_id} is already acknowledged")
        alert.state = "acknowledged"
        alert.acknowledged_at = now
        alert.acknowledged_by = actor.label
        alert.snoozed_until = None
    elif action == "resolve":
        alert.state = "resolved"
        alert.resolved_at = now
        alert.resolved_by = actor.label
        alert.snoozed_until = None
    elif action == "snooze":
        if snooze_until is None:
            raise Invalid.field("snoozeUntil", "is required to snooze")
        if snooze_until <= now:
            raise Invalid.field("snoozeUntil", "must be in the future")
        alert.state = "snoozed"
        alert.snoozed_until = snooze_until
        data["until"] = snooze_until.isoformat()
    elif action == "assign":
        if assignee_id is None:
            raise Invalid.field("assigneeId", "is required to assign")
        user = repository.get_user(db, assignee_id)
        if user is None or not user.is_active:
            raise Invalid.field("assigneeId", f"no active user {assignee_id}")
        if user.role not in ASSIGNABLE_ROLES:
            raise Invalid.field("assigneeId", f"must be a {' or '.join(ASSIGNABLE_ROLES)}")
        alert.assigned_to_id = user.id
        data["assignee"] = user.email
    else:  # reopen
        if alert.state != "resolved":
            raise Conflict(f"Alert {alert_id} is not resolved")
        alert.state = "open"
        alert.resolved_at = None
        alert.resolved_by = None
        alert.acknowledged_at = None
        alert.acknowledged_by = None
        alert.condition_cleared_at = None
    data["to"] = alert.state
    db.flush()
    store_tutor_priorities(db, tutor_ids=[alert.tutor_id])
    db.add(
        AlertEvent(
            alert_id=alert.id, action=action, actor=actor.label, at=now, note=note, data=data
        )
    )
    record_audit(
        db,
        actor=actor,
        action=f"alert.{action}",
        target_type="alert",
        target_id=str(alert.id),
        details={**data, **({"note": note} if note else {})},
        request_id=request_id,
    )
    return alert
