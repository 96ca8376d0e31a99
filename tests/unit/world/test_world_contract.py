"""The generated tables follow the data contract (DESIGN §6) with valid, coherent values."""

from __future__ import annotations

import json
from datetime import timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa

from tutorpulse.world.config import (
    CERTIFICATION_LEVELS,
    EVENT_TYPES,
    GRADE_LEVELS,
    SESSION_STATUSES,
    SUBJECTS,
    WorldConfig,
)
from tutorpulse.world.generator import World

CONTRACT = {
    "tutors": [
        "tutor_id", "email", "name", "timezone", "subjects", "certification_level",
        "joined_on", "status", "churned_at", "last_login_at",
    ],
    "students": ["student_id", "grade_level", "timezone"],
    "sessions": [
        "session_id", "tutor_id", "student_id", "subject", "scheduled_start",
        "scheduled_minutes", "actual_start", "actual_end", "status", "cancelled_by",
        "rescheduled_by", "is_first_session", "student_rating", "student_satisfaction",
        "engagement_score", "empathy_score", "clarity_score", "technical_issue",
        "would_recommend", "rebooked",
    ],
    "events": ["event_id", "tutor_id", "event_type", "occurred_at", "data"],
}  # fmt: skip
Frames = dict[str, pd.DataFrame]


def _now(world: World) -> pd.Timestamp:
    return pd.Timestamp(world.config.now)


def test_tables_have_exactly_the_contract_columns(small_world: World) -> None:
    for name, table in small_world.tables().items():
        assert table.schema.names == CONTRACT[name], name
    sessions = small_world.sessions.schema
    assert sessions.field("scheduled_start").type == pa.timestamp("us", tz="UTC")
    assert sessions.field("is_first_session").type == pa.bool_()
    assert sessions.field("student_rating").type == pa.int32()
    assert small_world.tutors.schema.field("joined_on").type == pa.date32()


def test_tutors_are_valid(frames: Frames, small_world: World) -> None:
    tutors = frames["tutors"]
    assert tutors["tutor_id"].iloc[0] == "T0001"
    numbers = tutors["tutor_id"].str.slice(1).astype(int)
    assert tutors["tutor_id"].str.fullmatch(r"T\d{4,}").all()
    assert (numbers.to_numpy() == np.arange(1, len(tutors) + 1)).all()
    assert tutors["email"].is_unique
    assert tutors["email"].str.fullmatch(r"[a-z]+\.[a-z]+\d+@example\.com").all()
    assert tutors["name"].str.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+").all()
    zones = tutors["timezone"].unique()
    assert len(zones) >= 8
    for zone in zones:
        ZoneInfo(zone)
    subjects = tutors["subjects"].str.split(";")
    assert subjects.map(lambda s: set(s) <= set(SUBJECTS) and len(set(s)) == len(s)).all()
    assert subjects.map(len).between(1, 3).all()
    assert set(tutors["certification_level"]) == set(CERTIFICATION_LEVELS)
    assert set(tutors["status"]) == {"active", "paused", "churned"}
    churned = tutors["status"] == "churned"
    assert tutors.loc[churned, "churned_at"].notna().all()
    assert tutors.loc[~churned, "churned_at"].isna().all()
    now = _now(small_world)
    assert (tutors["churned_at"].dropna() < now).all()
    assert (tutors["last_login_at"] < now).all()
    joined = pd.to_datetime(tutors["joined_on"]).dt.tz_localize("UTC")
    window_start = now - timedelta(days=small_world.config.days)
    assert (joined < window_start).mean() > 0.5
    assert (joined >= window_start).sum() > 50
    assert (joined <= now).all()


def test_students_are_valid_and_all_referenced(frames: Frames) -> None:
    students, sessions = frames["students"], frames["sessions"]
    assert students["student_id"].is_unique
    assert students["student_id"].str.fullmatch(r"ST\d{7}").all()
    assert set(students["grade_level"]) == set(GRADE_LEVELS)
    for zone in students["timezone"].unique():
        ZoneInfo(zone)
    assert set(sessions["student_id"]) == set(students["student_id"])


def test_session_values_are_in_range(frames: Frames, small_world: World) -> None:
    s = frames["sessions"]
    assert s["session_id"].is_unique
    assert s["session_id"].str.fullmatch(r"S\d{8}").all()
    assert s["session_id"].is_monotonic_increasing
    assert set(s["tutor_id"]) <= set(frames["tutors"]["tutor_id"])
    assert set(s["status"]) == set(SESSION_STATUSES)
    assert set(s["scheduled_minutes"]) == {30, 60, 90}
    assert set(s["subject"]) == set(SUBJECTS)
    taught = frames["tutors"].set_index("tutor_id")["subjects"].str.split(";")
    assert all(subj in taught[t] for t, subj in zip(s["tutor_id"], s["subject"], strict=True))

    cancelled, rescheduled = s["status"] == "cancelled", s["status"] == "rescheduled"
    assert s.loc[cancelled, "cancelled_by"].isin(["tutor", "student"]).all()
    assert s.loc[~cancelled, "cancelled_by"].isna().all()
    assert s.loc[rescheduled, "rescheduled_by"].isin(["tutor", "student"]).all()
    assert s.loc[~rescheduled, "rescheduled_by"].isna().all()

    completed = s["status"] == "completed"
    feedback = [
        "student_rating", "student_satisfaction", "engagement_score", "empathy_score",
        "clarity_score", "technical_issue", "would_recommend", "rebooked", "actual_start",
        "actual_end",
    ]  # fmt: skip
    for column in feedback:
        assert s.loc[~completed, column].isna().all(), column
    done = s[completed]
    assert done["student_rating"].dropna().between(1, 5).all()
    assert set(done["student_rating"].dropna().astype(int)) == {1, 2, 3, 4, 5}
    assert done["student_satisfaction"].dropna().between(1, 10).all()
    unrated = done["student_rating"].isna().mean()
    assert 0.1 < unrated < 0.5, "some students do not rate"
    for column in ("engagement_score", "empathy_score", "clarity_score"):
        scores = done[column].dropna()
        assert scores.between(1, 10).all()
        assert np.allclose(scores * 10, np.round(scores * 10))
    assert done["technical_issue"].notna().all()
    assert 0.02 < done["technical_issue"].mean() < 0.12
    assert (done["actual_end"] > done["actual_start"]).all()
    late = done["actual_start"] - done["scheduled_start"]
    assert (late > pd.Timedelta(minutes=5)).mean() > 0.02, "some tutors start late"
    assert (late < pd.Timedelta(minutes=21)).all()


def test_past_and_future_sessions(frames: Frames, small_world: World) -> None:
    s = frames["sessions"]
    now = _now(small_world)
    end = s["scheduled_start"] + pd.to_timedelta(s["scheduled_minutes"], unit="min")
    scheduled = s["status"] == "scheduled"
    assert (end[~scheduled] <= now).all(), "every outcome lies in the past"
    assert (end[scheduled] > now).all(), "status scheduled only for sessions not yet over"
    assert (s["actual_end"].dropna() < now).all()
    future = s["scheduled_start"] >= now
    assert scheduled[future].all()
    assert future.sum() > 1000
    horizon = now + timedelta(days=small_world.config.future_days)
    assert (s["scheduled_start"] < horizon).all()
    assert (s["scheduled_start"] >= now - timedelta(days=small_world.config.days)).all()


def test_first_session_flag_marks_first_pairing(frames: Frames, small_world: World) -> None:
    s = frames["sessions"].sort_values(["scheduled_start", "session_id"])
    # Cancelled and rescheduled bookings never took place: the first pairing is
    # the earliest session that did (or was missed).
    s = s[~s["status"].isin(["cancelled", "rescheduled"])]
    pair = s["student_id"] + "/" + s["tutor_id"]
    flagged = s[s["is_first_session"]]
    assert not (flagged["student_id"] + "/" + flagged["tutor_id"]).duplicated().any()
    first_rows = s.groupby(pair, sort=False).head(1)
    assert set(flagged.index) <= set(first_rows.index), "a flag sits on the pair's first session"
    # Pairs that first meet well inside the window are flagged on that first session
    # (except the rare student who returns to a tutor met before the window).
    late_start = pd.Timestamp(small_world.config.window_start) + timedelta(days=45)
    new_pairs = first_rows[first_rows["scheduled_start"] >= late_start]
    assert len(new_pairs) > 500
    assert new_pairs["is_first_session"].mean() > 0.99
    # Pairs that met before the window have no flag.
    assert (~first_rows["is_first_session"]).sum() > 100


def test_rebooked_means_the_pair_meets_again(frames: Frames) -> None:
    s = frames["sessions"].sort_values(["scheduled_start", "session_id"])
    pair = s["student_id"] + "/" + s["tutor_id"]
    has_later = pair.duplicated(keep="last")
    done = s["status"] == "completed"
    assert (s.loc[done, "rebooked"] == has_later[done]).all()


def test_churned_and_paused_tutors_have_no_activity_afterwards(
    frames: Frames, small_world: World
) -> None:
    tutors = frames["tutors"].set_index("tutor_id")
    churned_at = tutors["churned_at"].dropna()
    assert len(churned_at) > 50
    s = frames["sessions"]
    t_end = s["tutor_id"].map(churned_at)
    last = s["actual_end"].fillna(s["scheduled_start"])
    assert not (last >= t_end).any()
    e = frames["events"]
    assert not (e["occurred_at"] >= e["tutor_id"].map(churned_at)).any()
    paused = {
        tid: pd.Timestamp(v["paused_at"])
        for tid, v in small_world.truth["tutors"].items()
        if v["paused_at"] is not None
    }
    assert len(paused) == (tutors["status"] == "paused").sum() > 0
    paused_at = pd.Series(paused)
    assert not (s["scheduled_start"] >= s["tutor_id"].map(paused_at)).any()
    assert not (e["occurred_at"] >= e["tutor_id"].map(paused_at)).any()


def test_events_are_valid(frames: Frames, small_world: World) -> None:
    e, s = frames["events"], frames["sessions"]
    assert e["event_id"].str.fullmatch(r"E\d{9}").all()
    assert e["event_id"].is_unique
    assert e["event_id"].is_monotonic_increasing
    assert e["occurred_at"].is_monotonic_increasing
    assert set(e["event_type"]) == set(EVENT_TYPES)
    now = _now(small_world)
    assert (e["occurred_at"] < now).all()
    assert (e["occurred_at"] >= now - timedelta(days=small_world.config.days)).all()
    joined = pd.to_datetime(e["tutor_id"].map(frames["tutors"].set_index("tutor_id")["joined_on"]))
    assert (e["occurred_at"] >= joined.dt.tz_localize("UTC")).all()
    data = e["data"].map(json.loads)
    linked = e["event_type"].isin(["session_scheduled", "session_completed"])
    assert (data[~linked].map(len) == 0).all()
    session_ref = data[linked].map(lambda d: d["sessionId"])
    by_id = s.set_index("session_id")
    assert (by_id.loc[session_ref, "tutor_id"].to_numpy() == e.loc[linked, "tutor_id"]).all()
    completed = e["event_type"] == "session_completed"
    ref = data[completed].map(lambda d: d["sessionId"])
    assert (by_id.loc[ref, "actual_end"].to_numpy() == e.loc[completed, "occurred_at"]).all()
    assert len(ref) == (s["status"] == "completed").sum()
    per_session = len(e) / len(s)
    assert 3.0 < per_session < 5.5


def test_bookings_follow_local_weekly_patterns(frames: Frames) -> None:
    s = frames["sessions"].merge(frames["students"], on="student_id")
    local = pd.Series(
        [ts.tz_convert(tz) for ts, tz in zip(s["scheduled_start"], s["timezone"], strict=True)]
    )
    hour = local.map(lambda t: t.hour)
    weekday = local.map(lambda t: t.weekday())
    school = s["grade_level"].isin(["elementary", "middle_school", "high_school"]).to_numpy()
    on_weekday = (weekday < 5).to_numpy() & school
    afternoon = hour.between(15, 20).to_numpy()
    assert afternoon[on_weekday].mean() > 0.6, "weekday evenings are busiest"
    saturday = (weekday == 5).to_numpy() & school
    assert hour[saturday].between(8, 12).mean() > 2 * hour[saturday].between(17, 22).mean()
    assert (weekday == 4).mean() < (weekday == 1).mean(), "Fridays are quieter"
    assert hour.between(1, 5).mean() < 0.01, "hardly anyone books at night"


def test_tutors_teach_in_their_local_working_hours(frames: Frames) -> None:
    zones = frames["tutors"].set_index("tutor_id")["timezone"]
    s = frames["sessions"].sample(5000, random_state=1)
    hours = pd.Series(
        [
            t.tz_convert(zones[tid]).hour
            for t, tid in zip(s["scheduled_start"], s["tutor_id"], strict=True)
        ]
    )
    assert hours.between(7, 22).mean() > 0.97


def test_sessions_behave_like_a_marketplace(frames: Frames) -> None:
    s = frames["sessions"]
    done = s[s["status"] == "completed"]
    first = done[done["is_first_session"]]
    good = first["student_rating"] >= 4
    poor = first["student_rating"] <= 2
    assert first.loc[good, "rebooked"].mean() > first.loc[poor, "rebooked"].mean() + 0.2
    tech = done["technical_issue"].astype(bool)
    assert done.loc[tech, "student_rating"].mean() < done.loc[~tech, "student_rating"].mean() - 0.3
    # Students mostly stay with one tutor per subject.
    tutors_per_need = s.groupby(["student_id", "subject"])["tutor_id"].nunique()
    assert (tutors_per_need == 1).mean() > 0.7
    rescheduled = s[s["status"] == "rescheduled"]
    assert (rescheduled["rescheduled_by"] == "tutor").mean() > 0.9
    cancelled = s[s["status"] == "cancelled"]
    assert set(cancelled["cancelled_by"]) == {"tutor", "student"}


def test_config_rejects_naive_now() -> None:
    import pytest

    with pytest.raises(ValueError, match="timezone-aware"):
        WorldConfig(tutors=100, days=30, seed=1, now=pd.Timestamp("2026-01-01").to_pydatetime())
