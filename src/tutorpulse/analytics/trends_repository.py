"""Every query behind ``/api/analytics/trends`` and the Trends / Retention pages.

Daily series are computed in SQL from the raw tables (``tutor_session``,
``engagement_event``, ``tutor``), grouped by the tutor's *local* date (see
``analytics.common.local_time``). A metric is chosen from ``METRICS``, a fixed
whitelist of SQLAlchemy column expressions: the metric name a client sends is
only ever a dictionary key and never reaches SQL text.

Rollups: every session/event metric here is additive per (tutor, local day), so
``metric_cells`` could read ``tutor_daily`` instead of the raw tables once that
table is populated (``MetricSpec.rollup`` names the counters); hour-of-day and
``sessionSubject`` groupings still need the raw rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import (
    Date,
    Integer,
    bindparam,
    case,
    cast,
    distinct,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from tutorpulse.analytics.common import local_time, parse_day
from tutorpulse.analytics.trends_metrics import MetricSpec
from tutorpulse.core.db import UTCDateTime
from tutorpulse.engagement.models import EngagementEvent, TutorDaily, TutorDirty, TutorHealth
from tutorpulse.sessions.models import TutorSession
from tutorpulse.tutors.models import Tutor
from tutorpulse.tutors.vocabulary import EVENT_TYPES

# --- data bounds and probes ------------------------------------------------------------


def _ts(value: datetime, name: str) -> Any:
    return bindparam(name, value, type_=UTCDateTime)


@dataclass(frozen=True)
class DataBounds:
    first: datetime | None  # earliest session start or event
    last: datetime | None  # latest session start or event at or before ``now``


def data_bounds(db: Session, *, now: datetime) -> DataBounds:
    """The span of recorded activity up to ``now``; index lookups only (no table scans).

    One aggregate per subquery: SQLite answers a lone ``min``/``max`` from an index
    but scans the table when one SELECT asks for both.
    """
    cap = _ts(now, "bounds_now")
    firsts: list[Any] = [
        select(func.min(TutorSession.scheduled_start))
        .where(TutorSession.scheduled_start <= cap)
        .scalar_subquery()
    ]
    lasts: list[Any] = [
        select(func.max(TutorSession.scheduled_start))
        .where(TutorSession.scheduled_start <= cap)
        .scalar_subquery()
    ]
    # Per event type, riding the (event_type, occurred_at) index.
    for i, kind in enumerate(EVENT_TYPES):
        kind_is = EngagementEvent.event_type == bindparam(f"bounds_t{i}", kind)
        before = EngagementEvent.occurred_at <= cap
        firsts.append(
            select(func.min(EngagementEvent.occurred_at)).where(kind_is, before).scalar_subquery()
        )
        lasts.append(
            select(func.max(EngagementEvent.occurred_at)).where(kind_is, before).scalar_subquery()
        )
    row = db.execute(select(*firsts, *lasts)).one()
    conv = UTCDateTime().process_result_value
    dialect = db.get_bind().dialect
    values = [
        conv(datetime.fromisoformat(v) if isinstance(v, str) else v, dialect)
        if v is not None
        else None
        for v in row
    ]
    los = [v for v in values[: len(firsts)] if v is not None]
    his = [v for v in values[len(firsts) :] if v is not None]
    return DataBounds(first=min(los) if los else None, last=max(his) if his else None)


def data_version(db: Session) -> tuple[Any, ...]:
    """A cheap probe (index lookups): the newest tutor id and the latest health scoring."""
    row = db.execute(
        select(
            select(func.max(Tutor.id)).scalar_subquery(),
            select(func.max(TutorHealth.computed_at)).scalar_subquery(),
        )
    ).one()
    return tuple(str(v) for v in row)


def distinct_zones(db: Session) -> list[str]:
    return [z for z in db.scalars(select(Tutor.timezone).distinct()) if z]


def tutor_pk(db: Session, *, external_id: str) -> int | None:
    return db.scalar(select(Tutor.id).where(Tutor.external_id == external_id))


def subjects(db: Session) -> list[str]:
    """Primary subjects of tutors (the choices the Trends page offers)."""
    rows = db.scalars(
        select(Tutor.primary_subject).where(Tutor.primary_subject.is_not(None)).distinct()
    )
    return sorted(str(r) for r in rows)


# --- metric cells ----------------------------------------------------------------------

CohortField = Literal[
    "primarySubject", "certificationLevel", "churnRiskLevel", "joinMonth", "sessionSubject"
]


def _month_of(db: Session, column: Any) -> Any:
    if db.get_bind().dialect.name == "postgresql":
        return func.to_char(column, "YYYY-MM")
    return func.strftime("%Y-%m", column)


def _cohort_expr(db: Session, field: CohortField) -> tuple[Any, bool]:
    """The cohort key expression and whether it needs the tutor_health join."""
    if field == "primarySubject":
        return func.coalesce(Tutor.primary_subject, "unknown"), False
    if field == "certificationLevel":
        return func.coalesce(Tutor.certification_level, "unknown"), False
    if field == "churnRiskLevel":
        return func.coalesce(func.lower(TutorHealth.churn_risk_level), "unscored"), True
    if field == "joinMonth":
        return _month_of(db, Tutor.joined_on), False
    return func.coalesce(TutorSession.subject, "unknown"), False


@dataclass(frozen=True)
class Cell:
    cohort: str | None
    day: Any  # date (PostgreSQL) or 'YYYY-MM-DD' (SQLite); see common.parse_day
    hour: int | None
    num: float
    den: float
    sq: float | None


def metric_cells(
    db: Session,
    *,
    metric: MetricSpec,
    zones: Sequence[str],
    first_day: date,
    last_day: date,
    tutor_id: int | None = None,
    subject: str | None = None,
    by_hour: bool = False,
    cohort: CohortField | None = None,
) -> list[Cell]:
    """Aggregates of ``metric`` per local day (and hour, cohort) around [first_day, last_day]."""
    rows = grouped_rows(
        db,
        source=metric.source,
        aggregates={"num": metric.num(), "den": metric.den(), "sq": metric.sq()},
        zones=zones,
        first_day=first_day,
        last_day=last_day,
        tutor_id=tutor_id,
        subject=subject,
        by_hour=by_hour,
        cohort=cohort,
    )
    return [
        Cell(
            cohort=None if r.cohort is None else str(r.cohort),
            day=r.day,
            hour=None if r.hour is None else int(r.hour),
            num=float(r.num or 0),
            den=float(r.den or 0),
            sq=None if r.sq is None else float(r.sq),
        )
        for r in rows
    ]


def grouped_rows(
    db: Session,
    *,
    source: str,
    aggregates: dict[str, Any],
    zones: Sequence[str],
    first_day: date,
    last_day: date,
    tutor_id: int | None = None,
    subject: str | None = None,
    by_hour: bool = False,
    cohort: CohortField | None = None,
    by_subject: bool = False,
) -> list[Any]:
    """Rows (cohort, day, hour[, subject], *aggregates) of the session or event rows grouped
    by local day (and hour, cohort and session subject) around [first_day, last_day].

    Rows are filtered on the UTC instant only (a day of margin each side, so the
    timestamp index applies and the local-time expression is evaluated once per
    row); the groups of local days outside the window are dropped here.
    """
    if source == "session":
        ts = TutorSession.scheduled_start
        base: Any = (
            select().select_from(TutorSession).join(Tutor, Tutor.id == TutorSession.tutor_id)
        )
        tutor_col: Any = TutorSession.tutor_id
    else:
        ts = EngagementEvent.occurred_at
        base = (
            select().select_from(EngagementEvent).join(Tutor, Tutor.id == EngagementEvent.tutor_id)
        )
        tutor_col = EngagementEvent.tutor_id
    lo = datetime.combine(first_day - timedelta(days=1), datetime.min.time()).replace(tzinfo=UTC)
    hi = datetime.combine(last_day + timedelta(days=2), datetime.min.time()).replace(tzinfo=UTC)
    lt = local_time(db, ts, Tutor.timezone, zones=zones, start=lo, end=hi, prefix="mc")
    cols: list[Any] = []
    groups: list[Any] = []
    if cohort is not None:
        expr, needs_health = _cohort_expr(db, cohort)
        if needs_health:
            base = base.outerjoin(TutorHealth, TutorHealth.tutor_id == Tutor.id)
        cols.append(expr.label("cohort"))
        groups.append(expr)
    else:
        cols.append(literal(None).label("cohort"))
    cols.append(lt.day.label("day"))
    groups.append(lt.day)
    if by_hour:
        cols.append(lt.hour.label("hour"))
        groups.append(lt.hour)
    else:
        cols.append(literal(None).label("hour"))
    if by_subject and source == "session":
        cols.append(TutorSession.subject.label("subject"))
        groups.append(TutorSession.subject)
    cols += [expr.label(name) for name, expr in aggregates.items()]
    query = base.add_columns(*cols).where(
        ts >= _ts(lo, "mc_lo"),
        ts < _ts(hi, "mc_hi"),
    )
    if tutor_id is not None:
        query = query.where(tutor_col == bindparam("mc_tutor", tutor_id))
    if subject is not None and source == "session":
        query = query.where(TutorSession.subject == bindparam("mc_subject", subject))
    query = query.group_by(*groups)
    return [r for r in db.execute(query) if first_day <= parse_day(r.day) <= last_day]


# The metrics whose per-(tutor, local day) counters in ``tutor_daily`` are exactly the
# raw aggregates (numerator, denominator). Means are not here: their pooled interval
# needs the sum of squares, which the rollup does not hold; nor is technicalIssueRate
# (its denominator counts only sessions with the flag recorded).
ROLLUP_COUNTERS: dict[str, tuple[str, str]] = {
    "sessions": ("sessions_completed", "sessions_completed"),
    "tutorNoShowRate": ("tutor_no_shows", "sessions_due"),
    "studentNoShowRate": ("student_no_shows", "sessions_due"),
    "tutorRescheduleRate": ("rescheduled_by_tutor", "sessions_due"),
    "logins": ("logins", "logins"),
    "events": ("events", "events"),
}


def rollup_cells(
    db: Session,
    *,
    metric: MetricSpec,
    first_day: date,
    last_day: date,
    tutor_id: int | None = None,
    cohort: CohortField | None = None,
) -> list[Cell]:
    """``metric_cells`` from ``tutor_daily`` (metrics of ``ROLLUP_COUNTERS``; not by hour,
    not by session subject). The rollup's days are the same tutor-local days, so the
    cells are identical to the raw ones; only tutor-days with a session (session
    metrics) or an event (event metrics) count, as in the raw tables."""
    num_name, den_name = ROLLUP_COUNTERS[metric.key]
    present = TutorDaily.sessions_booked if metric.source == "session" else TutorDaily.events
    base: Any = select().select_from(TutorDaily)
    cols: list[Any] = []
    groups: list[Any] = []
    if cohort is not None:
        expr, needs_health = _cohort_expr(db, cohort)
        base = base.join(Tutor, Tutor.id == TutorDaily.tutor_id)
        if needs_health:
            base = base.outerjoin(TutorHealth, TutorHealth.tutor_id == Tutor.id)
        cols.append(expr.label("cohort"))
        groups.append(expr)
    else:
        cols.append(literal(None).label("cohort"))
    cols += [
        TutorDaily.day.label("day"),
        func.sum(getattr(TutorDaily, num_name)).label("num"),
        func.sum(getattr(TutorDaily, den_name)).label("den"),
    ]
    groups.append(TutorDaily.day)
    query = base.add_columns(*cols).where(
        TutorDaily.day >= bindparam("rc_first", first_day),
        TutorDaily.day <= bindparam("rc_last", last_day),
        present > 0,
    )
    if tutor_id is not None:
        query = query.where(TutorDaily.tutor_id == bindparam("rc_tutor", tutor_id))
    query = query.group_by(*groups)
    return [
        Cell(
            cohort=None if r.cohort is None else str(r.cohort),
            day=r.day,
            hour=None,
            num=float(r.num or 0),
            den=float(r.den or 0),
            sq=None,
        )
        for r in db.execute(query)
    ]


def rollup_event_rows(
    db: Session, *, first_day: date, last_day: date, cohort: CohortField
) -> list[Any]:
    """Rows (cohort, day, hour=None, login_n, event_n) of the event metrics per tutor
    cohort and local day, from ``tutor_daily`` — the raw events' cells for the same
    days (tutor-days with an event) while the rollups are current — for the trend cube."""
    expr, needs_health = _cohort_expr(db, cohort)
    base: Any = select().select_from(TutorDaily).join(Tutor, Tutor.id == TutorDaily.tutor_id)
    if needs_health:
        base = base.outerjoin(TutorHealth, TutorHealth.tutor_id == Tutor.id)
    query = (
        base.add_columns(
            expr.label("cohort"),
            TutorDaily.day.label("day"),
            literal(None).label("hour"),
            func.sum(TutorDaily.logins).label("login_n"),
            func.sum(TutorDaily.events).label("event_n"),
        )
        .where(
            TutorDaily.day >= bindparam("re_first", first_day),
            TutorDaily.day <= bindparam("re_last", last_day),
            TutorDaily.events > 0,
        )
        .group_by(expr, TutorDaily.day)
    )
    return list(db.execute(query))


# --- retention -------------------------------------------------------------------------


@dataclass(frozen=True)
class Lifetimes:
    """One entry per tutor of the cohorts queried (parallel lists)."""

    tutor_ids: list[int]
    joined_on: list[date]
    status: list[str]
    churned_at: list[datetime | None]
    last_completed: list[datetime | None]
    last_login: list[datetime | None]


def tutor_lifetimes(
    db: Session, *, joined_from: date, joined_to: date, until: datetime
) -> Lifetimes:
    """Tutors who joined in [joined_from, joined_to] with their last activity before ``until``."""
    last_done = (
        select(
            TutorSession.tutor_id.label("tutor_id"),
            func.max(TutorSession.scheduled_start).label("last_completed"),
        )
        .join(Tutor, Tutor.id == TutorSession.tutor_id)
        .where(
            TutorSession.status == "completed",
            TutorSession.scheduled_start < _ts(until, "lt_until"),
            Tutor.joined_on >= bindparam("lt_from_s", joined_from),
            Tutor.joined_on <= bindparam("lt_to_s", joined_to),
        )
        .group_by(TutorSession.tutor_id)
        .subquery("last_done")
    )
    query = (
        select(
            Tutor.id,
            Tutor.joined_on,
            Tutor.status,
            Tutor.churned_at,
            last_done.c.last_completed,
            Tutor.last_login_at,
        )
        .outerjoin(last_done, last_done.c.tutor_id == Tutor.id)
        .where(
            Tutor.joined_on >= bindparam("lt_from", joined_from),
            Tutor.joined_on <= bindparam("lt_to", joined_to),
        )
        .order_by(Tutor.id)
    )
    dialect = db.get_bind().dialect
    conv = UTCDateTime().process_result_value
    rows = db.execute(query).all()
    return Lifetimes(
        tutor_ids=[r[0] for r in rows],
        joined_on=[r[1] for r in rows],
        status=[r[2] for r in rows],
        churned_at=[r[3] for r in rows],
        last_completed=[conv(r[4], dialect) if r[4] is not None else None for r in rows],
        last_login=[r[5] for r in rows],
    )


def _days_since_join(db: Session, column: Any) -> Any:
    """Whole days from the tutor's join date (UTC midnight) to ``column``; >= 0 after joining."""
    if db.get_bind().dialect.name == "postgresql":
        return cast(func.date(column), Date) - Tutor.joined_on
    # Truncation equals flooring for instants after the join date's midnight.
    return cast(func.julianday(column) - func.julianday(Tutor.joined_on), Integer)


def period_activity(
    db: Session,
    *,
    joined_from: date,
    joined_to: date,
    until: datetime,
    period_days: int,
    periods: int,
) -> list[tuple[str, int, int]]:
    """(join date, period, active tutors) over periods that ended before ``until``.

    Active: at least one completed session or login in [join + p·L, join + (p+1)·L).
    Only periods that have fully elapsed by ``until`` count (the others are unknown).
    """
    end_day = until.date()
    if db.get_bind().dialect.name == "postgresql":
        elapsed: Any = bindparam("pa_end", end_day) - Tutor.joined_on
    else:
        elapsed = cast(
            func.julianday(bindparam("pa_end", end_day.isoformat()))
            - func.julianday(Tutor.joined_on),
            Integer,
        )
    length: Any = bindparam("pa_len", period_days)

    def branch(ts: Any, table: Any, tutor_col: Any, cond: Any, tag: str) -> Any:
        since = _days_since_join(db, ts)
        # SQLite truncates a negative fraction of a day to 0: keep pre-join rows out.
        extra = [ts >= Tutor.joined_on] if db.get_bind().dialect.name == "sqlite" else []
        return (
            select(tutor_col.label("tutor_id"), (since // length).label("period"))
            .select_from(table)
            .join(Tutor, Tutor.id == tutor_col)
            .where(
                cond,
                Tutor.joined_on >= bindparam(f"pa_from_{tag}", joined_from),
                Tutor.joined_on <= bindparam(f"pa_to_{tag}", joined_to),
                ts < _ts(until, f"pa_until_{tag}"),
                since >= 0,
                *extra,
                since < bindparam(f"pa_max_{tag}", period_days * periods),
                # the period has fully elapsed: (p + 1) * L <= days from join to the end
                (since // length + 1) * length <= elapsed,
            )
        )

    sessions = branch(
        TutorSession.scheduled_start,
        TutorSession,
        TutorSession.tutor_id,
        TutorSession.status == "completed",
        "s",
    )
    logins = branch(
        EngagementEvent.occurred_at,
        EngagementEvent,
        EngagementEvent.tutor_id,
        EngagementEvent.event_type == "login",
        "e",
    )
    # Distinct tutors counted per group (a sort), not a DISTINCT of the pairs: PostgreSQL
    # hashes such a DISTINCT with a far too low group estimate (see the rollup version).
    pairs = union_all(sessions, logins).subquery("pairs")
    query = (
        select(
            Tutor.joined_on.label("cohort"),
            pairs.c.period,
            func.count(distinct(pairs.c.tutor_id)).label("active"),
        )
        .select_from(pairs)
        .join(Tutor, Tutor.id == pairs.c.tutor_id)
        .group_by(Tutor.joined_on, pairs.c.period)
    )
    return [(parse_day(r[0]).isoformat(), int(r[1]), int(r[2])) for r in db.execute(query)]


# --- retention from the engagement rollups ---------------------------------------------


def rollups_cover(db: Session, *, through: date) -> bool:
    """Whether ``tutor_daily`` / ``tutor_health`` are current for every day up to ``through``.

    True when the rollups hold rows and no tutor waits for a refresh from a day at or
    before ``through`` (``tutor_dirty.from_day``; ingestion marks a tutor dirty from
    the day of its new rows). Two index look-ups.
    """
    row = db.execute(
        select(
            select(TutorDaily.tutor_id).limit(1).scalar_subquery(),
            select(func.min(TutorDirty.from_day)).scalar_subquery(),
        )
    ).one()
    if row[0] is None:
        return False
    pending = row[1]
    if isinstance(pending, str):
        pending = date.fromisoformat(pending)
    return pending is None or pending > through


def tutor_lifetimes_from_rollups(
    db: Session, *, joined_from: date, joined_to: date, until: date
) -> Lifetimes:
    """As ``tutor_lifetimes``, with the last completed session's *local day* (at 00:00 UTC)
    read from ``tutor_daily`` (one grouped scan of the rollup, not of the sessions)."""
    last_day = (
        select(
            TutorDaily.tutor_id.label("tutor_id"),
            func.max(TutorDaily.day).label("last_day"),
        )
        .join(Tutor, Tutor.id == TutorDaily.tutor_id)
        .where(
            TutorDaily.sessions_completed > 0,
            TutorDaily.day < bindparam("lr_until", until),
            Tutor.joined_on >= bindparam("lr_from_s", joined_from),
            Tutor.joined_on <= bindparam("lr_to_s", joined_to),
        )
        .group_by(TutorDaily.tutor_id)
        .subquery("last_day")
    )
    query = (
        select(
            Tutor.id,
            Tutor.joined_on,
            Tutor.status,
            Tutor.churned_at,
            last_day.c.last_day,
            Tutor.last_login_at,
        )
        .outerjoin(last_day, last_day.c.tutor_id == Tutor.id)
        .where(
            Tutor.joined_on >= bindparam("lr_from", joined_from),
            Tutor.joined_on <= bindparam("lr_to", joined_to),
        )
        .order_by(Tutor.id)
    )
    rows = db.execute(query).all()

    def midnight(day: Any) -> datetime | None:
        if day is None:
            return None
        return datetime.combine(parse_day(day), datetime.min.time(), UTC)

    return Lifetimes(
        tutor_ids=[r[0] for r in rows],
        joined_on=[r[1] for r in rows],
        status=[r[2] for r in rows],
        churned_at=[r[3] for r in rows],
        last_completed=[midnight(r[4]) for r in rows],
        last_login=[r[5] for r in rows],
    )


def period_activity_from_rollups(
    db: Session,
    *,
    joined_from: date,
    joined_to: date,
    until: date,
    period_days: int,
    periods: int,
) -> list[tuple[str, int, int]]:
    """As ``period_activity`` (by join date), from ``tutor_daily``: a tutor is active in
    period p with a local day in it that has a login or a completed session. Days since joining are
    whole local days (``day − joined_on``; the local day before ``joined_on`` is day 0),
    so no time-zone arithmetic runs in SQL."""
    if db.get_bind().dialect.name == "postgresql":
        since: Any = TutorDaily.day - Tutor.joined_on
        elapsed: Any = bindparam("pr_end", until) - Tutor.joined_on
    else:
        since = cast(func.julianday(TutorDaily.day) - func.julianday(Tutor.joined_on), Integer)
        elapsed = cast(
            func.julianday(bindparam("pr_end", until.isoformat()))
            - func.julianday(Tutor.joined_on),
            Integer,
        )
    length: Any = bindparam("pr_len", period_days)
    # ``joined_on`` is a date without a zone (the raw path reads it as UTC midnight): a
    # tutor west of UTC whose first activity falls on the local day before it counts
    # that day as day 0, as the raw path does.
    day_no = case((since < 0, 0), else_=since)
    period = day_no // length
    # A tutor has one join date, so distinct tutors per (join date, period) = active
    # tutors, and a join month's count is the sum over its dates. Counted per group, not
    # as a DISTINCT of (tutor, period) pairs in a subquery: PostgreSQL hashed that
    # DISTINCT with a group estimate 20× too low and took over 150 s on the reference
    # world (1.1M pairs); count(DISTINCT) sorts, in about 2 s.
    query = (
        select(
            Tutor.joined_on.label("cohort"),
            period.label("period"),
            func.count(distinct(TutorDaily.tutor_id)).label("active"),
        )
        .select_from(TutorDaily)
        .join(Tutor, Tutor.id == TutorDaily.tutor_id)
        .where(
            (TutorDaily.logins > 0) | (TutorDaily.sessions_completed > 0),
            Tutor.joined_on >= bindparam("pr_from", joined_from),
            Tutor.joined_on <= bindparam("pr_to", joined_to),
            since >= -1,
            TutorDaily.day < bindparam("pr_until", until),
            day_no < bindparam("pr_max", period_days * periods),
            (period + 1) * length <= elapsed,
        )
        .group_by(Tutor.joined_on, period)
    )
    return [(parse_day(r[0]).isoformat(), int(r[1]), int(r[2])) for r in db.execute(query)]
