"""Tutor dashboards: compatibility metrics, tutor lists, one tutor, overview KPIs.

Every figure is computed live in SQL by ``tutors.repository``; this module
turns the aggregates into schemas (ratios, changes, intervals). It never commits.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pandas as pd
import pyarrow as pa
from scipy import stats as scipy_stats
from sqlalchemy.orm import Session

from tutorpulse.core.errors import Invalid, NotFound
from tutorpulse.engagement import service as engagement_service
from tutorpulse.engagement.models import TutorHealth
from tutorpulse.sessions import repository as sessions_repository
from tutorpulse.sessions.schemas import SessionPage, SessionRead
from tutorpulse.tutors import repository as repo
from tutorpulse.tutors.contract import SESSIONS, ParsedTable, check_references, parse_table
from tutorpulse.tutors.import_writers import Written, ids_for, write_sessions
from tutorpulse.tutors.models import TUTOR_STATUSES, Student, Tutor
from tutorpulse.tutors.schemas import (
    HEALTH_FIELDS,
    RISK_LEVELS,
    TUTOR_SORTS,
    DashboardMetrics,
    DashboardTutor,
    DashboardTutorPage,
    HealthSnapshot,
    Kpi,
    KpiPoint,
    Overview,
    RatingWeek,
    TutorDetail,
    TutorEvent,
    TutorEventPage,
    TutorListPage,
    TutorListRow,
    TutorLiveStats,
    TutorProfile,
    camel,
)

ENGAGEMENT_WINDOW_DAYS = 30
OVERVIEW_DAYS = 28
KPI_WINDOW_DAYS = 7
RATING_WEEKS = 12

_SORT_COLUMNS = {
    camel(name): name
    for name in (
        "tutor_id",
        "name",
        "email",
        "primary_subject",
        "certification_level",
        "status",
        "joined_on",
        "last_login_at",
        "sessions_7d",
        "sessions_30d",
        "avg_rating_30d",
        "tutor_no_show_rate_30d",
        "churn_probability",
        "priority_score",
    )
}
assert set(_SORT_COLUMNS) == set(TUTOR_SORTS)


# --- session ingestion (shared with the file import) ---------------------------------------


class _NoProgress:
    def stage(self, name: str, total: int) -> None:
        return None

    def advance(self, rows: int) -> None:
        return None


def parse_session_rows(db: Session, rows: list[dict[str, str | None]]) -> ParsedTable:
    """Validate session rows (text values, contract or camelCase names) like a sessions file.

    Tutor and student references are checked against the database. Row numbers in
    the errors are the item indexes.
    """
    names = sorted({k for row in rows for k in row})
    table = pa.table(
        {name: pa.array([row.get(name) for row in rows], pa.string()) for name in names}
    )
    parsed = parse_table(SESSIONS, table, file_label="sessions", line_offset=0)
    conn = db.connection()
    for column, model, target in (("tutor_id", Tutor, "tutor"), ("student_id", Student, "student")):
        if column in parsed.frame:
            wanted = sorted(set(parsed.frame[column].dropna().astype(str)))
            check_references(parsed, column, ids_for(conn, model, wanted).index, target)
    return parsed


def write_session_rows(db: Session, frame: pd.DataFrame, *, now: datetime) -> Written:
    """Upsert validated session rows (the importer's writer, ids resolved for these rows)."""
    conn = db.connection()
    return write_sessions(
        conn,
        frame,
        now,
        _NoProgress(),
        tutor_ids=ids_for(conn, Tutor, sorted(set(frame["tutor_id"].astype(str)))),
        student_ids=ids_for(conn, Student, sorted(set(frame["student_id"].astype(str)))),
    )


def tutor_ids_for(db: Session, external_ids: list[str]) -> dict[str, int]:
    ids = ids_for(db.connection(), Tutor, external_ids)
    return {str(k): int(v) for k, v in ids.items()}


def first_pair_starts(db: Session, pairs: list[tuple[str, str]]) -> dict[int, datetime]:
    """Per tutor: the earliest start among its sessions with these (tutor, student) pairs."""
    return repo.first_pair_starts(db, pairs)


# --- compatibility endpoints --------------------------------------------------------------


def get_dashboard_metrics(db: Session, *, now: datetime) -> DashboardMetrics:
    """The original ``/api/dashboard/metrics`` figures, computed live.

    ``high_risk_count`` is None (and ``risk_status`` "not yet scored") until at
    least one tutor has a churn probability: no number is invented.
    """
    figures = repo.dashboard_figures(
        db, since=now - timedelta(days=ENGAGEMENT_WINDOW_DAYS), until=now
    )
    return DashboardMetrics(
        total_tutors=figures.total_active,
        high_risk_count=figures.high_risk_active if figures.risk_scored else None,
        risk_status="scored" if figures.risk_scored else "not yet scored",
        avg_engagement=figures.avg_engagement,
        poor_first_session_count=figures.poor_first_session_tutors,
        as_of=now,
    )


def _profile(tutor: Tutor) -> TutorProfile:
    return TutorProfile(
        tutor_id=tutor.external_id,
        name=tutor.name,
        email=tutor.email,
        timezone=tutor.timezone,
        primary_subject=tutor.primary_subject,
        subjects=list(tutor.subjects or []),
        certification_level=tutor.certification_level,
        status=tutor.status,
        joined_on=tutor.joined_on,
        churned_at=tutor.churned_at,
        last_login_at=tutor.last_login_at,
    )


def _health(health: TutorHealth | None) -> HealthSnapshot | None:
    if health is None:
        return None
    values = {name: getattr(health, name) for name in HEALTH_FIELDS}
    return HealthSnapshot(health_as_of=health.as_of, **values)


def _check_choice(field: str, value: str | None, allowed: tuple[str, ...]) -> None:
    if value is not None and value.lower() not in allowed:
        raise Invalid.field(field, f"must be one of {', '.join(allowed)}")


def list_dashboard_tutors(
    db: Session,
    *,
    risk_level: str | None = None,
    subject: str | None = None,
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> DashboardTutorPage:
    """Tutors with health fields, sorted by churn probability over the whole result."""
    _check_choice("risk_level", risk_level, RISK_LEVELS)
    _check_choice("status", status, TUTOR_STATUSES)
    rows, total = repo.list_dashboard_tutors(
        db, risk_level=risk_level, subject=subject, status=status, limit=limit, offset=offset
    )
    tutors = []
    for tutor, health in rows:
        snapshot = _health(health)
        merged: dict[str, Any] = _profile(tutor).model_dump()
        if snapshot is not None:
            merged.update(snapshot.model_dump())
        tutors.append(DashboardTutor(**merged))
    return DashboardTutorPage(tutors=tutors, total=total, limit=limit, offset=offset)


# --- tutor list --------------------------------------------------------------------------


def list_tutors(
    db: Session,
    *,
    now: datetime,
    q: str | None = None,
    status: str | None = None,
    subject: str | None = None,
    certification: str | None = None,
    sort: str = "tutorId",
    order: str = "asc",
    limit: int = 25,
    offset: int = 0,
) -> TutorListPage:
    """Search, filter, sort and page tutors, with live 30-day figures as of ``now``."""
    if sort not in _SORT_COLUMNS:
        raise Invalid.field("sort", f"must be one of {', '.join(TUTOR_SORTS)}")
    _check_choice("order", order, ("asc", "desc"))
    rows, total = repo.list_tutors(
        db,
        flt=repo.TutorListFilter(
            q=q or None,
            status=status or None,
            subject=subject or None,
            certification=certification or None,
        ),
        sort=_SORT_COLUMNS[sort],
        descending=order == "desc",
        limit=limit,
        offset=offset,
        now=now,
    )
    return TutorListPage(
        tutors=[TutorListRow(**row) for row in rows],
        total=total,
        limit=limit,
        offset=offset,
        sort=sort,
        order="desc" if order == "desc" else "asc",
        as_of=now,
    )


def list_filter_choices(db: Session) -> dict[str, list[str]]:
    """Statuses, primary subjects and certification levels present in the data."""
    return repo.distinct_values(db)


# --- one tutor ------------------------------------------------------------------------------


def get_tutor_or_raise(db: Session, *, tutor_id: str) -> Tutor:
    tutor = repo.get_tutor_by_external_id(db, external_id=tutor_id)
    if tutor is None:
        raise NotFound(f"Tutor {tutor_id} not found")
    return tutor


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def compute_rating_weeks(
    sums: list[tuple[int, int, float, float]], *, now: datetime, weeks: int
) -> list[RatingWeek]:
    """Weekly mean rating with a 95% t-interval (mean ± t₀.₉₇₅,ₙ₋₁·s/√n), oldest first."""
    by_week = {w: (n, s, ss) for w, n, s, ss in sums}
    out = []
    for w in range(weeks - 1, -1, -1):
        end = now - timedelta(weeks=w)
        n, total, squares = by_week.get(w, (0, 0.0, 0.0))
        mean = total / n if n else None
        low = high = None
        if mean is not None and n > 1:
            variance = max((squares - n * mean * mean) / (n - 1), 0.0)
            half = float(scipy_stats.t.ppf(0.975, n - 1)) * math.sqrt(variance / n)
            low, high = mean - half, mean + half
        out.append(
            RatingWeek(
                start=end - timedelta(weeks=1), end=end, n=n, mean=mean, ci_low=low, ci_high=high
            )
        )
    return out


def get_tutor_detail(db: Session, *, tutor_id: str, now: datetime) -> TutorDetail:
    """Profile, live 30-day figures, health snapshot and weekly ratings. Raises NotFound."""
    tutor = get_tutor_or_raise(db, tutor_id=tutor_id)
    live = repo.tutor_live_stats(db, tutor_id=tutor.id, now=now)
    due = int(live.get("due_30d") or 0)
    first_n, first_avg = repo.first_session_stats(db, tutor_id=tutor.id)
    stats = TutorLiveStats(
        as_of=now,
        sessions_7d=int(live.get("sessions_7d") or 0),
        sessions_30d=int(live.get("sessions_30d") or 0),
        sessions_with_outcome_30d=due,
        avg_rating_30d=live.get("avg_rating_30d"),
        ratings_30d=int(live.get("ratings_30d") or 0),
        tutor_no_show_rate_30d=_ratio(int(live.get("no_shows_30d") or 0), due),
        reschedule_rate_30d=_ratio(int(live.get("reschedules_30d") or 0), due),
        first_session_count=first_n,
        first_session_avg_rating=first_avg,
    )
    weeks = repo.weekly_ratings(db, tutor_id=tutor.id, now=now, weeks=RATING_WEEKS)
    return TutorDetail(
        profile=_profile(tutor),
        live=stats,
        health=_health(repo.get_health(db, tutor_id=tutor.id)),
        ratings_by_week=compute_rating_weeks(weeks, now=now, weeks=RATING_WEEKS),
    )


def list_tutor_sessions(db: Session, *, tutor_id: str, limit: int, offset: int) -> SessionPage:
    tutor = get_tutor_or_raise(db, tutor_id=tutor_id)
    rows, total = sessions_repository.list_sessions_for_tutor(
        db, tutor_id=tutor.id, limit=limit, offset=offset
    )
    return SessionPage(
        sessions=[SessionRead(**r) for r in rows], total=total, limit=limit, offset=offset
    )


def list_tutor_events(db: Session, *, tutor_id: str, limit: int, offset: int) -> TutorEventPage:
    tutor = get_tutor_or_raise(db, tutor_id=tutor_id)
    rows, total = repo.list_events(db, tutor_id=tutor.id, limit=limit, offset=offset)
    events = [
        TutorEvent(event_type=e.event_type, occurred_at=e.occurred_at, data=e.data or {})
        for e in rows
    ]
    return TutorEventPage(events=events, total=total, limit=limit, offset=offset)


# --- overview -----------------------------------------------------------------------------

_HOW = {
    "tutors": (
        "Tutors on the roster at the as-of time: joined on or before that day and not "
        "churned by then (paused tutors included). Change: against the roster 7 days "
        "earlier. Line: roster size at the end of each of the last 28 days."
    ),
    "active_7d": (
        "Distinct tutors with a login or a completed session in the last 7 complete local "
        "days (each tutor's own calendar day; today is left out). Change: against the same "
        "count 7 days earlier. Line: tutors active each day (DAU), from the rollups."
    ),
    "sessions_7d": (
        "Completed sessions whose scheduled start falls in the last 7 local days. "
        "Change: against the 7 days before that. Line: completed sessions per day."
    ),
    "completion_rate": (
        "Completed sessions ÷ sessions with a recorded outcome (every status except a "
        "still-'scheduled' booking), by scheduled local day, last 7 days. Change in "
        "percentage points against the 7 days before. Line: the daily rate."
    ),
    "tutor_no_show_rate": (
        "Tutor no-shows ÷ sessions with a recorded outcome, by scheduled local day, last "
        "7 days. Change in percentage points against the 7 days before. Line: daily rate."
    ),
    "reschedule_rate": (
        "Rescheduled sessions (by tutor or student) ÷ sessions with a recorded outcome, "
        "by scheduled local day, last 7 days. Change in percentage points against the 7 "
        "days before. Line: daily rate."
    ),
}


def _count_change(value: float | None, previous: float | None) -> float | None:
    if value is None or not previous:
        return None
    return (value - previous) / previous * 100.0


def _rate_change(value: float | None, previous: float | None) -> float | None:
    if value is None or previous is None:
        return None
    return (value - previous) * 100.0


def _points(now: datetime, values: list[float | None]) -> list[KpiPoint]:
    days = len(values)
    return [
        KpiPoint(
            start=now - timedelta(days=days - i), end=now - timedelta(days=days - i - 1), value=v
        )
        for i, v in enumerate(values)
    ]


def get_overview(db: Session, *, now: datetime) -> Overview:
    """Six KPIs over the last 7 complete local days with change and a 28-day daily line.

    Activity and session figures come from the engagement rollups (``platform_daily``,
    kept current by the refresh), so the page reads a few dozen rows. Today is left
    out: a partial day would bias every week-over-week change downwards.
    """
    days = OVERVIEW_DAYS
    window = KPI_WINDOW_DAYS
    roster = repo.roster_sizes(db, at=[now - timedelta(days=days - i) for i in range(days + 1)])
    last_day = engagement_service.last_complete_day(db, now=now)
    rows = engagement_service.platform_days(db, days=days, end=last_day)
    by_pos = {days - 1 - (last_day - r.day).days: r for r in rows}
    day_starts = [
        datetime.combine(last_day - timedelta(days=days - 1 - p), time.min, tzinfo=UTC)
        for p in range(days)
    ]

    def day_points(values: list[float | None]) -> list[KpiPoint]:
        return [
            KpiPoint(start=start, end=start + timedelta(days=1), value=v)
            for start, v in zip(day_starts, values, strict=True)
        ]

    def value(pos: int, attr: str) -> int:
        row = by_pos.get(pos)
        return int(getattr(row, attr)) if row is not None else 0

    def day_sum(attr: str, first: int, last: int) -> int:
        return sum(value(p, attr) for p in range(first, last + 1))

    def window_rate(attr: str, first: int) -> float | None:
        return _ratio(
            day_sum(attr, first, first + window - 1),
            day_sum("sessions_due", first, first + window - 1),
        )

    def daily(attr: str) -> list[float | None]:
        return [float(value(p, attr)) for p in range(days)]

    def daily_rate(attr: str) -> list[float | None]:
        return [_ratio(value(p, attr), value(p, "sessions_due")) for p in range(days)]

    last, prev = days - window, days - 2 * window
    kpis = [
        Kpi(
            key="tutors",
            label="Tutors on roster",
            unit="count",
            value=roster[days],
            previous=roster[days - window],
            change=_count_change(roster[days], roster[days - window]),
            change_unit="%",
            better="up",
            how=_HOW["tutors"],
            series_label="Roster size at the end of each day",
            series=_points(now, [float(v) for v in roster[1:]]),
        ),
        Kpi(
            key="active_7d",
            label="Active tutors (7 days)",
            unit="count",
            value=value(days - 1, "wau"),
            previous=value(days - 1 - window, "wau"),
            change=_count_change(value(days - 1, "wau"), value(days - 1 - window, "wau")),
            change_unit="%",
            better="up",
            how=_HOW["active_7d"],
            series_label="Tutors active each day",
            series=day_points(daily("dau")),
        ),
    ]
    completed_now = day_sum("sessions_completed", last, days - 1)
    completed_before = day_sum("sessions_completed", prev, last - 1)
    kpis.append(
        Kpi(
            key="sessions_7d",
            label="Sessions completed (7 days)",
            unit="count",
            value=completed_now,
            previous=completed_before,
            change=_count_change(completed_now, completed_before),
            change_unit="%",
            better="up",
            how=_HOW["sessions_7d"],
            series_label="Completed sessions per day",
            series=day_points(daily("sessions_completed")),
        )
    )
    for key, label, attr, better in (
        ("completion_rate", "Completion rate", "sessions_completed", "up"),
        ("tutor_no_show_rate", "Tutor no-show rate", "tutor_no_shows", "down"),
        ("reschedule_rate", "Reschedule rate", "sessions_rescheduled", "down"),
    ):
        current, previous = window_rate(attr, last), window_rate(attr, prev)
        kpis.append(
            Kpi(
                key=key,
                label=label,
                unit="rate",
                value=current,
                previous=previous,
                change=_rate_change(current, previous),
                change_unit="pp",
                better="up" if better == "up" else "down",
                how=_HOW[key],
                series_label=f"{label} per day",
                series=day_points(daily_rate(attr)),
            )
        )
    return Overview(as_of=now, window_days=window, kpis=kpis)
