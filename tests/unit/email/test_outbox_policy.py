"""Sending policy: backoff, quiet hours in local time (DST too), frequency cap, token bucket."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tutorpulse.email.outbox import message_id_for
from tutorpulse.email.policy import (
    MAX_BACKOFF,
    TokenBucket,
    backoff_delay,
    frequency_cap_until,
    in_quiet_hours,
    quiet_hours_end,
)


def test_backoff_doubles_and_is_capped() -> None:
    delays = [backoff_delay(n, base_seconds=60).total_seconds() for n in (1, 2, 3, 4)]
    assert delays == [60, 120, 240, 480]
    assert backoff_delay(40, base_seconds=60) == MAX_BACKOFF


@pytest.mark.parametrize(
    ("hour", "start", "end", "quiet"),
    [
        (22, 21, 8, True),
        (3, 21, 8, True),
        (8, 21, 8, False),
        (20, 21, 8, False),
        (13, 12, 14, True),
        (14, 12, 14, False),
        (5, 0, 0, False),
    ],
)
def test_quiet_hour_windows(hour: int, start: int, end: int, quiet: bool) -> None:
    assert in_quiet_hours(hour, start=start, end=end) is quiet


def test_quiet_hours_end_in_the_tutors_time_zone() -> None:
    at = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)  # 00:00 in Tokyo, 07:00 in Los Angeles
    assert quiet_hours_end(at, zone="Asia/Tokyo", start=21, end=8) == datetime(
        2025, 3, 3, 23, 0, tzinfo=UTC
    )
    assert quiet_hours_end(at, zone="America/Los_Angeles", start=21, end=8) == datetime(
        2025, 3, 3, 16, 0, tzinfo=UTC
    )
    assert quiet_hours_end(at, zone="Europe/London", start=21, end=8) is None
    # An unknown zone is treated as UTC rather than failing the send.
    assert quiet_hours_end(at, zone="Mars/Olympus", start=21, end=8) is None


def test_quiet_hours_across_a_daylight_saving_change() -> None:
    # New York springs forward on 2025-03-09: 22:00 EST on the 8th → 08:00 EDT on the 9th.
    at = datetime(2025, 3, 9, 3, 0, tzinfo=UTC)
    assert quiet_hours_end(at, zone="America/New_York", start=21, end=8) == datetime(
        2025, 3, 9, 12, 0, tzinfo=UTC
    )


def test_frequency_cap() -> None:
    now = datetime(2025, 3, 10, tzinfo=UTC)
    week = timedelta(days=7)
    recheck = timedelta(minutes=1)
    sends = [now - timedelta(days=1), now - timedelta(days=5)]
    assert (
        frequency_cap_until(
            now, recent_sends=sends[:1], in_flight=0, cap=2, window=week, recheck=recheck
        )
        is None
    )
    assert frequency_cap_until(
        now, recent_sends=sends, in_flight=0, cap=2, window=week, recheck=recheck
    ) == now + timedelta(days=2)
    assert (
        frequency_cap_until(
            now, recent_sends=sends[:1], in_flight=1, cap=2, window=week, recheck=recheck
        )
        == now + recheck
    )
    old = [now - timedelta(days=8), now - timedelta(days=9)]
    assert (
        frequency_cap_until(now, recent_sends=old, in_flight=0, cap=2, window=week, recheck=recheck)
        is None
    )
    assert (
        frequency_cap_until(
            now, recent_sends=sends, in_flight=5, cap=0, window=week, recheck=recheck
        )
        is None
    )


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_token_bucket_spaces_sends_at_the_rate() -> None:
    fake = FakeTime()
    bucket = TokenBucket(10, capacity=1, monotonic=fake.monotonic, sleep=fake.sleep)
    for _ in range(11):
        bucket.acquire()
    assert fake.now == pytest.approx(1.0)  # 11 sends at 10/s: one free, ten 0.1 s apart
    unlimited = TokenBucket(0, monotonic=fake.monotonic, sleep=fake.sleep)
    before = len(fake.slept)
    for _ in range(100):
        unlimited.acquire()
    assert len(fake.slept) == before


def test_token_bucket_allows_a_burst_up_to_its_capacity() -> None:
    fake = FakeTime()
    bucket = TokenBucket(5, capacity=5, monotonic=fake.monotonic, sleep=fake.sleep)
    for _ in range(5):
        bucket.acquire()
    assert fake.slept == []
    bucket.acquire()
    assert fake.slept == [pytest.approx(0.2)]


def test_message_ids_are_stable_and_distinct() -> None:
    first = message_id_for(7, "api:abc", "Team <team@tutors.example>")
    assert first == message_id_for(7, "api:abc", "Team <team@tutors.example>")
    assert first != message_id_for(8, "api:abc", "Team <team@tutors.example>")
    assert first.startswith("<intervention-7.")
    assert first.endswith("@tutors.example>")
