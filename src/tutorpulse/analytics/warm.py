"""Compute and store the default view of every analytics endpoint (``analytics.warm``),
and the trend and heatmap cubes that serve the other trend and heatmap views
(``trends_cube``, ``heatmap_cube``).

Each view is computed live (in-process cache off, so nothing older is re-stored) in
a read-only session, then stored in a short write transaction of its own; a view
that fails is reported and the others are still stored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from tutorpulse.analytics import (
    cache,
    heatmap_cube,
    service,
    snapshots,
    trends_repository,
    trends_series,
)
from tutorpulse.analytics import trends_cube as cube
from tutorpulse.analytics import trends_service as trends
from tutorpulse.analytics.trends_retention import MATRIX_PERIODS, base_key
from tutorpulse.core.db import unit_of_work
from tutorpulse.core.settings import Settings

log = logging.getLogger(__name__)
View = Callable[[Session], Any]


def default_views(
    settings: Settings, now: datetime, subjects: Sequence[str] = ()
) -> dict[str, View]:
    """Snapshot key → a function computing that view live in the given session; with
    ``subjects``, the performers and first-session views of each subject too.

    The stored views are skipped (``stored=False``); the in-process cache stays on so
    performers and reliability share their per-tutor scans (``warm_all`` empties it
    first, so nothing computed before the run is reused).
    """
    live = settings
    views: dict[str, View] = {
        "performers": lambda db: service.get_performers(
            db, settings=live, now=now, subject=None, limit=snapshots.MAX_LIMIT, stored=False
        ),
        "first-sessions": lambda db: service.get_first_sessions(
            db, settings=live, now=now, subject=None, stored=False
        ),
        "reliability": lambda db: service.get_reliability(
            db,
            settings=live,
            now=now,
            threshold=service.DEFAULT_THRESHOLD,
            days_ahead=service.DEFAULT_DAYS_AHEAD,
            limit=snapshots.MAX_LIMIT,
            stored=False,
        ),
        service.RELIABILITY_RATES_KEY: lambda db: service.get_reliability_rates(
            db, settings=live, now=now
        ),
    }
    for subject in subjects:
        views[service.subject_key("performers", subject)] = _performers_view(live, now, subject)
        views[service.subject_key("first-sessions", subject)] = _first_view(live, now, subject)
    for metric in service.HEATMAP_METRICS:
        views[f"heatmap:{metric}"] = _heatmap_view(live, now, metric)
    for period in MATRIX_PERIODS:
        views[base_key(period)] = trends.base_view(settings.churn_inactivity_days, now, period)
    for params in trends.STORED_VIEWS:
        key = trends.stored_key(params)
        assert key is not None
        views[key] = _trends_view(settings, now, params)
    return views


def _performers_view(settings: Settings, now: datetime, subject: str) -> View:
    def view(db: Session) -> Any:
        return service.get_performers(
            db, settings=settings, now=now, subject=subject, limit=snapshots.MAX_LIMIT,
            stored=False,
        )  # fmt: skip

    return view


def _first_view(settings: Settings, now: datetime, subject: str) -> View:
    def view(db: Session) -> Any:
        return service.get_first_sessions(
            db, settings=settings, now=now, subject=subject, stored=False
        )

    return view


def _heatmap_view(settings: Settings, now: datetime, metric: str) -> View:
    def view(db: Session) -> Any:
        return service.get_heatmap(
            db,
            settings=settings,
            now=now,
            metric_type=metric,
            days=service.DEFAULT_HEATMAP_DAYS,
            tutor_external_id=None,
            stored=False,
        )

    return view


def _trends_view(settings: Settings, now: datetime, params: trends.TrendParams) -> View:
    def view(db: Session) -> Any:
        result = trends.get_trends(
            db, params=params, now=now, inactivity_days=settings.churn_inactivity_days
        )
        return trends.encode(result)

    return view


def _store_cube(factory: sessionmaker[Session], now: datetime) -> int | None:
    """Bring the trend cube (the ``CUBE_DAYS`` complete local days before ``now``) and the
    heatmap cube (the whole UTC hours of that span) up to date: everything the first
    time, then the newest days and one older chunk per run (``trends_cube.plan``),
    computed in a read-only session and written in one transaction; the rows the
    cubes then hold (None, and nothing stored, before any complete day of data)."""
    with unit_of_work(factory) as db:
        bounds = trends_repository.data_bounds(db, now=now)
        zones = trends_repository.distinct_zones(db)
        window = trends_series.complete_days(bounds, zones, cube.CUBE_DAYS, now=now)
        if window.first_day is None or window.last_day is None or not window.dates:
            return None
        t0 = time.perf_counter()
        ranges, cursor = cube.plan(
            cube.stored(db), first_day=window.first_day, last_day=window.last_day, zones=zones
        )
        rows = cube.build(db, ranges=ranges, zones=zones)
        trend_seconds = time.perf_counter() - t0
        span = heatmap_cube.span_for(now)
        heat_ranges, heat_cursor = heatmap_cube.plan(heatmap_cube.stored(db), span)
        heat_rows = heatmap_cube.build(db, heat_ranges)
        heat_seconds = time.perf_counter() - t0 - trend_seconds
        db.rollback()
    info = cube.CubeInfo(
        now=now,
        first=bounds.first,
        last=bounds.last,
        zones=zones,
        first_day=window.first_day,
        last_day=window.last_day,
        rows=len(rows),
        cursor=cursor,
    )
    with unit_of_work(factory, write=True) as db:
        total = cube.replace(db, info, rows, ranges=ranges, seconds=trend_seconds)
        total += heatmap_cube.replace(
            db, replace(span, cursor=heat_cursor), heat_rows, ranges=heat_ranges, now=now,
            seconds=heat_seconds,
        )  # fmt: skip
    return total


def warm_all(
    factory: sessionmaker[Session], *, settings: Settings, now: datetime
) -> dict[str, Any]:
    """Compute and store every default view; seconds per view and any errors."""
    seconds: dict[str, float] = {}
    errors: dict[str, str] = {}
    cache.clear()
    with unit_of_work(factory) as db:
        subjects = service.subjects(db)
    t0 = time.perf_counter()
    try:
        if (rows := _store_cube(factory, now)) is not None:
            seconds[cube.META_KEY] = round(time.perf_counter() - t0, 3)
            log.info("analytics.warm: trend cube of %d rows", rows)
    except Exception as exc:  # the views below do not need it
        log.exception("analytics.warm: the trend cube failed")
        errors[cube.META_KEY] = f"{type(exc).__name__}: {exc}"[:300]
    for key, view in default_views(settings, now, subjects).items():
        t0 = time.perf_counter()
        try:
            with unit_of_work(factory) as db:
                payload = view(db)
                db.rollback()  # read only: end the snapshot before the write
            took = time.perf_counter() - t0
            with unit_of_work(factory, write=True) as db:
                snapshots.store(db, key, payload, computed_at=now, seconds=took)
        except Exception as exc:  # one failing view must not stop the others
            log.exception("analytics.warm: view %s failed", key)
            errors[key] = f"{type(exc).__name__}: {exc}"[:300]
            continue
        seconds[key] = round(took, 3)
    return {"seconds": seconds, "errors": errors}
