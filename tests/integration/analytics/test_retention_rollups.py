"""Retention and counter series read from the engagement rollups agree with raw rows.

A small generated world (cohorts from 2025, so most of its tutors count), imported (its tutors then wait for a rollup refresh, so
``auto`` reads raw rows) and rebuilt (``auto`` then reads ``tutor_daily``). The two
sources differ only in where a day starts (UTC vs the tutor's local midnight), so
cohorts and eligibility are identical and losses and activity nearly so.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from tutorpulse.analytics import trends_repository as repo
from tutorpulse.analytics.common import parse_day
from tutorpulse.analytics.trends_metrics import METRICS
from tutorpulse.analytics.trends_retention import ROLLUP_NOTE, retention
from tutorpulse.analytics.trends_schemas import RetentionTrends
from tutorpulse.analytics.trends_series import ROLLUP_ENGINES, complete_days
from tutorpulse.analytics.trends_service import TrendParams, get_trends
from tutorpulse.core import migrate
from tutorpulse.core.settings import Settings
from tutorpulse.engagement import refresh
from tutorpulse.tutors.importer import import_directory
from tutorpulse.world.config import WorldConfig
from tutorpulse.world.generator import generate_world
from tutorpulse.world.writer import write_world

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _retention(eng: Engine, source: str) -> RetentionTrends:
    with Session(eng) as db:
        bounds = repo.data_bounds(db, now=NOW)
        return retention(
            db,
            params=TrendParams(type="retention", days=120, cohort_start_date=date(2025, 1, 1)),
            bounds=bounds,
            now=NOW,
            inactivity_days=30,
            source=source,  # type: ignore[arg-type]
        )


def test_rollup_retention_agrees_with_raw_and_is_used_once_rollups_are_current(
    fresh_engine: Engine, tmp_path: Path
) -> None:
    world = generate_world(WorldConfig(tutors=600, days=150, seed=3, now=NOW))
    write_world(world, tmp_path, fmt="parquet")
    migrate.upgrade(fresh_engine)
    assert import_directory(fresh_engine, directory=tmp_path, now=NOW).error_count == 0
    raw = _retention(fresh_engine, "raw")
    assert _retention(fresh_engine, "auto").definition == raw.definition  # not rolled up yet
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    refresh.rebuild(sessionmaker(fresh_engine), settings=settings, now_fn=lambda: NOW)
    auto = _retention(fresh_engine, "auto")
    assert auto.definition.endswith(ROLLUP_NOTE)

    assert [c.cohort for c in auto.cohorts] == [c.cohort for c in raw.cohorts]
    assert sum(c.size for c in raw.cohorts) > 200
    assert raw.overall is not None
    assert auto.overall is not None
    assert auto.overall.lost == pytest.approx(raw.overall.lost, rel=0.05)
    for a, r in zip(auto.cohorts, raw.cohorts, strict=True):
        assert a.size == r.size
        assert abs(a.lost - r.lost) <= max(2, 0.05 * r.size)
        for sa, sr in zip(a.survival_at, r.survival_at, strict=True):
            if sr.survival is not None and sa.survival is not None:
                assert sa.survival == pytest.approx(sr.survival, abs=0.05)
    for a_row, r_row in zip(auto.matrix.rows, raw.matrix.rows, strict=True):
        assert a_row.eligible == r_row.eligible
        for a_n, r_n, n in zip(a_row.active, r_row.active, r_row.eligible, strict=True):
            assert abs(a_n - r_n) <= max(2, 0.05 * n)


def test_counter_series_from_the_rollups_equal_the_raw_ones(
    fresh_engine: Engine, tmp_path: Path
) -> None:
    world = generate_world(WorldConfig(tutors=300, days=60, seed=4, now=NOW))
    write_world(world, tmp_path, fmt="parquet")
    migrate.upgrade(fresh_engine)
    assert import_directory(fresh_engine, directory=tmp_path, now=NOW).error_count == 0
    views = [
        TrendParams(type="engagement", metric="sessions", days=40),
        TrendParams(type="engagement", metric="tutorNoShowRate", days=40),
        TrendParams(type="engagement", metric="logins", days=40),
        TrendParams(type="cohort", metric="tutorRescheduleRate", cohort_field="primarySubject"),
        TrendParams(type="cohort", metric="events", cohort_field="joinMonth"),
    ]

    def run(params: TrendParams) -> tuple[Any, list[str]]:
        statements: list[str] = []

        def seen(_c: Any, _cur: Any, statement: str, *_args: Any) -> None:
            statements.append(statement)

        event.listen(fresh_engine, "before_cursor_execute", seen)
        try:
            with Session(fresh_engine) as db:
                body = get_trends(db, params=params, now=NOW, inactivity_days=30)
        finally:
            event.remove(fresh_engine, "before_cursor_execute", seen)
        return body.model_dump(mode="json"), statements

    raw = [run(p) for p in views]  # imported, not rolled up yet: raw rows
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    refresh.rebuild(sessionmaker(fresh_engine), settings=settings, now_fn=lambda: NOW)
    # Same cells from the rollup as from the raw rows, on both engines.
    with Session(fresh_engine) as db:
        zones = repo.distinct_zones(db)
        window = complete_days(repo.data_bounds(db, now=NOW), zones, 40, now=NOW)
        assert window.first_day is not None
        assert window.last_day is not None
        for key in repo.ROLLUP_COUNTERS:
            for cohort in (None, "churnRiskLevel", "certificationLevel"):
                kw: Any = {"metric": METRICS[key], "first_day": window.first_day,
                           "last_day": window.last_day, "cohort": cohort}  # fmt: skip
                want_cells = repo.metric_cells(db, zones=zones, **kw)
                got_cells = repo.rollup_cells(db, **kw)
                assert sorted(map(_key, got_cells)) == sorted(map(_key, want_cells)), key
    # The service reads the rollup where it is the faster source (ROLLUP_ENGINES).
    for params, (want, raw_sql) in zip(views, raw, strict=True):
        got, rollup_sql = run(params)
        assert got == want, params
        assert not any("sum(tutor_daily." in s for s in raw_sql)
        read_rollup = any("sum(tutor_daily." in s for s in rollup_sql)
        assert read_rollup == (fresh_engine.dialect.name in ROLLUP_ENGINES)


def _key(cell: repo.Cell) -> tuple[Any, ...]:
    return (cell.cohort, str(parse_day(cell.day)), cell.num, cell.den)
