"""Timing helpers shared by the analytics benchmarks (run as scripts from this folder)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any


def timed(fn: Callable[[], Any], repeat: int) -> list[float]:
    """Seconds per call of ``fn``, ``repeat`` times, after one untimed warm-up call
    (first-use costs: imports, template compilation, a cache's first fill)."""
    fn()
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def pct(values: list[float], q: float) -> float:
    """The ``q``-th percentile (1–99) of ``values``; a single value is its own percentile."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def fetch_all(con: Any, sqls: Sequence[str]) -> list[list[Any]]:
    """Run each query on a DuckDB connection and fetch every row."""
    return [con.execute(sql).fetchall() for sql in sqls]
