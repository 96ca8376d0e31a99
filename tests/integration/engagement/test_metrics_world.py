"""Health and platform metrics on a generated world equal a straightforward pandas computation.

The pandas side works from the generator's raw tables with plain per-row local
dates (``tz_convert`` per tutor), independently of the rollup code.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from tutorpulse.core import migrate
from tutorpulse.core.db import make_session_factory
from tutorpulse.core.settings import Settings
from tutorpulse.engagement import metrics, refresh
from tutorpulse.tutors import importer
from tutorpulse.world.config import WorldConfig
from tutorpulse.world.generator import World, generate_world
from tutorpulse.world.writer import write_world

WORLD_END = datetime(2026, 6, 1, tzinfo=UTC)
NOW = WORLD_END + timedelta(hours=9)  # mid-day in Europe, night in the Americas


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[World, Path]:
    folder = tmp_path_factory.mktemp("metrics-world")
    generated = generate_world(WorldConfig(tutors=400, days=90, seed=23, now=WORLD_END))
    write_world(generated, folder, fmt="parquet")
    return generated, folder


def _local(frame: pd.DataFrame, column: str, zones: pd.Series) -> pd.Series:
    stamps = pd.to_datetime(frame[column], utc=True)
    out = []
    for stamp, tutor in zip(stamps, frame["tutor_id"], strict=True):
        out.append(None if pd.isna(stamp) else stamp.tz_convert(zones[tutor]))
    return pd.Series(out, index=frame.index, dtype=object)


def _expected(
    generated: World,
) -> tuple[pd.DataFrame, dict[str, object], pd.DataFrame, pd.DataFrame]:
    tutors = generated.tutors.to_pandas().set_index("tutor_id")
    zones = tutors["timezone"]
    sessions = generated.sessions.to_pandas()
    events = generated.events.to_pandas()
    sessions["local"] = _local(sessions, "scheduled_start", zones)
    sessions["day"] = [t.date() for t in sessions["local"]]
    events["local"] = _local(events, "occurred_at", zones)
    events["day"] = [t.date() for t in events["local"]]
    today = {t: pd.Timestamp(NOW).tz_convert(z).date() for t, z in zones.items()}
    rows = []
    for tutor in tutors.index:
        td = today[tutor]
        s = sessions[sessions["tutor_id"] == tutor]
        e = events[events["tutor_id"] == tutor]
        s = s[s["day"] <= td]
        e = e[e["day"] <= td]
        done = s[s["status"] == "completed"]
        age_s = np.array([(td - d).days for d in s["day"]])
        age_done = np.array([(td - d).days for d in done["day"]])
        logins = e[e["event_type"] == "login"]
        age_l = np.array([(td - d).days for d in logins["day"]])
        due = s[(s["status"] != "scheduled") & (age_s < 30)]
        rated = done[(age_done < 30) & done["student_rating"].notna()]
        login_days = sorted(set(logins["day"]))
        longest = run = 0
        prev = None
        for d in login_days:
            run = run + 1 if prev is not None and (d - prev).days == 1 else 1
            longest = max(longest, run)
            prev = d
        current = run if login_days and (td - login_days[-1]).days <= 1 else 0
        last_login = tutors.loc[tutor, "last_login_at"]
        rows.append({
            "tutor_id": tutor,
            "sessions_7d": int((age_done < 7).sum()),
            "sessions_30d": int((age_done < 30).sum()),
            "logins_30d": int((age_l < 30).sum()),
            "avg_rating_30d": rated["student_rating"].astype(float).mean() if len(rated) else None,
            "tutor_no_show_rate_30d": (due["status"] == "tutor_no_show").mean() if len(due) else None,
            "current_login_streak": current,
            "longest_login_streak": longest,
            "days_since_last_login": None if pd.isna(last_login)
            else (td - pd.Timestamp(last_login).tz_convert(zones[tutor]).date()).days,
        })  # fmt: skip
    expected = pd.DataFrame(rows).set_index("tutor_id")
    return expected, {"today": today}, sessions, events


def test_health_and_platform_metrics_match_pandas(
    fresh_engine: Engine, world: tuple[World, Path]
) -> None:
    generated, folder = world
    migrate.upgrade(fresh_engine)
    importer.import_directory(fresh_engine, directory=folder, now=WORLD_END)
    factory = make_session_factory(fresh_engine)
    refresh.rebuild(factory, settings=Settings(_env_file=None), now_fn=lambda: NOW)  # type: ignore[call-arg]
    expected, _, sessions, events = _expected(generated)
    with fresh_engine.connect() as conn:
        got = pd.read_sql(
            text(
                "SELECT t.external_id AS ext_id, h.* FROM tutor_health h "
                "JOIN tutor t ON t.id = h.tutor_id"
            ),
            conn,
        ).set_index("ext_id")
    assert len(got) == len(expected)
    for column in expected.columns:
        ours = got.loc[expected.index, column]
        theirs = expected[column]
        for tutor in expected.index:
            a, b = ours[tutor], theirs[tutor]
            if b is None or (isinstance(b, float) and np.isnan(b)):
                assert a is None or (isinstance(a, float) and np.isnan(a)), (column, tutor, a, b)
            else:
                assert a == pytest.approx(b), (column, tutor, a, b)
    assert expected["logins_30d"].sum() > 0  # the comparison is not vacuous

    with Session(fresh_engine) as db:
        body = metrics.metric_comparison(
            db, tutor_external_id=None, metric_type="engagement", days=7, period=30, now=NOW
        )
        platform = metrics.platform_metrics(db, days=7, now=NOW)
    start, end = body["window"]["start"], body["window"]["end"]
    window = sessions[(sessions["status"] == "completed") & sessions["day"].between(start, end)]
    scored = window["engagement_score"].dropna()
    assert body["currentPeriodCount"] == len(scored) > 0
    assert body["value"] == pytest.approx(scored.mean(), abs=1e-4)
    kpi: date = platform["kpiDay"]
    active = pd.concat([
        events.loc[events["event_type"] == "login", ["tutor_id", "day"]],
        sessions.loc[sessions["status"] == "completed", ["tutor_id", "day"]],
    ])  # fmt: skip
    for key, width in (("dau", 1), ("wau", 7), ("mau", 30)):
        inside = active[active["day"].between(kpi - timedelta(days=width - 1), kpi)]
        assert platform[key]["value"] == inside["tutor_id"].nunique(), key
    in_window = events[events["day"].between(start, end)]
    assert platform["eventTypeCounts"] == in_window["event_type"].value_counts().to_dict()
    hours = [[0] * 24 for _ in range(7)]
    for stamp in in_window["local"]:
        hours[stamp.weekday()][stamp.hour] += 1
    assert platform["heatmap"]["counts"] == hours
