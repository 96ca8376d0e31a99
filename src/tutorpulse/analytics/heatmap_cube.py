"""The heatmap cube: ``/api/analytics/heatmap`` for all tutors, any window, without a scan.

The heatmap averages a metric over the sessions that started in [now − days, now),
by the tutor's local weekday and hour: at 100k tutors a scan of every session of
the window (≈ 1 s for 30 days on SQLite, more for longer windows). ``analytics.warm``
stores, per whole UTC hour of the last ``CUBE_DAYS`` days and local (weekday, hour),
each metric type's sum and count (``repository.heatmap_hour_sums``). A request adds

- the cube's rows of the whole UTC hours inside its window, and
- the raw sessions of the two partial edges: from ``now − days`` to the next whole
  hour, and from the end of the cube's span (the hour of the last build) to ``now``

— so the window is exactly the requested one and the newest hour is live. The cube
is served while its last run is at most two refresh intervals old (as the stored
views: ``snapshots.is_fresh``); runs rebuild it as the trend cube (``plan``), so a
past hour edited later shows within two hours at the default schedule. One tutor's
heatmap, windows reaching before the cube's span, and a missing or stale cube read
the raw rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select
from sqlalchemy.orm import Session

from tutorpulse.analytics import repository as repo
from tutorpulse.analytics import snapshot_repository, snapshots
from tutorpulse.analytics.models import HeatmapCube
from tutorpulse.analytics.trends_cube import CHUNK_DAYS, CUBE_DAYS, RECENT_DAYS

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
    """The whole UTC hours [start, end) the stored cube holds; ``cursor``: where the
    next older chunk to rebuild starts."""

    start: datetime
    end: datetime
    cursor: datetime | None = None


def span_for(now: datetime) -> Span:
    end = floor_hour(now)
    return Span(start=end - timedelta(days=CUBE_DAYS), end=end)


Range = tuple[datetime, datetime]


def plan(previous: Span | None, span: Span) -> tuple[list[Range], datetime | None]:
    """The hour ranges a run rebuilds and the cursor it leaves: everything without a
    usable stored cube, else the newest ``RECENT_DAYS`` days (and any hour added since)
    plus the next ``CHUNK_DAYS`` older days after the cursor (as ``trends_cube.plan``)."""
    if previous is None or previous.start > span.start or previous.end < span.start:
        return [(span.start, span.end)], None
    recent_from = max(span.start, min(previous.end, span.end - timedelta(days=RECENT_DAYS)))
    ranges = [(recent_from, span.end)]
    if recent_from <= span.start:
        return ranges, None
    start = previous.cursor
    if start is None or not span.start <= start < recent_from:
        start = span.start
    end = min(start + timedelta(days=CHUNK_DAYS), recent_from)
    ranges.append((start, end))
    return ranges, end if end < recent_from else span.start


def build(db: Session, ranges: list[Range]) -> list[dict[str, Any]]:
    """The cube's rows for the hours of ``ranges``: one grouped scan of their sessions each."""
    out = []
    for start, end in ranges:
        for r in repo.heatmap_hour_sums(db, start=start, end=end):
            row = dict(r._mapping)
            hour_start = row["utc_hour"]
            if isinstance(hour_start, str):
                hour_start = datetime.fromisoformat(hour_start)
            if hour_start.tzinfo is None:
                hour_start = hour_start.replace(tzinfo=UTC)
            row["utc_hour"] = hour_start
            row["weekday"] = int(row["weekday"])
            row["hour"] = int(row["hour"])
            for key, value in row.items():
                if key.endswith(("_sum", "_n")):
                    row[key] = None if value is None else float(value)
            out.append(row)
    return out


def replace(
    db: Session,
    span: Span,
    rows: list[dict[str, Any]],
    *,
    ranges: list[Range],
    now: datetime,
    seconds: float,
) -> int:
    """Replace the stored rows of ``ranges``, drop hours before ``span``, record it; the
    rows the cube then holds (flushes; the caller commits)."""
    db.execute(
        delete(HeatmapCube).where(
            or_(
                HeatmapCube.utc_hour < span.start,
                *(and_(HeatmapCube.utc_hour >= a, HeatmapCube.utc_hour < b) for a, b in ranges),
            )
        )
    )
    for i in range(0, len(rows), 5000):
        db.execute(insert(HeatmapCube), rows[i : i + 5000])
    total = int(db.scalar(select(func.count()).select_from(HeatmapCube)) or 0)
    meta = {
        "start": span.start,
        "end": span.end,
        "cursor": span.cursor,
        "rows": total,
        "rebuilt": [[a, b] for a, b in ranges],
    }
    snapshots.store(db, META_KEY, meta, computed_at=now, seconds=seconds)
    return total


def stored(db: Session) -> Span | None:
    found = snapshot_repository.load(db, META_KEY)
    return None if found is None else _span(found[1])


def fresh(db: Session, *, now: datetime, refresh_seconds: int) -> Span | None:
    payload = snapshots.served(db, META_KEY, now=now, refresh_seconds=refresh_seconds)
    return None if payload is None else _span(payload)


def _span(payload: dict[str, Any]) -> Span:
    cursor = payload.get("cursor")
    return Span(
        start=datetime.fromisoformat(str(payload["start"])),
        end=datetime.fromisoformat(str(payload["end"])),
        cursor=datetime.fromisoformat(str(cursor)) if cursor else None,
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
