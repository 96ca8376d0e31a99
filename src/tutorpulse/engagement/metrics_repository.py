"""Queries behind the engagement metrics: small reads of rollups and snapshots."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Integer, and_, case, cast, func, or_, select
from sqlalchemy.orm import Session

from tutorpulse.engagement.models import (
    EngagementEvent,
    EngagementState,
    PlatformDaily,
    PlatformWeekly,
    TutorDaily,
    TutorHealth,
)
from tutorpulse.tutors.models import Tutor

# metricType → (daily sum column, daily count column); anything else is rejected upstream.
METRIC_COLUMNS: dict[str, tuple[str, str]] = {
    "engagement": ("engagement_sum", "engagement_count"),
    "empathy": ("empathy_sum", "empathy_count"),
    "clarity": ("clarity_sum", "clarity_count"),
    "satisfaction": ("satisfaction_sum", "satisfaction_count"),
    "rating": ("rating_sum", "rating_count"),
}


def tutor_window_sums(
    db: Session, *, tutor_id: int, metric: str, start: date, end: date
) -> tuple[float, int]:
    sum_col, count_col = METRIC_COLUMNS[metric]
    row = db.execute(
        select(
            func.coalesce(func.sum(getattr(TutorDaily, sum_col)), 0.0),
            func.coalesce(func.sum(getattr(TutorDaily, count_col)), 0),
        ).where(TutorDaily.tutor_id == tutor_id, TutorDaily.day.between(start, end))
    ).one()
    return float(row[0]), int(row[1])


def platform_window_sums(db: Session, *, metric: str, start: date, end: date) -> tuple[float, int]:
    sum_col, count_col = METRIC_COLUMNS[metric]
    row = db.execute(
        select(
            func.coalesce(func.sum(getattr(PlatformDaily, sum_col)), 0.0),
            func.coalesce(func.sum(getattr(PlatformDaily, count_col)), 0),
        ).where(PlatformDaily.day.between(start, end))
    ).one()
    return float(row[0]), int(row[1])


def platform_days(db: Session, *, start: date, end: date) -> Sequence[PlatformDaily]:
    return db.scalars(
        select(PlatformDaily)
        .where(PlatformDaily.day.between(start, end))
        .order_by(PlatformDaily.day)
    ).all()


def platform_weeks(db: Session, *, start: date, end: date) -> Sequence[PlatformWeekly]:
    return db.scalars(
        select(PlatformWeekly)
        .where(PlatformWeekly.week_start.between(start, end))
        .order_by(PlatformWeekly.week_start)
    ).all()


def latest_platform_day(db: Session) -> date | None:
    value = db.scalar(select(func.max(PlatformDaily.day)))
    return value if value is None or isinstance(value, date) else date.fromisoformat(str(value))


def platform_computed_at(db: Session) -> datetime | None:
    return db.scalar(select(func.max(PlatformDaily.computed_at)))


def events_page(
    db: Session,
    *,
    tutor_id: int | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    after: tuple[datetime, int] | None,
) -> list[tuple[int, str, str, datetime, dict[str, Any]]]:
    """Events newest first (keyset paging on (occurred_at, id)), with the tutor's external id."""
    stmt = select(
        EngagementEvent.id,
        Tutor.external_id,
        EngagementEvent.event_type,
        EngagementEvent.occurred_at,
        EngagementEvent.data,
    ).join(Tutor, Tutor.id == EngagementEvent.tutor_id)
    if tutor_id is not None:
        stmt = stmt.where(EngagementEvent.tutor_id == tutor_id)
    if since is not None:
        stmt = stmt.where(EngagementEvent.occurred_at >= since)
    if until is not None:
        stmt = stmt.where(EngagementEvent.occurred_at <= until)
    if after is not None:
        stamp, last_id = after
        stmt = stmt.where(
            or_(
                EngagementEvent.occurred_at < stamp,
                and_(EngagementEvent.occurred_at == stamp, EngagementEvent.id < last_id),
            )
        )
    stmt = stmt.order_by(EngagementEvent.occurred_at.desc(), EngagementEvent.id.desc()).limit(limit)
    return [(int(r[0]), str(r[1]), str(r[2]), r[3], dict(r[4] or {})) for r in db.execute(stmt)]


def count_events(
    db: Session, *, tutor_id: int | None, since: datetime | None, until: datetime | None
) -> int:
    stmt = select(func.count()).select_from(EngagementEvent)
    if tutor_id is not None:
        stmt = stmt.where(EngagementEvent.tutor_id == tutor_id)
    if since is not None:
        stmt = stmt.where(EngagementEvent.occurred_at >= since)
    if until is not None:
        stmt = stmt.where(EngagementEvent.occurred_at <= until)
    return int(db.scalar(stmt) or 0)


def tutor_id_for(db: Session, external_id: str) -> int | None:
    value = db.scalar(select(Tutor.id).where(Tutor.external_id == external_id))
    return None if value is None else int(value)


# Days-since-login buckets: (label, low inclusive, high inclusive or None).
LOGIN_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0", 0, 0),
    ("1-2", 1, 2),
    ("3-6", 3, 6),
    ("7-13", 7, 13),
    ("14-29", 14, 29),
    ("30+", 30, None),
)
STREAK_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0", 0, 0),
    ("1", 1, 1),
    ("2-3", 2, 3),
    ("4-6", 4, 6),
    ("7-13", 7, 13),
    ("14+", 14, None),
)


def _bucket_expr(column: Any, buckets: tuple[tuple[str, int, int | None], ...]) -> Any:
    whens = []
    for label, low, high in buckets:
        cond = column >= low if high is None else and_(column >= low, column <= high)
        whens.append((cond, label))
    return case(*whens, else_="never")


def _active_tutor_filter() -> Any:
    return Tutor.status != "churned"


def _ordered(
    counts: dict[str, int], buckets: tuple[tuple[str, int, int | None], ...]
) -> dict[str, int]:
    order = [b[0] for b in buckets] + ["never"]
    return {k: counts.get(k, 0) for k in order if k in counts or k != "never"}


def health_summary(db: Session) -> dict[str, Any]:
    """Streak summary and the streak / days-since-login distributions of non-churned tutors.

    One scan of the health table grouped by both buckets (at most 7 × 7 groups);
    the figures are then summed from the groups.
    """
    streak = TutorHealth.current_login_streak
    login_bucket = _bucket_expr(TutorHealth.days_since_last_login, LOGIN_BUCKETS).label("lb")
    streak_bucket = _bucket_expr(streak, STREAK_BUCKETS).label("sb")
    rows = db.execute(
        select(
            login_bucket,
            streak_bucket,
            func.count(),
            func.sum(streak),
            func.count(streak),
            func.max(streak),
            func.max(TutorHealth.longest_login_streak),
            func.sum(cast(streak >= 7, Integer)),
        )
        .select_from(TutorHealth)
        .join(Tutor, Tutor.id == TutorHealth.tutor_id)
        .where(_active_tutor_filter())
        .group_by(login_bucket, streak_bucket)
    ).all()
    logins: dict[str, int] = {}
    streaks: dict[str, int] = {}
    tutors = streak_sum = streak_n = at_least_7 = max_current = max_longest = 0
    for lb, sb, n, total, counted, top, longest, seven in rows:
        logins[str(lb)] = logins.get(str(lb), 0) + int(n)
        streaks[str(sb)] = streaks.get(str(sb), 0) + int(n)
        tutors += int(n)
        streak_sum += int(total or 0)
        streak_n += int(counted or 0)
        at_least_7 += int(seven or 0)
        max_current = max(max_current, int(top or 0))
        max_longest = max(max_longest, int(longest or 0))
    return {
        "streaks": {
            "tutors": tutors,
            "avgCurrent": round(streak_sum / streak_n, 2) if streak_n else None,
            "maxCurrent": max_current,
            "maxLongest": max_longest,
            "atLeast7": at_least_7,
        },
        "streakDistribution": _ordered(streaks, STREAK_BUCKETS),
        "daysSinceLoginDistribution": _ordered(logins, LOGIN_BUCKETS),
    }


def streak_leaders(db: Session, *, limit: int) -> list[dict[str, Any]]:
    rows = db.execute(
        select(
            Tutor.external_id,
            Tutor.name,
            TutorHealth.current_login_streak,
            TutorHealth.longest_login_streak,
            TutorHealth.last_login_at,
        )
        .join(Tutor, Tutor.id == TutorHealth.tutor_id)
        .where(_active_tutor_filter(), TutorHealth.current_login_streak > 0)
        .order_by(
            TutorHealth.current_login_streak.desc(),
            TutorHealth.longest_login_streak.desc(),
            Tutor.external_id,
        )
        .limit(limit)
    ).all()
    return [
        {
            "tutorId": r[0],
            "name": r[1],
            "currentStreak": int(r[2]),
            "longestStreak": int(r[3]),
            "lastLoginAt": r[4],
        }
        for r in rows
    ]


def _days_between(db: Session, later: Any, earlier: Any) -> Any:
    if db.get_bind().dialect.name == "sqlite":
        return func.julianday(later) - func.julianday(earlier)
    return later - earlier


def _month(db: Session, column: Any) -> Any:
    if db.get_bind().dialect.name == "sqlite":
        return func.strftime("%Y-%m", column)
    return func.to_char(column, "YYYY-MM")


def activation_by_cohort(db: Session, *, joined_from: date, today: date) -> list[dict[str, Any]]:
    """Per join month: tutors, and among those old enough, first completed session ≤ 7/30 days.

    A tutor counts in the 7-day (30-day) denominator only once 7 (30) days have
    passed since joining, so young cohorts are not shown as failing to activate.
    """
    gap = _days_between(db, TutorHealth.first_completed_on, Tutor.joined_on)
    age = _days_between(db, today, Tutor.joined_on)
    month = _month(db, Tutor.joined_on).label("month")

    def share(window: int) -> tuple[Any, Any]:
        mature = cast(age >= window, Integer)
        done = cast(and_(age >= window, gap.is_not(None), gap <= window), Integer)
        return func.sum(mature), func.sum(done)

    m7, a7 = share(7)
    m30, a30 = share(30)
    rows = db.execute(
        select(month, func.count(), m7, a7, m30, a30)
        .select_from(Tutor)
        .outerjoin(TutorHealth, TutorHealth.tutor_id == Tutor.id)
        .where(Tutor.joined_on >= joined_from)
        .group_by(month)
        .order_by(month)
    ).all()
    return [
        {
            "cohort": str(r[0]),
            "tutors": int(r[1]),
            "eligible7d": int(r[2] or 0),
            "activated7d": int(r[3] or 0),
            "eligible30d": int(r[4] or 0),
            "activated30d": int(r[5] or 0),
        }
        for r in rows
    ]


def platform_refresh_stamp(db: Session) -> str | None:
    """When the refresh last recomputed platform totals (None: never, or unknown)."""
    row = db.get(EngagementState, "platform")
    value = None if row is None else (row.value or {}).get("version")
    return None if value is None else str(value)
