"""The fast formatters and time helpers agree with the standard library."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from tutorpulse.world.arrow import format_ids, format_iso_utc, take_labels
from tutorpulse.world.churn import churn_probability_within, make_hazard_model
from tutorpulse.world.clock import (
    DAY,
    TZ_NAMES,
    build_offset_table,
    civil_from_days,
    day_of_week,
    epoch_day,
)
from tutorpulse.world.config import parse_now


def test_format_ids_matches_printf() -> None:
    numbers = np.array([1, 9, 10, 999, 1000, 9999, 10_000, 123_456])
    got = format_ids("T", numbers, 4).to_pylist()
    assert got == [f"T{n:04d}" for n in numbers]
    assert format_ids("S", np.arange(1, 4), 8).to_pylist() == [
        "S00000001",
        "S00000002",
        "S00000003",
    ]


def test_format_iso_utc_matches_isoformat() -> None:
    rng = np.random.default_rng(0)
    seconds = rng.integers(0, 4_102_444_800, size=2000)  # 1970 .. 2100
    valid = rng.random(2000) > 0.1
    got = format_iso_utc(seconds, valid).to_pylist()
    expected = [
        datetime.fromtimestamp(int(s), tz=UTC).isoformat() if v else None
        for s, v in zip(seconds, valid, strict=True)
    ]
    assert got == expected


def test_take_labels_maps_codes_and_nulls() -> None:
    assert take_labels(("a", "b"), np.array([1, -1, 0])).to_pylist() == ["b", None, "a"]


def test_calendar_helpers_match_datetime() -> None:
    days = np.arange(-800, 80_000, 37)
    y, m, d = civil_from_days(days)
    for day, yy, mm, dd in zip(days[:200], y[:200], m[:200], d[:200], strict=True):
        date = datetime(1970, 1, 1) + timedelta(days=int(day))
        assert (date.year, date.month, date.day) == (yy, mm, dd)
        assert date.weekday() == day_of_week(np.array([day]))[0]


@pytest.mark.parametrize("when", ["2026-03-07", "2026-03-09", "2026-10-25", "2026-11-02"])
def test_local_to_utc_handles_daylight_saving(when: str) -> None:
    day = epoch_day(datetime.fromisoformat(when).replace(tzinfo=UTC))
    table = build_offset_table(day - 3, day + 3)
    tz = np.arange(len(TZ_NAMES))
    utc = table.local_to_utc(tz, np.full(tz.size, day), np.full(tz.size, 17 * 3600))
    for k, name in enumerate(TZ_NAMES):
        local = datetime.fromisoformat(f"{when}T17:00:00").replace(tzinfo=ZoneInfo(name))
        assert int(local.timestamp()) == utc[k], name
    local_day, local_sec = table.utc_to_local_day(tz, utc)
    assert (local_day == day).all()
    assert (local_sec == 17 * 3600).all()
    assert utc.min() > (day - 1) * DAY


def test_churn_probability_respects_the_lag() -> None:
    hazard = np.array([0.0, 0.001, 0.01])
    p = churn_probability_within(hazard, 30, (14, 42))
    assert p[0] == 0.0
    assert 0 < p[1] < p[2] < 1
    assert churn_probability_within(np.array([1.0]), 10, (14, 42))[0] == 0.0
    model = make_hazard_model(baseline=0.001, effects=False, hazard_ratio=3, window_days=60)
    z = np.linspace(-2, 2, 5)
    assert np.allclose(model.static_hazard(z, z, z), 0.001)


def test_parse_now() -> None:
    assert parse_now("2026-05-01") == datetime(2026, 5, 1, tzinfo=UTC)
    assert parse_now("2026-05-01T02:00:00+02:00") == datetime(2026, 5, 1, tzinfo=UTC)
    assert parse_now(None).hour == 0
    with pytest.raises(ValueError, match="soon"):
        parse_now("soon")
