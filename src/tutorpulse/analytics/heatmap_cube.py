"""The heatmap cube: ``/api/analytics/heatmap`` for all tutors, any window, without a scan.

The heatmap averages a metric over the sessions that started in [now − days, now),
by the tutor's local weekday and hour: at 100k tutors a scan of every session of
the window (≈ 1 s for 30 days on SQLite, more for longer windows). ``analytics.warm``
stores, per whole UTC hour of the last ``CUBE_DAYS`` days and local (weekday, hour),
each metric type's sum and count (``repository.heatmap_hour_sums``). A request adds

- the cube's rows of the whole UTC hours inside its window, and
- the raw sessions of the two partial edges: from ``now − days`` to the next whole
  hour, and from the end of the cube's span (the hour of the last build) to ``now``

— so the window is exactly the requested one and the newest hour is live. Rows of
the cube's hours that changed after the build show at the next build (at most two
refresh intervals, as the stored views: ``snapshots.is_fresh``). One tutor's
heatmap, windows reaching before the cube's span, and a missing or stale cube read
the raw rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from tutorpulse.analytics import repository as repo
from tutorpulse.analytics import snapshots
from tutorpulse.analytics.models import HeatmapCube
from tutorpulse.analytics.trends_cube import CUBE_DAYS

META_KEY = "heatmap:cube"
HOUR = timedelta(hours=1)
Sums = dict[tuple[int, int], tuple[float, int]]  # (weekday, hour) → (sum, count)


def floor_hour(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def ceil_hour(at: datetime) -> datetime:
    floor = floor_hour(at)
    return floor if floor == at else floor + HOUR


@dataclass(frozen=True)
class Span:
    """The whole UTC hours [start, end) the stored cube holds."""

    start: datetime
    end: datetime


def span_for(now: datetime) -> Span:
    end = floor_hour(now)
    return Span(start=end - timedelta(days=CUBE_DAYS), end=end)


def build(db: Session, span: Span) -> list[dict[str, Any]]:
    """The cube's rows for ``span``: one grouped scan of its sessions."""
    out = []
    for r in repo.heatmap_hour_sums(db, start=span.start, end=span.end):
        row = dict(r._mapping)
        hour_start = row["utc_hour"]
        if isinstance(hour_start, str):
            hour_start = datetime.fromisoformat(hour_start)
        row["utc_hour"] = (
            hour_start.replace(tzinfo=UTC) if hour_start.tzinfo is None else hour_start
        )
        row["weekday"] = int(row["weekday"])
        row["hour"] = int(row["hour"])
        for key, value in row.items():
            if key.endswith(("_sum", "_n")):
                row[key] = None if value is None else float(value)
        out.append(row)
    return out


def replace(db: Session, span: Span, rows: list[dict[str, Any]], *, now: datetime,
            seconds: float) -> None:  # fmt: skip
    """Replace the stored cube (flushes; the caller commits)."""
    db.execute(delete(HeatmapCube))
    for i in range(0, len(rows), 5000):
        db.execute(insert(HeatmapCube), rows[i : i + 5000])
    meta = {"start": span.start, "end": span.end, "rows": len(rows)}
    snapshots.store(db, META_KEY, meta, computed_at=now, seconds=seconds)


def fresh(db: Session, *, now: datetime, refresh_seconds: int) -> Span | None:
    payload = snapshots.served(db, META_KEY, now=now, refresh_seconds=refresh_seconds)
    if payload is None:
        return None
    return Span(
        start=datetime.fromisoformat(str(payload["start"])),
        end=datetime.fromisoformat(str(payload["end"])),
    )


def frame_sums(frame: Any) -> Sums:
    """``repository.heatmap``'s frame as (weekday, hour) → (sum, count)."""
    out: Sums = {}
    _add(out, frame)
    return out


def _add(into: Sums, frame: Any) -> None:
    for r in frame.itertuples(index=False):
        key = (int(r.weekday), int(r.hour))
        total, count = into.get(key, (0.0, 0))
        into[key] = (total + float(r.total or 0.0), count + int(r.count))


def sums(db: Session, *, metric: str, start: datetime, end: datetime, span: Span | None) -> Sums:
    """(sum, count) of ``metric`` per local (weekday, hour) over sessions starting in
    [start, end), all tutors: the cube for the whole hours ``span`` covers, raw rows
    for the rest (everything, without a usable ``span``)."""
    out: Sums = {}
    inner_start = ceil_hour(start)
    inner_end = min(span.end, floor_hour(end)) if span is not None else inner_start
    if span is None or inner_start < span.start or inner_end <= inner_start:
        _add(out, repo.heatmap(db, metric=metric, start=start, end=end, tutor_id=None))
        return out
    total_col = getattr(HeatmapCube, f"{metric}_sum")
    count_col = getattr(HeatmapCube, f"{metric}_n")
    rows = db.execute(
        select(HeatmapCube.weekday, HeatmapCube.hour, func.sum(total_col), func.sum(count_col))
        .where(HeatmapCube.utc_hour >= inner_start, HeatmapCube.utc_hour < inner_end)
        .group_by(HeatmapCube.weekday, HeatmapCube.hour)
    )
    for weekday, hour, total, count in rows:
        if count:
            out[(int(weekday), int(hour))] = (float(total or 0.0), int(count))
    zones = repo.tutor_zones(db)
    for lo, hi in ((start, inner_start), (inner_end, end)):
        if lo < hi:
            _add(out, repo.heatmap(db, metric=metric, start=lo, end=hi, tutor_id=None, zones=zones))
    return out
