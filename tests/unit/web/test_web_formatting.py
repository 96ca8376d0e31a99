"""Pure helpers of the web layer: number formatting, sparklines, changes, redirects, aliases."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from tutorpulse.tutors.schemas import camel
from tutorpulse.tutors.service import compute_rating_weeks
from tutorpulse.web.auth import safe_next
from tutorpulse.web.templating import (
    change_text,
    change_tone,
    fmt_datetime,
    fmt_number,
    fmt_percent,
    sparkline_points,
)


def test_numbers_get_thousands_separators_and_missing_is_a_dash() -> None:
    assert fmt_number(1234567) == "1,234,567"
    assert fmt_number(1234.5, 1) == "1,234.5"
    assert fmt_number(4, 2) == "4.00"
    assert fmt_number(None) == "—"


def test_rates_are_percentages_with_one_decimal() -> None:
    assert fmt_percent(0.12345) == "12.3%"
    assert fmt_percent(2 / 3) == "66.7%"
    assert fmt_percent(0) == "0.0%"
    assert fmt_percent(12.5) == "1,250.0%"
    assert fmt_percent(None) == "—"


def test_datetimes_are_shown_in_the_display_zone_with_its_name() -> None:
    at = datetime(2025, 3, 1, 0, 30, tzinfo=UTC)
    assert fmt_datetime(at, ZoneInfo("UTC")) == "2025-03-01 00:30 UTC"
    assert fmt_datetime(at, ZoneInfo("America/New_York")) == "2025-02-28 19:30 EST"
    assert fmt_datetime(at, ZoneInfo("UTC"), with_zone=False) == "2025-03-01 00:30"


def test_change_text_and_tone() -> None:
    assert change_text(25.0, "%") == "▲ +25.0%"
    assert change_text(-8.333, "pp") == "▼ -8.3 pp"
    assert change_text(0.0, "%") == "▶ +0.0%"
    assert change_text(None, "%") == "no earlier data"
    assert change_tone(5, "up") == "good"
    assert change_tone(5, "down") == "bad"
    assert change_tone(-5, "down") == "good"
    assert change_tone(None, "up") == "flat"


def test_sparkline_scales_into_the_box_and_skips_gaps() -> None:
    points = sparkline_points([0, 5, None, 10], width=30, height=12)
    coords = [tuple(map(float, p.split(","))) for p in points.split()]
    assert [x for x, _ in coords] == [0.0, 10.0, 30.0]
    assert coords[0][1] == 10.0
    assert coords[-1][1] == 2.0
    assert sparkline_points([None, None]) == ""
    assert sparkline_points([3]) == ""
    flat = sparkline_points([2, 2, 2])
    assert len({p.split(",")[1] for p in flat.split()}) == 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "/"),
        ("", "/"),
        ("/tutors?q=a", "/tutors?q=a"),
        ("//evil.example", "/"),
        ("https://evil.example", "/"),
        ("/\\evil", "/"),
        ("tutors", "/"),
    ],
)
def test_safe_next_only_allows_local_paths(value: str | None, expected: str) -> None:
    assert safe_next(value) == expected


def test_camel_case_keeps_digit_groups_lower_case() -> None:
    assert camel("sessions_7d") == "sessions7d"
    assert camel("tutor_no_show_rate_30d") == "tutorNoShowRate30d"
    assert camel("tutor_id") == "tutorId"
    assert camel("name") == "name"


def test_rating_weeks_interval_matches_scipy() -> None:
    from scipy import stats

    now = datetime(2025, 3, 1, tzinfo=UTC)
    ratings = [5.0, 4.0, 4.0, 2.0]
    sums = [(0, len(ratings), sum(ratings), sum(r * r for r in ratings)), (2, 1, 3.0, 9.0)]
    weeks = compute_rating_weeks(sums, now=now, weeks=4)
    assert [w.n for w in weeks] == [0, 1, 0, 4]
    low, high = stats.t.interval(
        0.95, len(ratings) - 1, loc=stats.tmean(ratings), scale=stats.sem(ratings)
    )
    assert weeks[-1].mean == pytest.approx(3.75)
    assert weeks[-1].ci_low == pytest.approx(low)
    assert weeks[-1].ci_high == pytest.approx(high)
    assert weeks[1].ci_low is None
    assert weeks[0].mean is None
    assert weeks[-1].end == now
    assert weeks[0].start == datetime(2025, 2, 1, tzinfo=UTC)


def test_json_log_lines_carry_the_request_id_and_extra_fields() -> None:
    import json
    import logging

    from tutorpulse.core.logging import JsonFormatter, RequestIdFilter, request_id_var

    record = logging.LogRecord(
        "tutorpulse.access", logging.INFO, __file__, 1, "GET %s", ("/",), None
    )
    record.status = 200
    record.color_message = "\x1b[1mGET\x1b[0m"
    token = request_id_var.set("req-42")
    try:
        RequestIdFilter().filter(record)
    finally:
        request_id_var.reset(token)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "GET /"
    assert line["request_id"] == "req-42"
    assert line["status"] == 200
    assert line["level"] == "INFO"
    assert "color_message" not in line
