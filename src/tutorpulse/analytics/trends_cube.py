"""The trend cube: every trend metric's aggregates per local day, stored by ``analytics.warm``.

A trends request that is not one of the stored default views (another metric,
window, subject, cohort field, moving-average window or anomaly threshold) used
to scan the raw sessions or events of its whole window: 1–3 s at 100k tutors.
The cube holds the same aggregates the raw query computes — for each metric its
numerator, denominator and sum of squares (``trends_metrics``) — already grouped:

- hour grain (``field = ''``): per (tutor-local day, local hour, session subject);
- cohort grain (``field`` = a cohort field): per (local day, session subject, cohort).

A request then sums at most one grain's rows of its window (≤ 24 × days × subjects
rows) instead of every session. Every aggregate is a sum, so the cells are the raw
ones (up to floating-point summation order); ``sessionSubject`` cohorts come from
the hour grain's subject. Requests for one tutor, windows longer than
``CUBE_DAYS`` and retention never use it.

Built from the same data and clock as the stored views, and served on the same
terms (``snapshots.is_fresh``: at most two refresh intervals old): a request
served from the cube shows the window that ended at the cube's build, like a
stored view. ``analytics_snapshot['trends:cube']`` records that build (its data
bounds and time zones, the days rebuilt and the cursor). The first build covers
every day; later ones the newest ``RECENT_DAYS`` and one ``CHUNK_DAYS`` chunk of
older days in turn (``plan``), so an edit to an older day shows within
``ceil(CUBE_DAYS / CHUNK_DAYS)`` runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select
from sqlalchemy.orm import Session

from tutorpulse.analytics import snapshot_repository, snapshots
from tutorpulse.analytics import trends_repository as repo
from tutorpulse.analytics.common import parse_day
from tutorpulse.analytics.models import TrendCube
from tutorpulse.analytics.trends_metrics import METRICS, MetricSpec

CUBE_DAYS = 365
RECENT_DAYS = 3  # rebuilt at every run: the days new sessions and events land in
CHUNK_DAYS = 16  # older days rebuilt per run, in turn (all of them within 23 runs)
# Engines on which the event metrics by cohort are read from ``tutor_daily``. On SQLite
# at 100k tutors a run (3 + 31 days) took 89 s that way and 84 s scanning the events
# (its day-index look-ups into the rollup cost about what the scan saves; see also
# ``trends_series.ROLLUP_ENGINES``).
EVENT_ROLLUP_ENGINES = frozenset({"postgresql"})
META_KEY = "trends:cube"
COHORT_GRAINS: tuple[repo.CohortField, ...] = (
    "primarySubject",
    "certificationLevel",
    "churnRiskLevel",
    "joinMonth",
)
# Metric → (numerator, denominator, sum of squares) counters; a count's denominator is
# its numerator, and only means have a sum of squares.
COLUMNS: dict[str, tuple[str, str, str | None]] = {
    "engagement": ("eng_sum", "eng_n", "eng_sq"),
    "empathy": ("emp_sum", "emp_n", "emp_sq"),
    "clarity": ("clar_sum", "clar_n", "clar_sq"),
    "satisfaction": ("sat_sum", "sat_n", "sat_sq"),
    "rating": ("rat_sum", "rat_n", "rat_sq"),
    "sessions": ("done_n", "done_n", None),
    "tutorNoShowRate": ("tutor_ns_n", "due_n", None),
    "studentNoShowRate": ("student_ns_n", "due_n", None),
    "tutorRescheduleRate": ("tutor_rs_n", "due_n", None),
    "technicalIssueRate": ("tech_hit_n", "tech_base_n", None),
    "logins": ("login_n", "login_n", None),
    "events": ("event_n", "event_n", None),
}


@dataclass(frozen=True)
class CubeInfo:
    """What a stored cube covers: built at ``now`` from data in [first, last]."""

    now: datetime
    first: datetime | None
    last: datetime | None
    zones: list[str]
    first_day: date
    last_day: date
    rows: int
    cursor: date | None = None  # first day of the next older chunk to rebuild

    @property
    def bounds(self) -> repo.DataBounds:
        return repo.DataBounds(first=self.first, last=self.last)

    def covers(self, first_day: date | None, last_day: date | None) -> bool:
        return (
            first_day is not None
            and last_day is not None
            and self.first_day <= first_day
            and last_day <= self.last_day
        )


def _aggregates(source: str) -> dict[str, Any]:
    """Counter name → the metric's own aggregate expression, for the source's metrics."""
    out: dict[str, Any] = {}
    for key, (num, den, sq) in COLUMNS.items():
        spec = METRICS[key]
        if spec.source != source:
            continue
        out.setdefault(num, spec.num())
        out.setdefault(den, spec.den())
        if sq is not None:
            out.setdefault(sq, spec.sq())
    return out


def plan(
    previous: CubeInfo | None, *, first_day: date, last_day: date, zones: Sequence[str]
) -> tuple[list[tuple[date, date]], date | None]:
    """The day ranges a run rebuilds, and the cursor it leaves.

    Everything when nothing usable is stored (none yet, other time zones, or days
    before the stored span now belong to the window); otherwise the newest
    ``RECENT_DAYS`` days and any day added since, plus the next ``CHUNK_DAYS`` older
    days after the stored cursor — so every older day is rebuilt at least once per
    ``ceil(CUBE_DAYS / CHUNK_DAYS)`` runs.
    """
    if (
        previous is None
        or sorted(previous.zones) != sorted(zones)
        or previous.first_day > first_day
        or previous.last_day < first_day - timedelta(days=1)
    ):
        return [(first_day, last_day)], None
    recent_from = max(
        first_day,
        min(previous.last_day + timedelta(days=1), last_day - timedelta(days=RECENT_DAYS - 1)),
    )
    ranges = [(recent_from, last_day)]
    older_last = recent_from - timedelta(days=1)
    if older_last < first_day:
        return ranges, None
    start = previous.cursor
    if start is None or not first_day <= start <= older_last:
        start = first_day
    end = min(start + timedelta(days=CHUNK_DAYS - 1), older_last)
    ranges.append((start, end))
    cursor = end + timedelta(days=1)
    return ranges, cursor if cursor <= older_last else first_day


def build(
    db: Session, *, ranges: Sequence[tuple[date, date]], zones: Sequence[str]
) -> list[dict[str, Any]]:
    """The cube's rows for the local days of ``ranges``: per range, 5 grouped scans of the
    sessions, one of the events by hour, and the event metrics by cohort from
    ``tutor_daily`` on ``EVENT_ROLLUP_ENGINES`` when the rollups are current through
    the range (its per tutor-day login and event counts are the raw ones), else 4
    more scans of the events."""
    out: list[dict[str, Any]] = []
    for first_day, last_day in ranges:
        rollups = db.get_bind().dialect.name in EVENT_ROLLUP_ENGINES and repo.rollups_cover(
            db, through=last_day
        )
        for source in ("session", "event"):
            aggregates = _aggregates(source)
            grains: tuple[repo.CohortField | None, ...] = (None, *COHORT_GRAINS)
            for grain in grains:
                if source == "event" and grain is not None and rollups:
                    rows = repo.rollup_event_rows(
                        db, first_day=first_day, last_day=last_day, cohort=grain
                    )
                else:
                    rows = repo.grouped_rows(
                        db,
                        source=source,
                        aggregates=aggregates,
                        zones=zones,
                        first_day=first_day,
                        last_day=last_day,
                        by_hour=grain is None,
                        cohort=grain,
                        by_subject=source == "session",
                    )
                out += [_row(r, source, grain or "", aggregates) for r in rows]
    return out


def _row(r: Any, source: str, field: str, aggregates: dict[str, Any]) -> dict[str, Any]:
    m = r._mapping
    row: dict[str, Any] = {
        "source": source,
        "field": field,
        "day": parse_day(m["day"]),
        "hour": None if m["hour"] is None else int(m["hour"]),
        "subject": m["subject"] if source == "session" else None,
        "cohort": None if m["cohort"] is None else str(m["cohort"]),
    }
    for name in aggregates:
        value = m[name]
        row[name] = None if value is None else float(value)
    return row


def replace(
    db: Session,
    info: CubeInfo,
    rows: list[dict[str, Any]],
    *,
    ranges: Sequence[tuple[date, date]],
    seconds: float,
) -> int:
    """Replace the stored rows of ``ranges`` with ``rows``, drop the days outside
    ``info``'s span, record ``info``; the rows the cube then holds (flushes only)."""
    db.execute(
        delete(TrendCube).where(
            or_(
                TrendCube.day < info.first_day,
                TrendCube.day > info.last_day,
                *(and_(TrendCube.day >= a, TrendCube.day <= b) for a, b in ranges),
            )
        )
    )
    for i in range(0, len(rows), 5000):
        db.execute(insert(TrendCube), rows[i : i + 5000])
    total = int(db.scalar(select(func.count()).select_from(TrendCube)) or 0)
    meta = {
        "now": info.now,
        "first": info.first,
        "last": info.last,
        "zones": info.zones,
        "firstDay": info.first_day,
        "lastDay": info.last_day,
        "rows": total,
        "cursor": info.cursor,
        "rebuilt": [[a, b] for a, b in ranges],
    }
    snapshots.store(db, META_KEY, meta, computed_at=info.now, seconds=seconds)
    return total


def stored(db: Session) -> CubeInfo | None:
    """The stored cube's coverage, however old."""
    found = snapshot_repository.load(db, META_KEY)
    return None if found is None else _info(found[1])


def fresh(db: Session, *, now: datetime, refresh_seconds: int) -> CubeInfo | None:
    """The stored cube's coverage if it is fresh (``snapshots.is_fresh``), else None."""
    payload = snapshots.served(db, META_KEY, now=now, refresh_seconds=refresh_seconds)
    return None if payload is None else _info(payload)


def _info(payload: dict[str, Any]) -> CubeInfo:
    def instant(value: Any) -> datetime | None:
        return None if value is None else datetime.fromisoformat(str(value))

    built = instant(payload["now"])
    assert built is not None
    cursor = payload.get("cursor")
    return CubeInfo(
        now=built,
        first=instant(payload["first"]),
        last=instant(payload["last"]),
        zones=[str(z) for z in payload["zones"]],
        first_day=date.fromisoformat(str(payload["firstDay"])),
        last_day=date.fromisoformat(str(payload["lastDay"])),
        rows=int(payload["rows"]),
        cursor=date.fromisoformat(str(cursor)) if cursor else None,
    )


def cells(
    db: Session,
    *,
    metric: MetricSpec,
    first_day: date,
    last_day: date,
    subject: str | None = None,
    by_hour: bool = False,
    cohort: repo.CohortField | None = None,
) -> list[repo.Cell]:
    """``repo.metric_cells`` for all tutors, summed from the stored cube's rows."""
    num_name, den_name, sq_name = COLUMNS[metric.key]
    num = func.sum(getattr(TrendCube, num_name))
    den = func.sum(getattr(TrendCube, den_name))
    sq: Any = func.sum(getattr(TrendCube, sq_name)) if sq_name else None
    field = "" if cohort in (None, "sessionSubject") else cohort
    if cohort == "sessionSubject":
        group: Any = func.coalesce(TrendCube.subject, "unknown")
    else:
        group = TrendCube.cohort
    keys: list[Any] = [group.label("cohort"), TrendCube.day]
    if by_hour:
        keys.append(TrendCube.hour)
    query = (
        select(*keys, num.label("num"), den.label("den"))
        .where(
            TrendCube.field == field,
            TrendCube.source == metric.source,
            TrendCube.day >= first_day,
            TrendCube.day <= last_day,
        )
        .group_by(*keys)
    )
    if sq is not None:
        query = query.add_columns(sq.label("sq"))
    if subject is not None:
        query = query.where(TrendCube.subject == subject)
    out = []
    for r in db.execute(query):
        m = r._mapping
        raw_sq = m["sq"] if sq is not None else None
        out.append(
            repo.Cell(
                cohort=None if cohort is None or m["cohort"] is None else str(m["cohort"]),
                day=m["day"],
                hour=int(m["hour"]) if by_hour and m["hour"] is not None else None,
                num=float(m["num"] or 0),
                den=float(m["den"] or 0),
                sq=None if raw_sq is None else float(raw_sq),
            )
        )
    return out
