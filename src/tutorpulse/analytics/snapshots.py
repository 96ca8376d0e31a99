"""Stored default views: every request for an endpoint's default view is served from
the result the ``analytics.warm`` job stored, while that result is fresh.

The refresh interval is ``TUTORPULSE_ANALYTICS_CACHE_SECONDS`` (300 s); the job runs
every five minutes. A stored result is served while it is at most **two** refresh
intervals old (so one late or slow job run does not send requests to the cold path);
after that, or when none is stored, the request computes live (through the in-process
cache). So a default view reflects the data of at most 2 × the interval ago. ``0``
disables stored results as it disables the cache.

Lists capped by ``limit`` are stored at the largest limit and cut on the way out, so
one stored result serves every ``limit``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from tutorpulse.analytics import snapshot_repository as repo

T = TypeVar("T")
MAX_LIMIT = 500


def max_age(refresh_seconds: int) -> timedelta:
    return timedelta(seconds=2 * refresh_seconds)


def is_fresh(computed_at: datetime, *, now: datetime, refresh_seconds: int) -> bool:
    """Stored no more than two refresh intervals before (or after) ``now``."""
    return refresh_seconds > 0 and abs(now - computed_at) <= max_age(refresh_seconds)


def served(
    db: Session,
    key: str,
    *,
    now: datetime,
    refresh_seconds: int,
    decode: Callable[[Any], T] = lambda payload: payload,
) -> T | None:
    """The stored result for ``key`` if fresh (decoded), else None (compute live)."""
    if refresh_seconds <= 0:
        return None
    found = repo.load(db, key)
    if found is None or not is_fresh(found[0], now=now, refresh_seconds=refresh_seconds):
        return None
    return decode(found[1])


def to_json(value: Any) -> Any:
    """A JSON-ready copy of a service result: numpy scalars as Python numbers,
    non-finite floats as None (JSON has no NaN), datetimes and dates as ISO text."""
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def store(db: Session, key: str, payload: Any, *, computed_at: datetime, seconds: float) -> None:
    repo.store(db, key=key, payload=to_json(payload), computed_at=computed_at, seconds=seconds)


def cut_lists(payload: dict[str, Any], limit: int, paths: list[tuple[str, ...]]) -> dict[str, Any]:
    """A copy of ``payload`` with the list at each path cut to ``limit`` items."""
    out = dict(payload)
    for path in paths:
        node = out
        for part in path[:-1]:
            node[part] = dict(node[part])
            node = node[part]
        node[path[-1]] = list(node[path[-1]])[:limit]
    return out
