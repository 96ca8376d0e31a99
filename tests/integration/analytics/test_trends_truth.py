"""The trends analytics recover what the generated world planted (truth.json).

One world with effects (an injected no-show week, one subject whose engagement
drifts down) and one without, each imported once per engine into a database of
its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests.scratch import scratch_engine
from tutorpulse.analytics.trends_service import TrendParams, get_trends
from tutorpulse.core import migrate
from tutorpulse.tutors.importer import import_directory
from tutorpulse.world.config import WorldConfig
from tutorpulse.world.generator import World, generate_world
from tutorpulse.world.writer import write_world

NOW = datetime(2026, 6, 1, tzinfo=UTC)
INACTIVITY = 30
pytestmark = pytest.mark.slow


def _database(
    database_url: str, database_backend: str, folder: Path, name: str
) -> Iterator[Engine]:
    yield from scratch_engine(database_url, database_backend, folder, name)


def _load(world: World, eng: Engine, folder: Path) -> None:
    write_world(world, folder, fmt="parquet")
    migrate.upgrade(eng)
    report = import_directory(eng, directory=folder, now=NOW)
    assert report.error_count == 0


@pytest.fixture(scope="module")
def planted(
    database_url: str, database_backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[World, Engine, Path]]:
    folder = tmp_path_factory.mktemp("trends-world")
    world = generate_world(WorldConfig(tutors=4000, days=120, seed=11, now=NOW))
    for eng in _database(database_url, database_backend, folder, "trends_world"):
        _load(world, eng, folder)
        yield world, eng, folder


@pytest.fixture(scope="module")
def null_world(
    database_url: str, database_backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[World, Engine]]:
    folder = tmp_path_factory.mktemp("trends-null")
    world = generate_world(WorldConfig(tutors=4000, days=120, seed=11, now=NOW, effects=False))
    for eng in _database(database_url, database_backend, folder, "trends_null"):
        _load(world, eng, folder)
        yield world, eng


def _run(eng: Engine, **params: Any) -> Any:
    with Session(eng) as db:
        return get_trends(
            db, params=TrendParams(**params), now=NOW, inactivity_days=INACTIVITY
        ).model_dump(by_alias=True, mode="json")


def test_the_injected_no_show_week_is_flagged_and_few_other_days_are(planted: Any) -> None:
    world, eng, _ = planted
    truth = world.truth["anomaly"]
    start = date.fromisoformat(truth["start"])
    week = {(start + timedelta(days=i)).isoformat() for i in range(7)}
    body = _run(eng, type="engagement", metric="tutorNoShowRate", days=120)
    flagged = {a["date"]: a for a in body["anomalies"]}
    inside = week & set(flagged)
    assert len(inside) >= 5, flagged
    assert all(flagged[d]["direction"] == "above" for d in inside)
    assert all(flagged[d]["value"] > flagged[d]["expectedHigh"] for d in inside)
    outside_days = len(body["data"]) - 7
    assert len(set(flagged) - week) <= 0.05 * outside_days


def test_the_trending_subject_is_found_with_the_right_sign(planted: Any) -> None:
    world, eng, _ = planted
    truth = world.truth["quality_trend"]
    body = _run(eng, type="cohort", metric="engagement", cohort_field="sessionSubject", days=120)
    trends = {c["cohort"]: c["trend"] for c in body["cohorts"]}
    found = trends[truth["subject"]]
    assert found["direction"] == "decreasing"
    assert found["slopeCiHigh"] < 0
    assert found["slopeCiLow"] <= truth["slope_per_day"] <= found["slopeCiHigh"]
    others = [t["slope"] for name, t in trends.items() if name not in (truth["subject"], "unknown")]
    assert min(others) > found["slope"]
    single = _run(eng, type="engagement", metric="engagement", subject=truth["subject"], days=120)
    assert single["trend"]["slope"] == pytest.approx(found["slope"], rel=1e-9)


def test_the_null_world_has_no_trending_subject_and_few_anomalies(null_world: Any) -> None:
    world, eng = null_world
    assert world.truth["anomaly"] is None
    planted_slope = abs(WorldConfig(tutors=10, days=14, seed=0, now=NOW).trend_slope_per_day)
    body = _run(eng, type="cohort", metric="engagement", cohort_field="sessionSubject", days=120)
    assert all(abs(c["trend"]["slope"]) < planted_slope / 2 for c in body["cohorts"])
    series = _run(eng, type="engagement", metric="tutorNoShowRate", days=120)
    assert len(series["anomalies"]) <= 0.05 * len(series["data"])


def test_weekly_and_daily_booking_patterns(planted: Any) -> None:
    _, eng, _ = planted
    body = _run(eng, type="seasonal", metric="sessions", days=56)
    assert body["dayOfWeekTest"]["pValue"] < 0.001
    assert body["insights"]["daysDiffer"] is True
    days = {b["label"]: b["value"] for b in body["dayOfWeek"]}
    assert days["Friday"] < days["Thursday"]  # the world books quieter Fridays
    hours = {b["key"]: b["value"] for b in body["hourOfDay"]}
    assert max(hours, key=lambda h: hours[h]) in range(15, 21)  # afternoon/evening peak
    assert hours[3] < hours[17] / 20  # the small hours are nearly empty


def test_retention_matches_lifelines_on_durations_rebuilt_from_the_files(planted: Any) -> None:
    _, eng, folder = planted
    body = _run(eng, type="retention", days=90)
    tutors = pd.read_parquet(folder / "tutors.parquet")
    sessions = pd.read_parquet(folder / "sessions.parquet")
    start = date.fromisoformat(body["cohortStartDate"])
    end = pd.Timestamp(NOW)
    tutors["joined_on"] = pd.to_datetime(tutors["joined_on"])
    t = tutors[tutors["joined_on"] >= pd.Timestamp(start)].copy()
    done = sessions[(sessions["status"] == "completed") & (sessions["scheduled_start"] < end)]
    last_done = done.groupby("tutor_id")["scheduled_start"].max()
    t["last"] = pd.concat(
        [t["tutor_id"].map(last_done), pd.to_datetime(t["last_login_at"], utc=True)], axis=1
    ).max(axis=1)
    joined = t["joined_on"].dt.tz_localize("UTC")
    t["last"] = t["last"].fillna(joined)
    churned = (t["status"] == "churned") & t["churned_at"].notna()
    inactive = (end - t["last"]) >= pd.Timedelta(days=INACTIVITY)
    lost = churned | inactive
    when = np.where(churned, pd.to_datetime(t["churned_at"], utc=True), t["last"])
    when = pd.to_datetime(np.where(lost, when, end), utc=True)
    durations = np.floor((when - joined).dt.total_seconds() / 86_400).clip(lower=0)
    cohort = t["joined_on"].dt.strftime("%Y-%m")
    assert [c["cohort"] for c in body["cohorts"]] == sorted(cohort.unique())
    for c in body["cohorts"]:
        mask = (cohort == c["cohort"]).to_numpy()
        assert c["size"] == int(mask.sum())
        assert c["lost"] == int(lost.to_numpy()[mask].sum())
        kmf = KaplanMeierFitter().fit(durations.to_numpy()[mask], lost.to_numpy()[mask])
        for s in c["survivalAt"]:
            if s["survival"] is not None:
                want = float(kmf.survival_function_at_times(s["day"]).iloc[0])
                assert s["survival"] == pytest.approx(want, abs=1e-9)
    # The planted churn shows: most cohorts lose tutors, and no matrix cell after the
    # data end is filled in.
    assert body["overall"]["lost"] > 0
    for row in body["matrix"]["rows"]:
        cells = row["cells"]
        first_gap = next((i for i, v in enumerate(cells) if v is None), len(cells))
        assert all(v is None for v in cells[first_gap:])
