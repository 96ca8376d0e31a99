"""Reading alerts: filtered lists sorted by severity rank / priority, detail, statistics."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tutorpulse.alerts import repository
from tutorpulse.alerts.models import ALERT_STATES, Alert
from tutorpulse.alerts.schemas import (
    AlertDetail,
    AlertEventRead,
    AlertList,
    AlertRead,
    AlertStats,
    AlertTutor,
)
from tutorpulse.alerts.trend import evidence_trend
from tutorpulse.core.errors import NotFound
from tutorpulse.tutors.models import Tutor


def _months(joined: date | None, now: datetime) -> int | None:
    if joined is None:
        return None
    return max(0, (now.year - joined.year) * 12 + now.month - joined.month)


def to_read(
    alert: Alert, tutor: Tutor | None, now: datetime, names: dict[int, str] | None = None
) -> AlertRead:
    return AlertRead(
        id=alert.id,
        tutor_id=tutor.external_id if tutor else str(alert.tutor_id),
        alert_type=alert.rule_key,
        severity=alert.severity,
        severity_rank=alert.severity_rank,
        category=alert.category,
        priority=alert.priority,
        state=alert.state,
        title=alert.title,
        message=alert.message,
        metric=alert.metric,
        metric_value=alert.metric_value,
        threshold=alert.threshold,
        evidence=alert.evidence or {},
        acknowledged=alert.acknowledged_at is not None,
        acknowledged_by=alert.acknowledged_by,
        acknowledged_at=alert.acknowledged_at,
        resolved=alert.state == "resolved",
        resolved_by=alert.resolved_by,
        resolved_at=alert.resolved_at,
        snoozed_until=alert.snoozed_until,
        assigned_to_id=alert.assigned_to_id,
        assigned_to=(names or {}).get(alert.assigned_to_id) if alert.assigned_to_id else None,
        suppressed_by_id=alert.suppressed_by_id,
        created_at=alert.created_at,
        last_seen_at=alert.last_seen_at,
        tutor=AlertTutor(
            tutor_id=tutor.external_id,
            primary_subject=tutor.primary_subject,
            months_experience=_months(tutor.joined_on, now),
            certification_level=tutor.certification_level,
        )
        if tutor
        else None,
    )


def list_alerts(
    db: Session,
    *,
    now: datetime,
    limit: int,
    offset: int = 0,
    tutor_id: str | None = None,
    severity: str | None = None,
    category: str | None = None,
    rule: str | None = None,
    state: str | None = None,
    acknowledged: bool | None = None,
    resolved: bool | None = None,
    high_priority: bool = False,
    assigned_to_id: int | None = None,
    subject: str | None = None,
    include_suppressed: bool = False,
    sort: str = "priority",
) -> AlertList:
    """Alerts matching the filters, highest priority (or severity rank) first.

    Resolved alerts are left out unless ``resolved`` or ``state`` asks for them;
    suppressed (inhibited) alerts unless ``include_suppressed``. Raises NotFound for
    an unknown ``tutor_id``.
    """
    query = select(Alert, Tutor).join(Tutor, Tutor.id == Alert.tutor_id)
    if tutor_id is not None:
        tutor = repository.tutor_by_external_id(db, tutor_id)
        if tutor is None:
            raise NotFound(f"No tutor {tutor_id!r}")
        query = query.where(Alert.tutor_id == tutor.id)
    if severity:
        query = query.where(Alert.severity == severity.lower())
    if category:
        query = query.where(Alert.category == category.lower())
    if rule:
        query = query.where(Alert.rule_key == rule)
    if subject:
        query = query.where(Tutor.primary_subject == subject)
    if assigned_to_id is not None:
        query = query.where(Alert.assigned_to_id == assigned_to_id)
    if state:
        query = query.where(Alert.state == state)
    elif resolved is True:
        query = query.where(Alert.state == "resolved")
    elif resolved is None or resolved is False:
        query = query.where(Alert.state != "resolved")
    if acknowledged is True:
        query = query.where(Alert.acknowledged_at.is_not(None))
    elif acknowledged is False:
        query = query.where(Alert.acknowledged_at.is_(None))
    if high_priority:
        query = query.where(
            Alert.state.in_(("open", "snoozed")) if not state else Alert.id.is_not(None),
            Alert.acknowledged_at.is_(None),
            Alert.severity_rank >= 3,
        )
    if not include_suppressed:
        query = query.where(Alert.suppressed_by_id.is_(None))
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    order: list[Any]
    if sort == "severity":
        order = [Alert.severity_rank.desc(), Alert.priority.desc(), Alert.created_at.desc()]
    elif sort == "newest":
        order = [Alert.created_at.desc()]
    else:
        order = [Alert.priority.desc(), Alert.severity_rank.desc(), Alert.created_at.desc()]
    rows = db.execute(query.order_by(*order, Alert.id.desc()).limit(limit).offset(offset)).all()
    names = repository.user_names(db, (a.assigned_to_id for a, _t in rows if a.assigned_to_id))
    return AlertList(alerts=[to_read(a, t, now, names) for a, t in rows], count=int(total))


def get_alert_detail(db: Session, *, alert_id: int, now: datetime) -> AlertDetail:
    alert = repository.get_alert(db, alert_id)
    if alert is None:
        raise NotFound(f"No alert {alert_id}")
    tutor = repository.tutors_by_id(db, [alert.tutor_id]).get(alert.tutor_id)
    names = repository.user_names(db, [alert.assigned_to_id] if alert.assigned_to_id else [])
    base = to_read(alert, tutor, now, names)
    history = [
        AlertEventRead(action=e.action, actor=e.actor, at=e.at, note=e.note, data=e.data or {})
        for e in repository.alert_events(db, alert.id)
    ]
    return AlertDetail(**base.model_dump(), history=history, trend=evidence_trend(db, alert=alert))


def _counts(db: Session, column: Any, since: datetime) -> dict[str, int]:
    rows = db.execute(
        select(column, func.count()).where(Alert.created_at >= since).group_by(column)
    ).all()
    return {str(k): int(v) for k, v in rows}


def _mean_hours(db: Session, column: Any, since: datetime) -> float | None:
    rows = db.execute(
        select(Alert.created_at, column).where(Alert.created_at >= since, column.is_not(None))
    ).all()
    if not rows:
        return None
    total = sum((end - start).total_seconds() for start, end in rows)
    return round(total / len(rows) / 3600, 2)


def stats(db: Session, *, now: datetime, days: int) -> AlertStats:
    """Alerts created in the last ``days`` days: counts and mean hours to ack/resolve."""
    since = now - timedelta(days=days)
    by_state = dict.fromkeys(ALERT_STATES, 0)
    by_state.update(_counts(db, Alert.state, since))
    total = sum(by_state.values())
    acknowledged = (
        db.scalar(
            select(func.count()).where(
                Alert.created_at >= since, Alert.acknowledged_at.is_not(None)
            )
        )
        or 0
    )
    open_now = db.scalar(select(func.count()).where(Alert.state != "resolved")) or 0
    return AlertStats(
        days=days,
        since=since,
        total=total,
        by_severity=_counts(db, Alert.severity, since),
        by_category=_counts(db, Alert.category, since),
        by_state=by_state,
        acknowledged=int(acknowledged),
        resolved=by_state["resolved"],
        unacknowledged=total - int(acknowledged),
        mean_hours_to_acknowledge=_mean_hours(db, Alert.acknowledged_at, since),
        mean_hours_to_resolve=_mean_hours(db, Alert.resolved_at, since),
        open_now=int(open_now),
    )
