"""Shared SQL helpers of the analytics package: a tutor's local time, in SQL, on both engines.

Shared by both analytics halves (trends/retention and performers/first-sessions/
reliability). Created by the trends/retention helper; add to it, do not change
the signatures below without telling the other half.

A tutor's local date, hour and weekday are computed in the database so that
grouping by them stays set-based:

- PostgreSQL: ``timezone(tutor.timezone, ts)`` (the server's IANA database).
- SQLite has no time zones, so the UTC offset is spelled out as a ``CASE`` over
  the time zones present in the data, each a chain of ``ts < transition`` steps
  built from Python's ``zoneinfo`` for the period queried (DST included).

Names that are not valid IANA zones count as UTC on both engines. Zone names
and transition instants are bound parameters; nothing is pasted into SQL text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Date, Integer, String, bindparam, case, cast, extract, func, literal
from sqlalchemy.orm import Session

from tutorpulse.core.db import UTCDateTime

__all__ = ["LocalTime", "local_time", "offset_steps", "parse_day", "valid_zones"]


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def valid_zones(names: Sequence[str | None]) -> list[str]:
    """The names among ``names`` that are IANA time zones known to Python, sorted."""
    return sorted({n for n in names if n and _zone(n) is not None})


def _offset(zone: ZoneInfo, at: datetime) -> int:
    off = at.astimezone(zone).utcoffset()
    return int(off.total_seconds()) if off is not None else 0


@lru_cache(maxsize=4096)
def offset_steps(name: str, first_day: date, last_day: date) -> tuple[tuple[datetime, int], ...]:
    """UTC offsets of zone ``name`` from ``first_day`` to ``last_day`` (UTC days).

    Returns ``((until, offset_seconds), ...)``: the offset applies before ``until``
    (and after the previous step); the last step's ``until`` is the end of
    ``last_day``. Transitions are located to the minute by bisection.
    """
    zone = _zone(name)
    end = datetime.combine(last_day + timedelta(days=1), datetime.min.time(), UTC)
    day = datetime.combine(first_day, datetime.min.time(), UTC)
    if zone is None:
        return ((end, 0),)
    steps: list[tuple[datetime, int]] = []
    current = _offset(zone, day)
    while day < end:
        nxt = day + timedelta(days=1)
        if _offset(zone, nxt) != current:
            lo, hi = day, nxt  # offset(lo) == current != offset(hi)
            while hi - lo > timedelta(minutes=1):
                mid = lo + (hi - lo) / 2
                mid = mid.replace(second=0, microsecond=0)
                if mid <= lo:
                    break
                if _offset(zone, mid) == current:
                    lo = mid
                else:
                    hi = mid
            steps.append((hi, current))
            current = _offset(zone, hi)
        day = nxt
    steps.append((end, current))
    return tuple(steps)


@dataclass(frozen=True)
class LocalTime:
    """SQL expressions for the local calendar of a UTC timestamp column.

    ``day`` is a DATE on PostgreSQL and 'YYYY-MM-DD' text on SQLite (both sort
    and group correctly; ``parse_day`` turns either into a ``date``). ``hour``
    is 0-23 and ``weekday`` 0-6 with 0 = Sunday (the original API's convention).
    """

    day: Any
    hour: Any
    weekday: Any


def parse_day(value: Any) -> date:
    """A ``day`` value read back from either engine, as a ``date``."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def local_time(
    db: Session,
    column: Any,
    tz_column: Any,
    *,
    zones: Sequence[str],
    start: datetime,
    end: datetime,
    prefix: str = "lt",
) -> LocalTime:
    """Local day/hour/weekday of ``column`` in the zone named by ``tz_column``.

    ``zones`` are the zone names that may occur (e.g. ``SELECT DISTINCT timezone``);
    others count as UTC. ``start``/``end`` bound the timestamps queried (SQLite
    needs the DST transitions of that period; values outside it get the offset
    of the nearest end).
    """
    good = valid_zones(zones)
    if db.get_bind().dialect.name == "postgresql":
        zone_name = (
            case((tz_column.in_(good), tz_column), else_=literal("UTC")) if good else literal("UTC")
        )
        local = func.timezone(zone_name, column)
        return LocalTime(
            day=cast(local, Date),
            hour=cast(extract("hour", local), Integer),
            weekday=cast(extract("dow", local), Integer),
        )
    first = (start - timedelta(days=2)).date()
    last = (end + timedelta(days=2)).date()
    whens = []
    for zi, name in enumerate(good):
        steps = offset_steps(name, first, last)
        if len(steps) == 1:
            inner: Any = literal(steps[0][1])
        else:
            inner = case(
                *[
                    (column < bindparam(f"{prefix}_z{zi}_s{si}", until, type_=UTCDateTime), off)
                    for si, (until, off) in enumerate(steps[:-1])
                ],
                else_=steps[-1][1],
            )
        whens.append((tz_column == bindparam(f"{prefix}_z{zi}", name, type_=String), inner))
    offset = case(*whens, else_=0) if whens else literal(0)
    modifier = cast(offset, String) + literal(" seconds")
    return LocalTime(
        day=func.date(column, modifier),
        hour=cast(func.strftime("%H", column, modifier), Integer),
        weekday=cast(func.strftime("%w", column, modifier), Integer),
    )
