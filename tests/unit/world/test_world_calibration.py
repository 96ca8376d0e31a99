"""The generator hits the original brief's figures (DESIGN §10) within tolerance."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tutorpulse.world.config import DEFAULT_DAYS, DEFAULT_TUTORS, WorldConfig
from tutorpulse.world.generator import generate_world

NOW = datetime(2026, 5, 1, tzinfo=UTC)


def _check(achieved: dict[str, float], targets: dict[str, float], tol_share: float) -> None:
    assert achieved["sessions_per_day"] == pytest.approx(targets["sessions_per_day"], rel=0.08)
    assert achieved["churned_failed_first_share"] == pytest.approx(
        targets["churned_failed_first_share"], abs=tol_share
    )
    assert achieved["tutor_reschedule_share"] == pytest.approx(
        targets["tutor_reschedule_share"], abs=0.006
    )
    assert achieved["no_show_replacement_share"] == pytest.approx(
        targets["no_show_replacement_share"], abs=0.035
    )


def test_medium_world_hits_the_calibration_targets() -> None:
    world = generate_world(WorldConfig(tutors=10_000, days=DEFAULT_DAYS, seed=3, now=NOW))
    calibration = world.truth["calibration"]
    achieved, targets = calibration["achieved"], calibration["targets"]
    assert achieved["churned_tutors_with_first_session"] > 100
    assert achieved["tutor_replacements"] > 2000
    _check(achieved, targets, tol_share=0.07)
    assert 3.5 < achieved["events_per_session"] < 4.6


@pytest.mark.slow
def test_default_world_hits_the_calibration_targets() -> None:
    world = generate_world(WorldConfig(tutors=DEFAULT_TUTORS, days=DEFAULT_DAYS, seed=42, now=NOW))
    calibration = world.truth["calibration"]
    assert calibration["targets"]["sessions_per_day"] == 3000
    _check(calibration["achieved"], calibration["targets"], tol_share=0.05)
    assert calibration["achieved"]["sessions_per_day"] == pytest.approx(3000, rel=0.05)
