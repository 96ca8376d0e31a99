"""Deliverability summary: what happened to the email sent in a window (service, read-only).

The cohort is every email intervention whose ``sent_at`` falls in the window
``[now - days, now)``; each figure counts *messages* of that cohort (not events),
so a message opened five times counts once. Machine opens and clicks (privacy
proxies, link scanners) are shown separately and never counted as human
engagement. All aggregation happens in SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, exists, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from tutorpulse.email import webhooks
from tutorpulse.email.models import EmailEvent, Suppression
from tutorpulse.interventions.models import Intervention

WINDOWS = (7, 30, 90)


@dataclass(frozen=True)
class DeliverabilityDay:
    day: date  # UTC calendar day of sending
    sent: int
    delivered: int
    human_opened: int
    human_clicked: int


@dataclass(frozen=True)
class DeliverabilitySummary:
    start: datetime
    end: datetime
    days: int
    sent: int
    delivered: int
    bounced: int
    hard_bounced: int
    complained: int
    failed: int
    human_opened: int
    machine_only_opened: int
    human_clicked: int
    machine_only_clicked: int
    machine_open_events: int
    machine_click_events: int
    unsubscribed: int
    suppressions_added: int
    daily: list[DeliverabilityDay]

    def rate(self, count: int) -> float | None:
        """``count`` as a share of messages sent (None when nothing was sent)."""
        return count / self.sent if self.sent else None


def _has(kind: str, *, machine: bool | None = None) -> ColumnElement[bool]:
    conditions = [EmailEvent.intervention_id == Intervention.id, EmailEvent.event_type == kind]
    if machine is not None:
        conditions.append(EmailEvent.is_machine.is_(machine))
    return exists().where(and_(*conditions))


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def compute_deliverability(db: Session, *, now: datetime, days: int) -> DeliverabilitySummary:
    """Figures for email interventions sent in the ``days`` before ``now``."""
    start = now - timedelta(days=days)
    in_window = and_(
        Intervention.channel == "email",
        Intervention.sent_at.is_not(None),
        Intervention.sent_at >= start,
        Intervention.sent_at < now,
    )
    human_open, machine_open = (
        _has(webhooks.OPENED, machine=False),
        _has(webhooks.OPENED, machine=True),
    )
    human_click = _has(webhooks.CLICKED, machine=False)
    machine_click = _has(webhooks.CLICKED, machine=True)
    row = db.execute(
        select(
            func.count(),
            _count(Intervention.delivered_at.is_not(None)),
            _count(_has(webhooks.BOUNCED)),
            _count(_has(webhooks.COMPLAINED)),
            _count(Intervention.status == "failed"),
            _count(human_open),
            _count(and_(machine_open, ~human_open)),
            _count(human_click),
            _count(and_(machine_click, ~human_click)),
            _count(_has(webhooks.UNSUBSCRIBED)),
        ).where(in_window)
    ).one()
    machine_events = dict(
        db.execute(
            select(EmailEvent.event_type, func.count())
            .join(Intervention, Intervention.id == EmailEvent.intervention_id)
            .where(in_window, EmailEvent.is_machine.is_(True))
            .group_by(EmailEvent.event_type)
        ).all()
    )
    hard = db.scalar(
        select(func.count())
        .select_from(Suppression)
        .where(Suppression.reason == "bounce", Suppression.created_at >= start)
        .where(Suppression.created_at < now)
    )
    added = db.scalar(
        select(func.count())
        .select_from(Suppression)
        .where(Suppression.created_at >= start, Suppression.created_at < now)
    )
    return DeliverabilitySummary(
        start=start,
        end=now,
        days=days,
        sent=int(row[0]),
        delivered=int(row[1]),
        bounced=int(row[2]),
        hard_bounced=int(hard or 0),
        complained=int(row[3]),
        failed=int(row[4]),
        human_opened=int(row[5]),
        machine_only_opened=int(row[6]),
        human_clicked=int(row[7]),
        machine_only_clicked=int(row[8]),
        machine_open_events=int(machine_events.get(webhooks.OPENED, 0)),
        machine_click_events=int(machine_events.get(webhooks.CLICKED, 0)),
        unsubscribed=int(row[9]),
        suppressions_added=int(added or 0),
        daily=_daily(db, start=start, now=now, in_window=in_window),
    )


def _utc_day(db: Session, column: Any) -> ColumnElement[str]:
    """``YYYY-MM-DD`` of a UTC timestamp column, in SQL, on either engine."""
    if db.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", column)


def _daily(
    db: Session, *, start: datetime, now: datetime, in_window: ColumnElement[bool]
) -> list[DeliverabilityDay]:
    """Per UTC calendar day of sending: sent, delivered, human-opened, human-clicked."""
    day = _utc_day(db, Intervention.sent_at).label("day")
    rows = db.execute(
        select(
            day,
            func.count(),
            _count(Intervention.delivered_at.is_not(None)),
            _count(_has(webhooks.OPENED, machine=False)),
            _count(_has(webhooks.CLICKED, machine=False)),
        )
        .where(in_window)
        .group_by(day)
    ).all()
    by_day = {str(r[0]): r for r in rows}
    out: list[DeliverabilityDay] = []
    current = start.date()
    last = (now - timedelta(microseconds=1)).date()
    while current <= last:
        r = by_day.get(current.isoformat())
        counts = (int(r[1]), int(r[2]), int(r[3]), int(r[4])) if r else (0, 0, 0, 0)
        out.append(DeliverabilityDay(current, *counts))
        current += timedelta(days=1)
    return out
