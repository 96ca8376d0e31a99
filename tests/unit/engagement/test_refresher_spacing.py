"""The background refresher keeps passes apart: bounded share of the process, bounded lag."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import sessionmaker

from tutorpulse.core.clock import SystemClock
from tutorpulse.core.settings import Settings
from tutorpulse.engagement.refresher import Refresher


def _refresher(**overrides: float) -> Refresher:
    settings = Settings(_env_file=None, **overrides)  # type: ignore[call-arg]
    return Refresher(sessionmaker(), settings, SystemClock())


@pytest.mark.parametrize(
    ("duration", "expected"),
    [
        (0.0, 10.0),  # quick passes: the minimum interval
        (1.0, 10.0),  # 1 s in 10 s is under the 25 % share
        (5.0, 20.0),  # 5 s passes: 20 s apart keeps them at 25 %
        (8.0, 32.0),
        (30.0, 40.0),  # very slow passes: capped, so health lags by at most ~a minute
    ],
)
def test_spacing_bounds_the_share_and_the_lag(duration: float, expected: float) -> None:
    assert _refresher().spacing(duration) == pytest.approx(expected)


def test_spacing_follows_the_settings() -> None:
    refresher = _refresher(
        engagement_refresh_min_interval_seconds=2,
        engagement_refresh_max_share=0.5,
        engagement_refresh_max_interval_seconds=30,
    )
    assert refresher.spacing(0.5) == pytest.approx(2.0)
    assert refresher.spacing(4.0) == pytest.approx(8.0)
    assert refresher.spacing(20.0) == pytest.approx(30.0)


def test_a_minimum_above_the_ceiling_wins() -> None:
    refresher = _refresher(
        engagement_refresh_min_interval_seconds=60, engagement_refresh_max_interval_seconds=40
    )
    assert refresher.spacing(100.0) == pytest.approx(60.0)
