"""Every query behind the tutor dashboards: compatibility metrics, lists, overview KPIs.

All aggregation happens in SQL (one grouped query per figure family, no per-row
Python loops, no N+1). Day buckets are 24-hour periods ending at ``now``:
bucket 0 is ``[now - 1 day, now)``, bucket 1 the day before, and so on, so the
sum of buckets 0-6 is exactly the "last 7 days" window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Float,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    cast,
    exists,
    extract,
    func,
    or_,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from tutorpulse.core.db import UTCDateTime
from tutorpulse.engagement.models import EngagementEvent, TutorHealth
from tutorpulse.sessions.models import TutorSession
from tutorpulse.tutors.models import Student, Tutor

DAY_MS = 86_400_000
POOR_FIRST_SESSION_RATING = 3.5
HIGH_RISK_LEVELS = ("high", "critical")


def _ts(value: datetime, name: str) -> Any:
    return bindparam(name, value, type_=UTCDateTime)


def days_before(db: Session, column: Any, now: datetime, name: str = "bucket_now") -> Any:
    """Whole days between ``column`` and ``now`` (0 for the last 24 hours), in SQL."""
    if db.get_bind().dialect.name == "sqlite":
        # julianday is a float; rounding to milliseconds makes day boundaries exact.
        ms = func.round((func.julianday(_ts(now, name)) - func.julianday(column)) * DAY_MS)
        return cast(ms, Integer) // DAY_MS
    return cast(func.floor(extract("epoch", _ts(now, name) - column) / 86_400), Integer)


def _fcount(condition: ColumnElement[bool]) -> Any:
    return func.sum(case((condition, 1), else_=0))


def _favg(value: Any) -> Any:
    return func.avg(cast(value, Float))


# --- compatibility endpoints -----------------------------------------------------------


@dataclass(frozen=True)
class DashboardFigures:
    total_active: int
    risk_scored: bool
    high_risk_active: int
    avg_engagement: float | None
    poor_first_session_tutors: int


def dashboard_figures(db: Session, *, since: datetime, until: datetime) -> DashboardFigures:
    """The four headline figures of /api/dashboard/metrics in one round trip."""
    active = select(func.count()).select_from(Tutor).where(Tutor.status == "active")
    scored = exists().where(TutorHealth.churn_probability.is_not(None))
    high = (
        select(func.count())
        .select_from(TutorHealth)
        .join(Tutor, Tutor.id == TutorHealth.tutor_id)
        .where(
            Tutor.status == "active",
            func.lower(TutorHealth.churn_risk_level).in_(HIGH_RISK_LEVELS),
        )
    )
    engagement = select(_favg(TutorSession.engagement_score)).where(
        TutorSession.status == "completed",
        TutorSession.engagement_score.is_not(None),
        TutorSession.scheduled_start >= _ts(since, "eng_since"),
        TutorSession.scheduled_start < _ts(until, "eng_until"),
    )
    poor_per_tutor = (
        select(TutorSession.tutor_id)
        .where(
            TutorSession.is_first_session == true(),
            TutorSession.status == "completed",
            TutorSession.student_rating.is_not(None),
        )
        .group_by(TutorSession.tutor_id)
        .having(_favg(TutorSession.student_rating) < POOR_FIRST_SESSION_RATING)
        .subquery()
    )
    poor = select(func.count()).select_from(poor_per_tutor)
    row = db.execute(
        select(
            active.scalar_subquery(),
            scored,
            high.scalar_subquery(),
            engagement.scalar_subquery(),
            poor.scalar_subquery(),
        )
    ).one()
    return DashboardFigures(
        total_active=int(row[0] or 0),
        risk_scored=bool(row[1]),
        high_risk_active=int(row[2] or 0),
        avg_engagement=float(row[3]) if row[3] is not None else None,
        poor_first_session_tutors=int(row[4] or 0),
    )


def list_dashboard_tutors(
    db: Session,
    *,
    risk_level: str | None,
    subject: str | None,
    status: str | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[tuple[Tutor, TutorHealth | None]], int]:
    """Tutors with their health snapshot, ordered over the whole result; and the total.

    Order: churn probability descending (unscored last), then tutor id.
    """
    query = select(Tutor, TutorHealth).outerjoin(TutorHealth, TutorHealth.tutor_id == Tutor.id)
    if risk_level:
        query = query.where(func.lower(TutorHealth.churn_risk_level) == risk_level.lower())
    if subject:
        query = query.where(func.lower(Tutor.primary_subject) == subject.lower())
    if status:
        query = query.where(Tutor.status == status)
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.execute(
        query.order_by(TutorHealth.churn_probability.desc().nulls_last(), Tutor.external_id)
        .limit(limit)
        .offset(offset)
    ).all()
    return [(r[0], r[1]) for r in rows], total


# --- tutor list page -------------------------------------------------------------------


def _live_stats(
    db: Session, *, now: datetime, tutor_id: int | None = None, tutor_ids: Any = None
) -> Any:
    """Per-tutor session figures over the 30 days before ``now`` (a subquery).

    ``tutor_id`` or ``tutor_ids`` (a subquery of ids) restrict it to those tutors.
    """
    start = TutorSession.scheduled_start
    in_7d = start >= _ts(now - timedelta(days=7), "live_7d")
    completed = TutorSession.status == "completed"
    due = TutorSession.status != "scheduled"
    query = select(
        TutorSession.tutor_id.label("tutor_id"),
        _fcount(and_(completed, in_7d)).label("sessions_7d"),
        _fcount(completed).label("sessions_30d"),
        _favg(case((completed, TutorSession.student_rating))).label("avg_rating_30d"),
        func.count(case((completed, TutorSession.student_rating))).label("ratings_30d"),
        _fcount(TutorSession.status == "tutor_no_show").label("no_shows_30d"),
        _fcount(TutorSession.status == "rescheduled").label("reschedules_30d"),
        _fcount(due).label("due_30d"),
    ).where(
        start >= _ts(now - timedelta(days=30), "live_30d"),
        start < _ts(now, "live_now"),
    )
    if tutor_id is not None:
        query = query.where(TutorSession.tutor_id == tutor_id)
    if tutor_ids is not None:
        query = query.where(TutorSession.tutor_id.in_(tutor_ids))
    return query.group_by(TutorSession.tutor_id).subquery("live")


def _rate(numerator: Any, denominator: Any) -> Any:
    return cast(numerator, Float) / func.nullif(denominator, 0)


@dataclass(frozen=True)
class TutorListFilter:
    q: str | None = None
    status: str | None = None
    subject: str | None = None
    certification: str | None = None


def _filtered(query: Select[Any], flt: TutorListFilter) -> Select[Any]:
    if flt.q:
        needle = flt.q.strip()
        query = query.where(
            or_(
                Tutor.external_id.icontains(needle, autoescape=True),
                Tutor.name.icontains(needle, autoescape=True),
                Tutor.email.icontains(needle, autoescape=True),
            )
        )
    if flt.status:
        query = query.where(Tutor.status == flt.status)
    if flt.subject:
        query = query.where(func.lower(Tutor.primary_subject) == flt.subject.lower())
    if flt.certification:
        query = query.where(Tutor.certification_level == flt.certification)
    return query


def list_tutors(
    db: Session,
    *,
    flt: TutorListFilter,
    sort: str,
    descending: bool,
    limit: int,
    offset: int,
    now: datetime,
) -> tuple[list[dict[str, Any]], int]:
    """One page of tutors with their health figures, sorted in SQL, and the total count.

    The 7/30-day figures come from the health snapshot the engagement refresh keeps
    current, so sorting by any of them costs no aggregation. ``now`` is unused by
    the query and kept for the callers' signature.
    """
    columns: dict[str, Any] = {
        "tutor_id": Tutor.external_id,
        "name": Tutor.name,
        "email": Tutor.email,
        "primary_subject": Tutor.primary_subject,
        "certification_level": Tutor.certification_level,
        "status": Tutor.status,
        "joined_on": Tutor.joined_on,
        "last_login_at": Tutor.last_login_at,
        "sessions_7d": func.coalesce(TutorHealth.sessions_7d, 0),
        "sessions_30d": func.coalesce(TutorHealth.sessions_30d, 0),
        "avg_rating_30d": TutorHealth.avg_rating_30d,
        "tutor_no_show_rate_30d": TutorHealth.tutor_no_show_rate_30d,
        "churn_probability": TutorHealth.churn_probability,
        "churn_risk_level": TutorHealth.churn_risk_level,
        "priority_score": TutorHealth.priority_score,
    }
    base = (
        select(*[c.label(k) for k, c in columns.items()])
        .select_from(Tutor)
        .outerjoin(TutorHealth, TutorHealth.tutor_id == Tutor.id)
    )
    base = _filtered(base, flt)
    total = db.scalar(select(func.count()).select_from(_filtered(select(Tutor.id), flt).subquery()))
    key = columns[sort]
    order = key.desc().nulls_last() if descending else key.asc().nulls_last()
    rows = db.execute(base.order_by(order, Tutor.external_id).limit(limit).offset(offset))
    return [dict(r._mapping) for r in rows], int(total or 0)


def distinct_values(db: Session) -> dict[str, list[str]]:
    """Filter choices present in the data: statuses, primary subjects, certification levels."""
    out: dict[str, list[str]] = {}
    for key, column in (
        ("status", Tutor.status),
        ("subject", Tutor.primary_subject),
        ("certification", Tutor.certification_level),
    ):
        out[key] = [
            v for v in db.scalars(select(column).distinct().order_by(column)) if v is not None
        ]
    return out


# --- one tutor ------------------------------------------------------------------------


def get_tutor_by_external_id(db: Session, *, external_id: str) -> Tutor | None:
    return db.scalar(select(Tutor).where(Tutor.external_id == external_id))


def get_health(db: Session, *, tutor_id: int) -> TutorHealth | None:
    return db.get(TutorHealth, tutor_id)


def tutor_live_stats(db: Session, *, tutor_id: int, now: datetime) -> dict[str, Any]:
    live = _live_stats(db, now=now, tutor_id=tutor_id)
    row = db.execute(select(live)).mappings().first()
    return dict(row) if row else {}


def first_session_stats(db: Session, *, tutor_id: int) -> tuple[int, float | None]:
    """Number of rated first sessions (completed) and their mean rating, all time."""
    row = db.execute(
        select(func.count(TutorSession.student_rating), _favg(TutorSession.student_rating)).where(
            TutorSession.tutor_id == tutor_id,
            TutorSession.is_first_session == true(),
            TutorSession.status == "completed",
        )
    ).one()
    return int(row[0] or 0), (float(row[1]) if row[1] is not None else None)


def weekly_ratings(
    db: Session, *, tutor_id: int, now: datetime, weeks: int
) -> list[tuple[int, int, float, float]]:
    """(weeks before now, n, sum, sum of squares) of student ratings of completed sessions."""
    rated = (
        select(
            (days_before(db, TutorSession.scheduled_start, now) // 7).label("week"),
            cast(TutorSession.student_rating, Float).label("rating"),
        )
        .where(
            TutorSession.tutor_id == tutor_id,
            TutorSession.status == "completed",
            TutorSession.student_rating.is_not(None),
            TutorSession.scheduled_start >= _ts(now - timedelta(weeks=weeks), "wk_start"),
            TutorSession.scheduled_start < _ts(now, "wk_end"),
        )
        .subquery()
    )
    rows = db.execute(
        select(
            rated.c.week,
            func.count(),
            func.sum(rated.c.rating),
            func.sum(rated.c.rating * rated.c.rating),
        ).group_by(rated.c.week)
    ).all()
    return [(int(r[0]), int(r[1]), float(r[2]), float(r[3])) for r in rows]


def list_events(
    db: Session, *, tutor_id: int, limit: int, offset: int
) -> tuple[Sequence[EngagementEvent], int]:
    total = db.scalar(
        select(func.count())
        .select_from(EngagementEvent)
        .where(EngagementEvent.tutor_id == tutor_id)
    )
    rows = db.scalars(
        select(EngagementEvent)
        .where(EngagementEvent.tutor_id == tutor_id)
        .order_by(EngagementEvent.occurred_at.desc(), EngagementEvent.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return rows, int(total or 0)


# --- overview KPIs ------------------------------------------------------------------------


def roster_sizes(db: Session, *, at: Sequence[datetime]) -> list[int]:
    """Tutors on the roster at each instant: joined by then and not churned by then.

    A tutor marked churned without a churn time is treated as gone at every instant.
    """
    unknown_churn = and_(Tutor.status == "churned", Tutor.churned_at.is_(None))
    sums = []
    for i, instant in enumerate(at):
        on_roster = and_(
            Tutor.joined_on <= bindparam(f"joined_{i}", instant.date(), type_=Tutor.joined_on.type),
            ~unknown_churn,
            or_(Tutor.churned_at.is_(None), Tutor.churned_at > _ts(instant, f"churn_{i}")),
        )
        sums.append(_fcount(on_roster))
    row = db.execute(select(*sums).select_from(Tutor)).one()
    return [int(v or 0) for v in row]


def _activity(db: Session, *, start: datetime, end: datetime) -> Any:
    """(tutor_id, at) of logins and completed sessions in [start, end)."""
    logins = select(
        EngagementEvent.tutor_id.label("tutor_id"), EngagementEvent.occurred_at.label("at")
    ).where(
        EngagementEvent.event_type == "login",
        EngagementEvent.occurred_at >= _ts(start, "act_ev_start"),
        EngagementEvent.occurred_at < _ts(end, "act_ev_end"),
    )
    sessions = select(
        TutorSession.tutor_id.label("tutor_id"), TutorSession.scheduled_start.label("at")
    ).where(
        TutorSession.status == "completed",
        TutorSession.scheduled_start >= _ts(start, "act_s_start"),
        TutorSession.scheduled_start < _ts(end, "act_s_end"),
    )
    return union_all(logins, sessions).subquery("activity")


def active_tutors(db: Session, *, now: datetime, days: int) -> tuple[dict[int, int], int, int]:
    """Distinct active tutors per day bucket, in the last 7 days and in the 7 days before."""
    act = _activity(db, start=now - timedelta(days=days), end=now)
    bucketed = select(act.c.tutor_id, days_before(db, act.c.at, now).label("bucket")).subquery(
        "bucketed"
    )
    daily = db.execute(
        select(bucketed.c.bucket, func.count(func.distinct(bucketed.c.tutor_id))).group_by(
            bucketed.c.bucket
        )
    ).all()
    # The window counts need only 14 days, so they scan half the rows.
    recent = _activity(db, start=now - timedelta(days=14), end=now)
    boundary = _ts(now - timedelta(days=7), "active_boundary")
    windows = db.execute(
        select(
            func.count(func.distinct(case((recent.c.at >= boundary, recent.c.tutor_id)))),
            func.count(func.distinct(case((recent.c.at < boundary, recent.c.tutor_id)))),
        )
    ).one()
    return {int(k): int(v) for k, v in daily}, int(windows[0] or 0), int(windows[1] or 0)


@dataclass(frozen=True)
class SessionDay:
    bucket: int
    due: int
    completed: int
    tutor_no_shows: int
    rescheduled: int


def session_days(db: Session, *, now: datetime, days: int) -> list[SessionDay]:
    """Per day bucket: sessions with an outcome, completed, tutor no-shows, rescheduled."""
    start = TutorSession.scheduled_start
    bucketed = (
        select(days_before(db, start, now).label("bucket"), TutorSession.status.label("status"))
        .where(start >= _ts(now - timedelta(days=days), "sd_start"), start < _ts(now, "sd_end"))
        .subquery("bucketed")
    )
    status = bucketed.c.status
    rows = db.execute(
        select(
            bucketed.c.bucket,
            _fcount(status != "scheduled"),
            _fcount(status == "completed"),
            _fcount(status == "tutor_no_show"),
            _fcount(status == "rescheduled"),
        ).group_by(bucketed.c.bucket)
    ).all()
    return [SessionDay(*(int(v or 0) for v in r)) for r in rows]


def first_pair_starts(db: Session, pairs: list[tuple[str, str]]) -> dict[int, datetime]:
    """Per tutor id: earliest start of its sessions with the given (tutor, student) pairs."""
    if not pairs:
        return {}
    student = aliased(Student)
    rows = db.execute(
        select(TutorSession.tutor_id, func.min(TutorSession.scheduled_start))
        .join(Tutor, Tutor.id == TutorSession.tutor_id)
        .join(student, student.id == TutorSession.student_id)
        .where(tuple_(Tutor.external_id, student.external_id).in_(pairs))
        .group_by(TutorSession.tutor_id)
    ).all()
    return {int(t): s for t, s in rows}
