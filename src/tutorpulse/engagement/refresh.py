"""Keeping rollups and health current: incremental refresh and the full rebuild.

Both paths run the same code: for a set of tutors, recompute ``tutor_daily`` from
the raw rows (from a given local day on, or entirely), then the health snapshot
from the tutor's full daily history. The incremental path takes its tutors from
``tutor_dirty`` (marked by ingestion) and from snapshots whose local day has
passed; the rebuild takes every tutor. ``run_refresh``/``rebuild`` own their
transactions (one per batch) so ingestion is never blocked for long.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from tutorpulse.core.db import unit_of_work, with_retry
from tutorpulse.core.settings import Settings
from tutorpulse.engagement import repository as repo
from tutorpulse.engagement.platform import (
    event_day_profile,
    lifecycle,
    week_start,
    window_active_counts,
)
from tutorpulse.engagement.rollups import (
    HealthParams,
    compute_daily,
    compute_health,
    local_dates,
    local_hours,
    local_today,
)

PLATFORM_STATE = "platform"
EVENT_CHUNK_DAYS = 31


@dataclass
class RefreshResult:
    """What one refresh run did (returned by the job as its counts)."""

    tutors_rolled_up: int = 0
    tutors_day_rollover: int = 0
    platform_days: int = 0
    remaining_dirty: int = 0
    batches: int = 0
    seconds: float = 0.0
    platform_from: str | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "tutorsRolledUp": self.tutors_rolled_up,
            "tutorsDayRollover": self.tutors_day_rollover,
            "platformDays": self.platform_days,
            "remainingDirty": self.remaining_dirty,
            "batches": self.batches,
            "seconds": round(self.seconds, 3),
            "platformFrom": self.platform_from,
        }


def health_params(settings: Settings) -> HealthParams:
    return HealthParams(poor_first_session_rating=settings.poor_first_session_rating)


@dataclass
class TutorUpdate:
    """Recomputed rollups and health of a set of tutors, ready to be written."""

    from_days: dict[int, date | None]
    daily: pd.DataFrame
    health: pd.DataFrame


def compute_tutors(
    db: Session, from_days: dict[int, date | None], *, now: datetime, params: HealthParams
) -> TutorUpdate:
    """Read and recompute (nothing written): rollups from each tutor's from-day on
    (None = all days) and health from the whole history (stored days before the
    from-day plus the recomputed ones)."""
    ids = sorted(from_days)
    tutors = repo.load_tutors(db, ids)
    bounded = [d for d in from_days.values() if d is not None]
    full = len(bounded) < len(from_days)
    since = None if full else min(bounded) - timedelta(days=1)
    events = repo.load_events(db, ids, since)
    sessions = repo.load_sessions(db, ids, since)
    zones = tutors.set_index("id")["timezone"]
    daily = compute_daily(events, sessions, zones)
    if bounded:
        limits = [from_days.get(int(t)) for t in daily["tutor_id"]]
        keep = [lim is None or day >= lim for day, lim in zip(daily["day"], limits, strict=True)]
        # A boolean array, never a list: an empty list would select no *columns*.
        daily = daily[np.asarray(keep, dtype=bool)]
        stored = repo.load_daily(db, [t for t, d in from_days.items() if d is not None])
        before = [
            day < from_days[int(t)]
            for t, day in zip(stored["tutor_id"], stored["day"], strict=True)
        ]
        older = stored[np.asarray(before, dtype=bool)]
        history = pd.concat([older, daily], ignore_index=True) if len(stored) else daily
    else:
        history = daily
    health = compute_health(history, tutors, now=now, params=params)
    return TutorUpdate(from_days, daily, health)


def write_tutors(db: Session, update: TutorUpdate, *, now: datetime) -> None:
    repo.replace_daily(db, update.daily, update.from_days)
    repo.upsert_health(db, update.health, now)


def process_tutors(
    db: Session, from_days: dict[int, date | None], *, now: datetime, params: HealthParams
) -> None:
    """Recompute and write in one transaction (the rebuild and tests use it)."""
    if from_days:
        write_tutors(db, compute_tutors(db, from_days, now=now, params=params), now=now)


def _note_platform_from(db: Session, day: date | None, now: datetime) -> None:
    if day is None:
        return
    state = repo.get_state(db, PLATFORM_STATE) or {}
    current = state.get("dirtyFrom")
    if current is None or day.isoformat() < current:
        state["dirtyFrom"] = day.isoformat()
        repo.set_state(db, PLATFORM_STATE, state, now)


def run_refresh(
    session_factory: sessionmaker[Session],
    *,
    settings: Settings,
    now_fn: Callable[[], datetime],
    force_platform: bool = False,
    time_budget_seconds: float | None = None,
    platform: bool = True,
) -> RefreshResult:
    """One incremental refresh: dirty tutors, day rollovers, then platform totals if due
    (``platform=False`` leaves them to a later run: ``catch_up`` does them once at the end)."""
    started = time.monotonic()
    budget = time_budget_seconds or settings.engagement_refresh_budget_seconds
    batch = settings.engagement_refresh_batch
    params = health_params(settings)
    result = RefreshResult()

    def out_of_time() -> bool:
        return time.monotonic() - started > budget

    # A pass takes the marks made before it started. Under sustained ingestion, chasing
    # the marks that arrive while it runs kept one pass going in ever smaller batches
    # (measured: 56 batches, 9.6 s of a 10 s spacing, for what two batches of the
    # backlog would do), so health upkeep took most of the API process's time. Later
    # marks wait for the next pass, at most the refresher's spacing away.
    cutoff = now_fn()
    while not out_of_time():
        # Read and compute outside the write lock; write in a short transaction. A
        # tutor written to meanwhile keeps its (re-versioned) mark for the next pass.
        with unit_of_work(session_factory) as db:
            claimed = repo.claim_dirty(db, batch, marked_until=cutoff)
            if not claimed:
                break
            now = now_fn()
            update = compute_tutors(db, {t: d for t, d, _ in claimed}, now=now, params=params)

        def write_batch(
            update: TutorUpdate = update, claimed: list = claimed, now: datetime = now
        ) -> None:
            with unit_of_work(session_factory, write=True) as db:
                write_tutors(db, update, now=now)
                _note_platform_from(db, min(d for _, d, _ in claimed), now)

        def clear_batch(claimed: list = claimed) -> None:
            # Its own short transaction, after the rows are written: ingestion upserts
            # these marks and would otherwise wait on their row locks for the whole
            # write above. A crash in between only leaves marks to recompute again.
            with unit_of_work(session_factory, write=True) as db:
                repo.clear_dirty(db, claimed)

        with_retry(write_batch)
        with_retry(clear_batch)
        result.tutors_rolled_up += len(claimed)
        result.batches += 1

    with unit_of_work(session_factory) as db:
        zones = repo.distinct_timezones(db)
    for zone in zones:
        while not out_of_time():
            with unit_of_work(session_factory) as db:
                now = now_fn()
                today = local_today(now, pd.Series([zone]))[0]
                stale = repo.stale_health(db, zone=zone, today=today, limit=batch)
                if not stale:
                    break
                tutors = repo.load_tutors(db, stale)
                health = compute_health(repo.load_daily(db, stale), tutors, now=now, params=params)
            with unit_of_work(session_factory, write=True) as db:
                repo.upsert_health(db, health, now)
                _note_platform_from(db, today - timedelta(days=1), now)
            result.tutors_day_rollover += len(stale)
            result.batches += 1

    totals: PlatformUpdate | None = None
    if platform:
        with unit_of_work(session_factory) as db:
            now = now_fn()
            state = repo.get_state(db, PLATFORM_STATE) or {}
            interval = settings.engagement_platform_refresh_seconds
            due = force_platform or _platform_due(state, now, interval)
            if state.get("dirtyFrom") and due:
                start = date.fromisoformat(state["dirtyFrom"])
                totals = compute_platform(db, start=start, now=now)
    if totals is not None:
        with unit_of_work(session_factory, write=True) as db:
            write_platform(db, totals)
            # Only clear what we covered: a refresh that noted an earlier day meanwhile wins.
            current = (repo.get_state(db, PLATFORM_STATE) or {}).get("dirtyFrom")
            left = current if current is not None and current < start.isoformat() else None
            repo.set_state(
                db,
                PLATFORM_STATE,
                _platform_state(left, now),
                now,
            )
        result.platform_from = start.isoformat()
        result.platform_days = len(totals.daily)
    with unit_of_work(session_factory) as db:
        result.remaining_dirty = repo.count_dirty(db)
    result.seconds = time.monotonic() - started
    return result


# ``catch_up`` rebuilds instead of refreshing when at least this share of tutors is marked.
REBUILD_SHARE = 0.5


def catch_up(
    session_factory: sessionmaker[Session],
    *,
    settings: Settings,
    now_fn: Callable[[], datetime],
    on_pass: Callable[[RefreshResult], None] | None = None,
) -> tuple[str, RefreshResult]:
    """Bring every marked tutor and the platform totals up to date (after an import).

    When at least ``REBUILD_SHARE`` of the tutors are marked (a first import, a backfill) a
    rebuild gives the same rows for less work: it reads every tutor once in large chunks
    (on the reference world 13 min against more than an hour of incremental passes, each
    recomputing a year of platform totals). Otherwise incremental passes without the
    platform step, then one platform refresh. Returns ("rebuild" | "refresh", totals).
    """
    with unit_of_work(session_factory) as db:
        marked = repo.count_dirty(db)
        tutors = repo.count_tutors(db)
    if tutors and marked >= REBUILD_SHARE * tutors:
        return "rebuild", rebuild(session_factory, settings=settings, now_fn=now_fn)
    total = RefreshResult()
    while True:
        step = run_refresh(session_factory, settings=settings, now_fn=now_fn, platform=False)
        total.tutors_rolled_up += step.tutors_rolled_up
        total.tutors_day_rollover += step.tutors_day_rollover
        total.batches += step.batches
        if on_pass is not None:
            on_pass(step)
        if step.remaining_dirty == 0:
            break
    final = run_refresh(session_factory, settings=settings, now_fn=now_fn, force_platform=True)
    total.tutors_rolled_up += final.tutors_rolled_up
    total.tutors_day_rollover += final.tutors_day_rollover
    total.platform_days = final.platform_days
    total.platform_from = final.platform_from
    total.remaining_dirty = final.remaining_dirty
    return "refresh", total


def _write_batch(
    session_factory: sessionmaker[Session],
    update: TutorUpdate,
    claimed: list[tuple[int, date, int]],
    now: datetime,
) -> None:
    with unit_of_work(session_factory, write=True) as db:
        write_tutors(db, update, now=now)
        _note_platform_from(db, min(d for _, d, _ in claimed), now)
    # Clearing the marks in a transaction of its own keeps row locks on tutor_dirty
    # short (concurrent ingestion upserts the same rows). If this one fails, the marks
    # stay and the tutors are simply recomputed again: harmless.
    with unit_of_work(session_factory, write=True) as db:
        repo.clear_dirty(db, claimed)


def _platform_state(dirty_from: str | None, now: datetime) -> dict[str, Any]:
    # "version" changes on every recomputation: readers cache platform answers by it.
    return {"dirtyFrom": dirty_from, "refreshedAt": now.isoformat(), "version": uuid.uuid4().hex}


def _platform_due(state: dict[str, Any], now: datetime, interval: int) -> bool:
    last = state.get("refreshedAt")
    if not last:
        return True
    return (now - datetime.fromisoformat(last)).total_seconds() >= interval


def platform_end_day(db: Session, now: datetime) -> date:
    """The latest local 'today' among the tutors' zones (UTC when there are none)."""
    zones = repo.distinct_timezones(db) or ["UTC"]
    return max(local_today(now, pd.Series(zones)))


@dataclass
class PlatformUpdate:
    start: date
    first_week: date
    daily: list[dict[str, Any]]
    weekly: list[dict[str, Any]]


def compute_platform(db: Session, *, start: date, now: datetime) -> PlatformUpdate:
    """Platform rows from ``start`` (and the weeks it touches), read and computed only."""
    first = repo.min_daily_day(db)
    end = platform_end_day(db, now)
    if first is not None:
        start = max(start, first)
    if first is None or start > end:
        return PlatformUpdate(start, week_start(start), [], [])
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    active = repo.load_active_pairs(db, start - timedelta(days=29), end)
    dau = active.groupby("day").size() if not active.empty else pd.Series(dtype=int)
    wau = window_active_counts(active, days, 7)
    mau = window_active_counts(active, days, 30)
    sums = repo.daily_sums(db, start, end)
    profile = _event_profiles(db, start, end)
    rows = []
    for day in days:
        totals = sums.loc[day] if day in sums.index else None
        types, hours = profile.get(day, ({}, [0] * 24))
        row: dict[str, Any] = {
            "day": day,
            "dau": int(dau.get(day, 0)),
            "wau": int(wau[day]),
            "mau": int(mau[day]),
            "event_counts": dict(sorted(types.items())),
            "hourly": hours,
            "computed_at": now,
        }
        for column in sums.columns:
            value = 0 if totals is None or pd.isna(totals[column]) else totals[column]
            row[column] = float(value) if column.endswith("_sum") else int(value)
        rows.append(row)
    first_week = week_start(start)
    weeks = [first_week + timedelta(days=7 * i) for i in range((end - first_week).days // 7 + 1)]
    table = lifecycle(active, repo.first_active_days(db), weeks)
    weekly: list[dict[str, Any]] = []
    for w in weeks:
        counts = {str(k): int(v) for k, v in table.loc[w].to_dict().items()}
        weekly.append({"week_start": w, **counts, "computed_at": now})
    return PlatformUpdate(start, first_week, rows, weekly)


def write_platform(db: Session, update: PlatformUpdate) -> None:
    repo.replace_platform_daily(db, update.daily, update.start)
    repo.replace_platform_weekly(db, update.weekly, update.first_week)


def refresh_platform(db: Session, *, start: date, now: datetime) -> int:
    """Recompute and write the platform rows from ``start``; returns the number of days."""
    update = compute_platform(db, start=start, now=now)
    write_platform(db, update)
    return len(update.daily)


def _event_profiles(
    db: Session, start: date, end: date
) -> dict[date, tuple[dict[str, int], list[int]]]:
    """Local-day event-type and hourly counts for [start, end], read in month chunks."""
    out: dict[date, tuple[dict[str, int], list[int]]] = {}
    chunk_start = start - timedelta(days=1)
    last = end + timedelta(days=2)
    while chunk_start < last:
        chunk_end = min(chunk_start + timedelta(days=EVENT_CHUNK_DAYS), last)
        events = repo.load_events_between(db, chunk_start, chunk_end)
        if not events.empty:
            events["day"] = local_dates(events["occurred_at"], events["timezone"])
            events["hour"] = local_hours(events["occurred_at"], events["timezone"])
            inside = [(start <= d <= end) for d in events["day"]]
            for day, value in event_day_profile(events[inside]).items():
                if day in out:
                    types, hours = out[day]
                    for k, v in value[0].items():
                        types[k] = types.get(k, 0) + v
                    out[day] = (types, [a + b for a, b in zip(hours, value[1], strict=True)])
                else:
                    out[day] = value
        chunk_start = chunk_end
    return out


def rebuild(
    session_factory: sessionmaker[Session],
    *,
    settings: Settings,
    now_fn: Callable[[], datetime],
    chunk: int = 2000,
    on_progress: Callable[[int, int], None] | None = None,
) -> RefreshResult:
    """Recompute every tutor's rollups and health, then all platform totals, from raw rows."""
    started = time.monotonic()
    params = health_params(settings)
    result = RefreshResult()
    with unit_of_work(session_factory, write=True) as db:
        # Marks made before now are covered by the rebuild, which reads the data after this.
        repo.clear_all_dirty(db)
        ids = repo.all_tutor_ids(db)
    for start in range(0, len(ids), chunk):
        part = ids[start : start + chunk]
        now = now_fn()
        with unit_of_work(session_factory) as db:
            update = compute_tutors(db, dict.fromkeys(part), now=now, params=params)
        with unit_of_work(session_factory, write=True) as db:
            write_tutors(db, update, now=now)
        result.tutors_rolled_up += len(part)
        result.batches += 1
        if on_progress is not None:
            on_progress(len(part), len(ids))
    with unit_of_work(session_factory) as db:
        now = now_fn()
        first = repo.min_daily_day(db) or platform_end_day(db, now)
        platform = compute_platform(db, start=first, now=now)
    with unit_of_work(session_factory, write=True) as db:
        write_platform(db, platform)
        repo.set_state(
            db,
            PLATFORM_STATE,
            _platform_state(None, now),
            now,
        )
        result.remaining_dirty = repo.count_dirty(db)
    result.platform_from = first.isoformat()
    result.platform_days = len(platform.daily)
    result.seconds = time.monotonic() - started
    return result
