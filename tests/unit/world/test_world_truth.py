"""truth.json lists the planted effects, and they (and only they) are in the data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from scipy import stats

from tutorpulse.world.calibration import compute_calibration
from tutorpulse.world.config import SUBJECTS
from tutorpulse.world.generator import World
from tutorpulse.world.writer import truth_json


def test_truth_file_is_sorted_json_of_the_world(small_world: World, small_world_dir: Path) -> None:
    text = (small_world_dir / "truth.json").read_text()
    assert text == truth_json(small_world.truth)
    loaded = json.loads(text)
    assert list(loaded) == sorted(loaded)
    assert loaded["config"]["seed"] == small_world.config.seed


def test_truth_lists_the_planted_effects(
    small_world: World, frames: dict[str, pd.DataFrame]
) -> None:
    truth = small_world.truth
    assert truth["effects_enabled"] is True
    churn = truth["churn"]
    coefs = churn["model"]["coefficients"]
    assert set(coefs) == {"reliability_z", "skill_z", "motivation_z"}
    assert all(value < 0 for value in coefs.values())
    assert churn["poor_first_session"]["hazard_ratio"] > 1
    assert churn["poor_first_session"]["window_days"] > 0
    tutors = frames["tutors"]
    churned = tutors.loc[tutors["status"] == "churned"].set_index("tutor_id")["churned_at"]
    assert set(churn["churned_at"]) == set(churned.index)
    for tid, at in churn["churned_at"].items():
        assert pd.Timestamp(at) == churned[tid]
    assert churn["upcoming_churn_on"], "some tutors are disengaging at now"
    assert truth["no_show"]["model"]["coefficients"]["reliability_z"] < 0
    assert truth["no_show"]["drivers"] == ["reliability_z", "motivation_z"]
    anomaly = truth["anomaly"]
    assert anomaly["metric"] == "tutor_no_show_rate"
    assert anomaly["multiplier"] > 1
    assert anomaly["observed_rate_inside"] > 1.8 * anomaly["observed_rate_outside"]
    trend = truth["quality_trend"]
    assert trend["subject"] in SUBJECTS
    assert trend["metric"] == "engagement_score"
    for key in ("failed_first_session", "tutor_replacement", "churned_tutor_failed_first_session"):
        assert key in truth["definitions"]
    per_tutor = truth["tutors"]
    assert len(per_tutor) == len(tutors)
    entry = per_tutor["T0001"]
    for key in ("churn_hazard_now", "churn_probability_30d", "no_show_propensity", "reliability"):
        assert key in entry
    achieved = truth["calibration"]["achieved"]
    assert set(truth["calibration"]["targets"]) <= set(achieved)


def test_calibration_is_recomputable_from_the_files(
    small_world: World, small_world_dir: Path
) -> None:
    tutors = pq.read_table(small_world_dir / "tutors.parquet")
    sessions = pq.read_table(small_world_dir / "sessions.parquet")
    recomputed = compute_calibration(
        tutors, sessions, now=small_world.config.now, days=small_world.config.days
    )
    achieved = small_world.truth["calibration"]["achieved"]
    for key, value in recomputed.items():
        assert achieved[key] == value, key


def _no_show_by_tertile(world: World, trait: str) -> np.ndarray:
    s = world.sessions.to_pandas()
    due = s[s["status"].isin(["completed", "tutor_no_show", "student_no_show"])]
    z = pd.Series({tid: v[trait] for tid, v in world.truth["tutors"].items()})
    tertile = pd.qcut(due["tutor_id"].map(z), 3, labels=False)
    return np.asarray(pd.crosstab(tertile, due["status"] == "tutor_no_show").to_numpy())


def _churn_by_tertile(world: World, trait: str) -> np.ndarray:
    t = world.tutors.to_pandas()
    z = t["tutor_id"].map({tid: v[trait] for tid, v in world.truth["tutors"].items()})
    return np.asarray(pd.crosstab(pd.qcut(z, 3, labels=False), t["status"] == "churned"))


def test_planted_no_shows_follow_reliability(effects_world: World) -> None:
    table = _no_show_by_tertile(effects_world, "reliability_z")
    rates = table[:, 1] / table.sum(axis=1)
    assert rates[0] > 2 * rates[2], "least reliable third no-shows far more"
    assert stats.chi2_contingency(table).pvalue < 1e-6


def test_no_effects_removes_the_no_show_dependence(flat_world: World) -> None:
    table = _no_show_by_tertile(flat_world, "reliability_z")
    assert stats.chi2_contingency(table).pvalue > 0.01
    rates = table[:, 1] / table.sum(axis=1)
    assert rates.max() < 1.3 * rates.min()


def test_planted_churn_follows_motivation(effects_world: World) -> None:
    assert stats.chi2_contingency(_churn_by_tertile(effects_world, "motivation_z")).pvalue < 1e-4


def test_no_effects_removes_the_churn_dependence(flat_world: World) -> None:
    for trait in ("motivation_z", "reliability_z", "skill_z"):
        assert stats.chi2_contingency(_churn_by_tertile(flat_world, trait)).pvalue > 0.01


def _engagement_slopes(world: World) -> dict[str, float]:
    s = world.sessions.to_pandas()
    s = s[s["engagement_score"].notna()]
    day = (s["scheduled_start"] - s["scheduled_start"].min()).dt.total_seconds() / 86_400
    return {
        subject: float(np.polyfit(day[s["subject"] == subject], s.loc[s["subject"] == subject, "engagement_score"], 1)[0])
        for subject in SUBJECTS
    }  # fmt: skip


def test_planted_trend_and_anomaly_are_in_the_data(effects_world: World) -> None:
    trend = effects_world.truth["quality_trend"]
    slopes = _engagement_slopes(effects_world)
    planted = trend["slope_per_day"]
    assert abs(slopes[trend["subject"]] - planted) < 0.4 * abs(planted)
    others = [v for k, v in slopes.items() if k != trend["subject"]]
    assert max(abs(v) for v in others) < abs(planted) / 3

    anomaly = effects_world.truth["anomaly"]
    s = effects_world.sessions.to_pandas()
    s = s[s["status"] != "scheduled"]
    start, end = (
        pd.Timestamp(anomaly["start"], tz="UTC"),
        pd.Timestamp(anomaly["end_exclusive"], tz="UTC"),
    )
    inside = s["scheduled_start"].between(start, end, inclusive="left")
    no_show = s["status"] == "tutor_no_show"
    assert no_show[inside].mean() > 2 * no_show[~inside].mean()


def test_no_effects_world_has_nothing_planted(flat_world: World) -> None:
    truth = flat_world.truth
    assert truth["effects_enabled"] is False
    assert truth["anomaly"] is None
    assert truth["quality_trend"] is None
    assert set(truth["churn"]["model"]["coefficients"].values()) == {0.0}
    assert truth["churn"]["poor_first_session"]["hazard_ratio"] == 1.0
    assert set(truth["no_show"]["model"]["coefficients"].values()) == {0.0}
    assert max(abs(v) for v in _engagement_slopes(flat_world).values()) < 0.002
    s = flat_world.sessions.to_pandas()
    s = s[s["status"] != "scheduled"]
    week = s["scheduled_start"].dt.tz_convert(None).dt.to_period("W")
    weekly = s.groupby(week)["status"].apply(lambda x: (x == "tutor_no_show").mean())
    assert weekly.iloc[1:-1].max() < 2 * weekly.iloc[1:-1].median()


def test_activity_fades_before_churn(effects_world: World) -> None:
    tutors = effects_world.tutors.to_pandas()
    events = effects_world.events.to_pandas()
    start = pd.Timestamp(effects_world.config.window_start)
    churned = tutors.dropna(subset=["churned_at"])
    churned = churned[churned["churned_at"] >= start + pd.Timedelta(days=60)]
    assert len(churned) > 100
    at = events["tutor_id"].map(churned.set_index("tutor_id")["churned_at"])
    before = (at - events["occurred_at"]).dt.total_seconds() / 86_400
    last_two_weeks = before.between(0, 14, inclusive="right").sum()
    two_months_before = before.between(46, 60, inclusive="right").sum()
    assert last_two_weeks < 0.5 * two_months_before

    # Tutors known to be disengaging at `now` (truth) are quieter than the rest.
    upcoming = set(effects_world.truth["churn"]["upcoming_churn_on"])
    now = pd.Timestamp(effects_world.config.now)
    recent = events[events["occurred_at"] >= now - pd.Timedelta(days=14)]
    per_tutor = recent.groupby("tutor_id").size().reindex(tutors["tutor_id"], fill_value=0)
    active = tutors.set_index("tutor_id")["status"] == "active"
    fading = per_tutor[active & per_tutor.index.isin(upcoming)]
    others = per_tutor[active & ~per_tutor.index.isin(upcoming)]
    assert len(fading) > 30
    assert fading.mean() < 0.6 * others.mean()


def test_truth_no_show_propensity_predicts_observed_no_shows(effects_world: World) -> None:
    s = effects_world.sessions.to_pandas()
    due = s[s["status"].isin(["completed", "tutor_no_show", "student_no_show"])]
    per_tutor = due.groupby("tutor_id")["status"].agg(
        ["size", lambda x: (x == "tutor_no_show").mean()]
    )
    per_tutor.columns = ["n", "rate"]
    per_tutor = per_tutor[per_tutor["n"] >= 20]
    truth = pd.Series(
        {t: v["no_show_propensity"] for t, v in effects_world.truth["tutors"].items()}
    )
    rho = stats.spearmanr(truth[per_tutor.index], per_tutor["rate"]).statistic
    assert rho > 0.2
