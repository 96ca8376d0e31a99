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
bounds and time zones), and the table is replaced whole in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from tutorpulse.analytics import snapshot_repository, snapshots
from tutorpulse.analytics import trends_repository as repo
from tutorpulse.analytics.common import parse_day
from tutorpulse.analytics.models import TrendCube
from tutorpulse.analytics.trends_metrics import METRICS, MetricSpec

CUBE_DAYS = 365
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


def build(
    db: Session, *, now: datetime, bounds: repo.DataBounds, zones: Sequence[str],
    first_day: date, last_day: date,
) -> list[dict[str, Any]]:  # fmt: skip
    """The cube's rows for local days [first_day, last_day]: 5 grouped scans per source."""
    out: list[dict[str, Any]] = []
    for source in ("session", "event"):
        aggregates = _aggregates(source)
        grains: tuple[repo.CohortField | None, ...] = (None, *COHORT_GRAINS)
        for grain in grains:
            field = grain or ""
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
            for r in rows:
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
                out.append(row)
    return out


def replace(db: Session, info: CubeInfo, rows: list[dict[str, Any]], *, seconds: float) -> None:
    """Replace the stored cube with ``rows`` (flushes; the caller commits)."""
    db.execute(delete(TrendCube))
    for i in range(0, len(rows), 5000):
        db.execute(insert(TrendCube), rows[i : i + 5000])
    meta = {
        "now": info.now,
        "first": info.first,
        "last": info.last,
        "zones": info.zones,
        "firstDay": info.first_day,
        "lastDay": info.last_day,
        "rows": info.rows,
    }
    snapshots.store(db, META_KEY, meta, computed_at=info.now, seconds=seconds)


def fresh(db: Session, *, now: datetime, refresh_seconds: int) -> CubeInfo | None:
    """The stored cube's coverage if it is fresh (``snapshots.is_fresh``), else None."""
    payload = snapshots.served(db, META_KEY, now=now, refresh_seconds=refresh_seconds)
    if payload is None:
        return None

    def instant(value: Any) -> datetime | None:
        return None if value is None else datetime.fromisoformat(str(value))

    built = instant(payload["now"])
    assert built is not None
    return CubeInfo(
        now=built,
        first=instant(payload["first"]),
        last=instant(payload["last"]),
        zones=[str(z) for z in payload["zones"]],
        first_day=date.fromisoformat(str(payload["firstDay"])),
        last_day=date.fromisoformat(str(payload["lastDay"])),
        rows=int(payload["rows"]),
    )


def stored_at(db: Session) -> datetime | None:
    return snapshot_repository.computed_at(db, META_KEY)


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
