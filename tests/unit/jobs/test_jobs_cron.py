"""Crontab expressions mean what crontab means (APScheduler 3 alone gets weekdays wrong)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tutorpulse.core.jobs_cron import CronSyntaxError, next_fire_time, validate_cron

WEDNESDAY_NOON = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("0 2 * * 1", datetime(2026, 3, 9, 2, 0, tzinfo=UTC)),  # Monday, as in vercel.json
        ("0 2 * * 0", datetime(2026, 3, 8, 2, 0, tzinfo=UTC)),  # Sunday
        ("0 2 * * 7", datetime(2026, 3, 8, 2, 0, tzinfo=UTC)),  # Sunday again
        ("0 2 * * sun", datetime(2026, 3, 8, 2, 0, tzinfo=UTC)),
        ("0 2 * * 1-5", datetime(2026, 3, 5, 2, 0, tzinfo=UTC)),  # next weekday is Thursday
        ("0 2 * * 5-7", datetime(2026, 3, 6, 2, 0, tzinfo=UTC)),  # Fri, Sat, Sun
        ("0 2 * * */3", datetime(2026, 3, 7, 2, 0, tzinfo=UTC)),  # Sun, Wed, Sat
        ("30 3 * * *", datetime(2026, 3, 5, 3, 30, tzinfo=UTC)),
        ("0 * * * *", datetime(2026, 3, 4, 13, 0, tzinfo=UTC)),
        ("0 */6 * * *", datetime(2026, 3, 4, 18, 0, tzinfo=UTC)),
        ("@weekly", datetime(2026, 3, 8, 0, 0, tzinfo=UTC)),
        ("@daily", datetime(2026, 3, 5, 0, 0, tzinfo=UTC)),
        ("0 0 1 * *", datetime(2026, 4, 1, 0, 0, tzinfo=UTC)),
    ],
)
def test_next_fire_time_follows_crontab(expression: str, expected: datetime) -> None:
    assert next_fire_time(expression, WEDNESDAY_NOON) == expected


def test_next_fire_time_is_strictly_after() -> None:
    at_the_hour = datetime(2026, 3, 4, 13, 0, tzinfo=UTC)
    assert next_fire_time("0 * * * *", at_the_hour) == datetime(2026, 3, 4, 14, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("every tuesday", "five fields"),
        ("0 2 * *", "five fields"),
        ("0 2 1 * 1", "restricts both"),
        ("0 2 * * 8", "0-7"),
        ("0 2 * * 5-1", "backwards"),
        ("61 * * * *", r"higher than the maximum value \(59\)"),
        ("0 2 * * */0", "step"),
    ],
)
def test_invalid_expressions_are_refused_with_a_reason(expression: str, reason: str) -> None:
    with pytest.raises(CronSyntaxError, match=reason):
        validate_cron(expression)


def test_validate_normalises_spacing() -> None:
    assert validate_cron("  0   2 * *  1 ") == "0 2 * * 1"
