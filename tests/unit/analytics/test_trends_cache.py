"""The trends cache: reuse within the interval, version changes, stale-while-revalidate."""

from __future__ import annotations

import threading

from tutorpulse.analytics.trends_cache import TrendsCache


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_reuses_within_the_interval_and_recomputes_after_or_on_a_new_version() -> None:
    ticks = Ticks()
    cache = TrendsCache(60, clock=ticks, background=False)
    calls = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    assert cache.get_or_compute("k", "v1", compute) == 1
    ticks.now = 59
    assert cache.get_or_compute("k", "v1", compute) == 1
    ticks.now = 61
    assert cache.get_or_compute("k", "v1", compute) == 2
    assert cache.get_or_compute("k", "v2", compute) == 3
    assert TrendsCache(0).get_or_compute("k", "v", compute) == 4  # disabled


def test_an_expired_entry_is_served_while_one_thread_refreshes_it() -> None:
    ticks = Ticks()
    cache = TrendsCache(60, clock=ticks)
    assert cache.get_or_compute("k", "v", lambda: "old") == "old"
    ticks.now = 100
    release = threading.Event()
    started = []

    def refresh() -> str:
        started.append(1)
        release.wait(5)
        return "new"

    assert cache.get_or_compute("k", "v", lambda: "sync", refresh) == "old"
    assert cache.get_or_compute("k", "v", lambda: "sync", refresh) == "old"
    release.set()
    for thread in threading.enumerate():
        if thread.name == "analytics-refresh":
            thread.join(5)
    assert started == [1]  # one refresh at a time
    assert cache.get_or_compute("k", "v", lambda: "sync", refresh) == "new"
    # A new version is never answered from the stale entry.
    assert cache.get_or_compute("k", "v2", lambda: "sync", refresh) == "sync"


def test_a_failed_refresh_keeps_the_stale_value() -> None:
    ticks = Ticks()
    cache = TrendsCache(60, clock=ticks)
    cache.get_or_compute("k", "v", lambda: "old")
    ticks.now = 100

    def broken() -> str:
        raise RuntimeError("database went away")

    assert cache.get_or_compute("k", "v", lambda: "sync", broken) == "old"
    for thread in threading.enumerate():
        if thread.name == "analytics-refresh":
            thread.join(5)
    assert cache.get_or_compute("k", "v", lambda: "sync", broken) == "old"
