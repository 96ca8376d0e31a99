"""Which days (hours) a run of ``analytics.warm`` rebuilds in the trend (heatmap) cube."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from tutorpulse.analytics import heatmap_cube, trends_cube
from tutorpulse.analytics.trends_cube import CHUNK_DAYS, CubeInfo, plan

D = timedelta(days=1)
FIRST, LAST = date(2025, 6, 1), date(2026, 5, 31)
ZONES = ["Europe/Berlin", "UTC"]


def _info(first: date = FIRST, last: date = LAST, cursor: date | None = None) -> CubeInfo:
    return CubeInfo(
        now=datetime(2026, 6, 1, tzinfo=UTC), first=None, last=None, zones=ZONES,
        first_day=first, last_day=last, rows=1, cursor=cursor,
    )  # fmt: skip


def test_everything_without_a_usable_stored_cube() -> None:
    whole = ([(FIRST, LAST)], None)
    assert plan(None, first_day=FIRST, last_day=LAST, zones=ZONES) == whole
    assert plan(_info(), first_day=FIRST, last_day=LAST, zones=["UTC"]) == whole
    # data now starts earlier than the stored span: its first days are missing
    assert plan(_info(first=FIRST + D), first_day=FIRST, last_day=LAST, zones=ZONES) == whole
    # the stored span ends before the new one starts
    old = _info(first=FIRST - 400 * D, last=FIRST - 2 * D)
    assert plan(old, first_day=FIRST, last_day=LAST, zones=ZONES) == whole


def test_the_newest_days_and_the_chunks_in_turn() -> None:
    ranges, cursor = plan(_info(), first_day=FIRST, last_day=LAST, zones=ZONES)
    assert ranges == [(LAST - 2 * D, LAST), (FIRST, FIRST + (CHUNK_DAYS - 1) * D)]
    assert cursor == FIRST + CHUNK_DAYS * D
    seen: set[date] = set()
    runs = 0
    while True:
        ranges, cursor = plan(_info(cursor=cursor), first_day=FIRST, last_day=LAST, zones=ZONES)
        runs += 1
        a, b = ranges[1]
        seen |= {a + i * D for i in range((b - a).days + 1)}
        if cursor == FIRST:
            break
    older = (LAST - 2 * D - FIRST).days
    assert len(seen | {FIRST + i * D for i in range(CHUNK_DAYS)}) == older
    assert runs + 1 == -(-older // CHUNK_DAYS)  # every older day once per cycle


def test_days_added_since_the_last_run_are_rebuilt_with_the_newest() -> None:
    ranges, _ = plan(
        _info(first=FIRST - 5 * D, last=LAST - 5 * D), first_day=FIRST, last_day=LAST, zones=ZONES
    )
    assert ranges[0] == (LAST - 4 * D, LAST)
    # a cursor before the (moved) window start starts over at the window start
    ranges, _ = plan(
        _info(first=FIRST - 5 * D, cursor=FIRST - 3 * D), first_day=FIRST, last_day=LAST,
        zones=ZONES,
    )  # fmt: skip
    assert ranges[1][0] == FIRST


def test_the_heatmap_plan_follows_hours() -> None:
    now = datetime(2026, 6, 1, 10, 20, tzinfo=UTC)
    span = heatmap_cube.span_for(now)
    assert span.end == datetime(2026, 6, 1, 10, tzinfo=UTC)
    assert span.end - span.start == timedelta(days=trends_cube.CUBE_DAYS)
    assert heatmap_cube.plan(None, span) == ([(span.start, span.end)], None)
    earlier = heatmap_cube.Span(
        start=span.start - timedelta(hours=2), end=span.end - timedelta(hours=2)
    )
    ranges, cursor = heatmap_cube.plan(earlier, span)
    recent = span.end - timedelta(days=trends_cube.RECENT_DAYS)
    assert ranges == [(recent, span.end), (span.start, span.start + CHUNK_DAYS * D)]
    assert cursor == span.start + CHUNK_DAYS * D
    assert heatmap_cube.floor_hour(now) == span.end
    assert heatmap_cube.ceil_hour(now) == span.end + timedelta(hours=1)
    assert heatmap_cube.ceil_hour(span.end) == span.end
