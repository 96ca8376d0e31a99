"""The trend and heatmap cubes (``trends_cube``, ``heatmap_cube``) and the retention
bases: a trends or heatmap request that is not a stored default view is answered from
what ``analytics.warm`` stored, with the numbers the raw tables give, on both engines;
a stale cube, a tutor, or a longer window read the raw rows."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, delete, event, select
from sqlalchemy.orm import Session, sessionmaker

from tests.scratch import scratch_engine
from tutorpulse.analytics import heatmap_cube, service, snapshot_repository, snapshots, trends_cube
from tutorpulse.analytics.models import AnalyticsSnapshot, HeatmapCube, TrendCube
from tutorpulse.analytics.trends_cache import TrendsCache
from tutorpulse.analytics.trends_retention import base_key
from tutorpulse.analytics.trends_service import TrendParams, base_view, get_trends
from tutorpulse.analytics.warm import _store_cube
from tutorpulse.core import migrate
from tutorpulse.core.settings import Settings
from tutorpulse.engagement import refresh
from tutorpulse.tutors.importer import import_directory
from tutorpulse.world.config import WorldConfig
from tutorpulse.world.generator import World, generate_world
from tutorpulse.world.writer import write_world

NOW = datetime(2026, 6, 1, tzinfo=UTC)
INACTIVITY = 30
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cubed(
    database_url: str, database_backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[World, Engine]]:
    folder = tmp_path_factory.mktemp("cube-world")
    world = generate_world(WorldConfig(tutors=1500, days=90, seed=5, now=NOW))
    for eng in scratch_engine(database_url, database_backend, folder, "cube_world"):
        write_world(world, folder, fmt="parquet")
        migrate.upgrade(eng)
        assert import_directory(eng, directory=folder, now=NOW).error_count == 0
        settings = Settings(_env_file=None)  # type: ignore[call-arg]
        refresh.rebuild(sessionmaker(eng), settings=settings, now_fn=lambda: NOW)
        assert _store_cube(sessionmaker(eng), NOW)
        yield world, eng


@pytest.fixture
def statements(cubed: tuple[World, Engine]) -> Iterator[list[str]]:
    seen: list[str] = []

    def capture(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        seen.append(sql)

    eng = cubed[1]
    event.listen(eng, "before_cursor_execute", capture)
    yield seen
    event.remove(eng, "before_cursor_execute", capture)


def _close(a: Any, b: Any, path: str = "") -> None:
    """Equal, floats to 1e-9 relative (sums are added in another order)."""
    if isinstance(a, dict):
        assert isinstance(b, dict), path
        assert a.keys() == b.keys(), path
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list), path
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), (path, a, b)
    else:
        assert a == b, (path, a, b)


def _trends(eng: Engine, params: TrendParams, *, cached: bool, now: datetime = NOW) -> Any:
    cache = TrendsCache(300, background=False) if cached else None
    with Session(eng) as db:
        result = get_trends(db, params=params, now=now, inactivity_days=INACTIVITY, cache=cache)
    return result.model_dump(by_alias=True, mode="json")


def _subjects(world: World) -> list[str]:
    return sorted({str(s) for s in world.sessions["subject"].to_pylist() if s})


def test_the_cube_answers_every_kind_of_request_with_the_raw_numbers(
    cubed: tuple[World, Engine], statements: list[str]
) -> None:
    world, eng = cubed
    subject = _subjects(world)[0]
    cases = [
        TrendParams(type="engagement", days=45, metric="engagement", ma_window=3),
        TrendParams(type="engagement", days=60, metric="tutorNoShowRate", subject=subject),
        TrendParams(type="engagement", days=80, metric="technicalIssueRate", anomaly_threshold=2.0),
        TrendParams(type="engagement", days=14, metric="logins"),
        TrendParams(type="engagement", days=21, metric="sessions", subject=subject),
        TrendParams(type="seasonal", days=60, metric="rating"),
        TrendParams(type="seasonal", days=45, metric="studentNoShowRate", subject=subject),
        TrendParams(type="seasonal", days=30, metric="events"),
        TrendParams(type="cohort", days=60, metric="clarity", cohort_field="certificationLevel"),
        TrendParams(type="cohort", days=30, metric="satisfaction", cohort_field="churnRiskLevel"),
        TrendParams(type="cohort", days=50, metric="empathy", cohort_field="joinMonth"),
        TrendParams(type="cohort", days=40, metric="sessions", cohort_field="sessionSubject"),
        TrendParams(
            type="cohort",
            days=40,
            metric="engagement",
            cohort_field="primarySubject",
            subject=subject,
        ),
        TrendParams(type="cohort", days=20, metric="logins", cohort_field="joinMonth"),
        TrendParams(
            type="cohort",
            days=35,
            metric="tutorRescheduleRate",
            cohort_field="sessionSubject",
            subject=subject,
        ),
    ]
    for params in cases:
        raw = _trends(eng, params, cached=False)
        statements.clear()
        served = _trends(eng, params, cached=True)
        sql = "\n".join(statements)
        assert "trend_cube" in sql, params
        assert "tutor_session" not in sql, params
        assert "engagement_event" not in sql, params
        _close(served, raw, params.type)
        assert _has_data(served), params  # the comparison is not vacuous


def _has_data(body: dict[str, Any]) -> bool:
    if body["analysisType"] == "engagement":
        return bool(body["summary"]["sampleSize"] > 0)
    if body["analysisType"] == "seasonal":
        return sum(b["n"] for b in body["hourOfDay"]) > 0
    return len(body["cohorts"]) > 0 and all(c["sampleSize"] > 0 for c in body["cohorts"])


def test_a_stale_cube_a_tutor_or_a_longer_window_read_the_raw_rows(
    cubed: tuple[World, Engine], statements: list[str]
) -> None:
    world, eng = cubed
    tutor = str(world.tutors["tutor_id"][0].as_py())
    for params, now in (
        (TrendParams(type="engagement", days=45, metric="rating"), NOW + timedelta(seconds=601)),
        (TrendParams(type="engagement", days=45, metric="rating", tutor_id=tutor), NOW),
        (TrendParams(type="engagement", days=trends_cube.CUBE_DAYS + 1, metric="rating"), NOW),
    ):
        statements.clear()
        _trends(eng, params, cached=True, now=now)
        sql = "\n".join(statements)
        assert "tutor_session" in sql, params
        assert "FROM trend_cube" not in sql, params
    # Still fresh 600 s after the build (two refresh intervals), as the stored views.
    statements.clear()
    _trends(eng, TrendParams(type="engagement", days=45, metric="rating"), cached=True,
            now=NOW + timedelta(seconds=600))  # fmt: skip
    assert "FROM trend_cube" in "\n".join(statements)


def _cube_rows(eng: Engine) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with Session(eng) as db:
        trend = [
            tuple(r)[1:]
            for r in db.execute(select(TrendCube.__table__)).all()  # id first
        ]
        heat = [tuple(r)[1:] for r in db.execute(select(HeatmapCube.__table__)).all()]

    def key(row: tuple[Any, ...]) -> str:  # the cell's identity, not its sums
        return repr([v for v in row if not isinstance(v, float)][:7])

    return sorted(trend, key=key), sorted(heat, key=key)


def test_a_later_run_rebuilds_the_newest_days_and_one_chunk_and_equals_a_full_build(
    cubed: tuple[World, Engine], statements: list[str]
) -> None:
    _world, eng = cubed
    factory = sessionmaker(eng)
    with factory() as db:
        info = trends_cube.fresh(db, now=NOW, refresh_seconds=300)
    assert info is not None
    assert (info.last_day - info.first_day).days + 1 <= trends_cube.CUBE_DAYS
    trend, heat = _cube_rows(eng)
    assert info.rows == len(trend) > 0
    assert heat
    # The fixture's run was the first (everything); this one rebuilds the newest three
    # days and the oldest chunk, and leaves the cursor after that chunk.
    statements.clear()
    assert _store_cube(factory, NOW) == len(trend) + len(heat)
    # PostgreSQL: event cohorts from the current rollups (the events scanned by hour only)
    built = "\n".join(statements)
    on_pg = eng.dialect.name == "postgresql"
    assert ("FROM tutor_daily JOIN tutor" in built) is on_pg
    assert built.count("FROM engagement_event JOIN tutor") == (2 if on_pg else 10)
    with factory() as db:
        meta = snapshot_repository.load(db, trends_cube.META_KEY)
        heat_meta = snapshot_repository.load(db, heatmap_cube.META_KEY)
    assert meta is not None
    assert heat_meta is not None
    first, last = info.first_day, info.last_day
    chunk_end = first + timedelta(days=trends_cube.CHUNK_DAYS - 1)
    assert meta[1]["rebuilt"] == [
        [(last - timedelta(days=2)).isoformat(), last.isoformat()],
        [first.isoformat(), chunk_end.isoformat()],
    ]
    assert meta[1]["cursor"] == (chunk_end + timedelta(days=1)).isoformat()
    assert len(heat_meta[1]["rebuilt"]) == 2
    # The same cells as the full build (sums to 1e-9: PostgreSQL may add in parallel).
    after = _cube_rows(eng)
    for got, want in ((after[0], trend), (after[1], heat)):
        assert len(got) == len(want)
        for a, b in zip(got, want, strict=True):
            _close(list(a), list(b))


def test_without_a_cube_requests_compute_from_the_raw_rows(
    cubed: tuple[World, Engine], statements: list[str]
) -> None:
    _world, eng = cubed
    params = TrendParams(type="seasonal", days=30, metric="clarity")
    expected = _trends(eng, params, cached=True)
    with Session(eng) as db:
        db.execute(delete(AnalyticsSnapshot).where(AnalyticsSnapshot.key == trends_cube.META_KEY))
        db.commit()
    try:
        statements.clear()
        _close(_trends(eng, params, cached=True), expected)
        assert "tutor_session" in "\n".join(statements)
    finally:
        assert _store_cube(sessionmaker(eng), NOW)


def _heatmap(eng: Engine, *, metric: str, days: int, now: datetime, cache_seconds: int) -> Any:
    settings = Settings(_env_file=None, analytics_cache_seconds=cache_seconds)  # type: ignore[call-arg]
    with Session(eng) as db:
        return service.get_heatmap(
            db, settings=settings, now=now, metric_type=metric, days=days,
            tutor_external_id=None, stored=False,
        )  # fmt: skip


def test_the_heatmap_cube_gives_the_raw_heatmap_for_any_window(
    cubed: tuple[World, Engine], statements: list[str]
) -> None:
    _world, eng = cubed
    # 7.5 minutes after the build: the window's two edges are partial hours (raw rows)
    later = NOW + timedelta(minutes=7, seconds=30)
    for metric in service.HEATMAP_METRICS:
        for days in (1, 7, 30, 89):
            raw = _heatmap(eng, metric=metric, days=days, now=later, cache_seconds=0)
            statements.clear()
            served = _heatmap(eng, metric=metric, days=days, now=later, cache_seconds=300)
            assert "FROM heatmap_cube" in "\n".join(statements), (metric, days)
            assert served["n"] == raw["n"] > 0, (metric, days)
            _close(served, raw, f"{metric}:{days}")


def test_the_heatmap_reads_raw_rows_before_the_cube_span_or_when_it_is_stale(
    cubed: tuple[World, Engine], statements: list[str]
) -> None:
    _world, eng = cubed
    for days, now in (
        (trends_cube.CUBE_DAYS + 2, NOW),
        (7, NOW + timedelta(seconds=601)),
    ):
        statements.clear()
        _heatmap(eng, metric="engagement", days=days, now=now, cache_seconds=300)
        assert "FROM heatmap_cube" not in "\n".join(statements), days
    with Session(eng) as db:
        span = heatmap_cube.fresh(db, now=NOW, refresh_seconds=300)
    assert span is not None
    assert span.end == NOW
    assert span.end - span.start == timedelta(days=trends_cube.CUBE_DAYS)


def _store_bases(eng: Engine, inactivity_days: int = INACTIVITY) -> None:
    with Session(eng) as db:
        for period in ("week", "month"):
            payload = base_view(inactivity_days, NOW, period)(db)
            db.rollback()
            snapshots.store(db, base_key(period), payload, computed_at=NOW, seconds=0.0)
            db.commit()


def test_retention_for_any_horizon_is_computed_from_the_stored_base(
    cubed: tuple[World, Engine], statements: list[str]
) -> None:
    _world, eng = cubed
    _store_bases(eng)
    for days in (30, 45, 120, 200, 400):
        for period in ("week", "month"):
            params = TrendParams(type="retention", days=days, matrix_period=period)
            raw = _trends(eng, params, cached=False)
            statements.clear()
            served = _trends(eng, params, cached=True)
            sql = "\n".join(statements)
            assert "analytics_snapshot" in sql, (days, period)
            assert "tutor_daily" not in sql, (days, period)
            assert "tutor_session" not in sql, (days, period)
            assert served == raw, (days, period)
            assert served["summary"]["initialSize"] > 0
            assert len(served["matrix"]["rows"]) > 1
    # A later cohort start (first of a month, or any day) keeps the tutors who joined
    # since: exact, as the base counts matrix activity per join date.
    default = date.fromisoformat(served["cohortStartDate"])
    later = (default + timedelta(days=32)).replace(day=1)
    for start in (later, later + timedelta(days=9)):
        params = TrendParams(type="retention", days=60, cohort_start_date=start)
        raw = _trends(eng, params, cached=False)
        statements.clear()
        served = _trends(eng, params, cached=True)
        assert "tutor_daily" not in "\n".join(statements)
        assert served == raw
        assert served["cohortStartDate"] == start.isoformat()
        assert served["summary"]["initialSize"] > 0
    # A base built with another inactivity rule is not used.
    _store_bases(eng, inactivity_days=INACTIVITY + 1)
    for params in (
        TrendParams(type="retention", days=120),
        TrendParams(type="retention", days=60, cohort_start_date=later),
    ):
        statements.clear()
        assert _trends(eng, params, cached=True) == _trends(eng, params, cached=False)
        assert "tutor_daily" in "\n".join(statements)
