"""Pure rollup and health computations: local days, streaks across zones and DST, windows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from tutorpulse.engagement.platform import lifecycle, window_active_counts
from tutorpulse.engagement.rollups import (
    SESSION_COLUMNS,
    compute_daily,
    compute_health,
    local_dates,
)


def _events(rows: list[tuple[int, str, datetime]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["tutor_id", "event_type", "occurred_at"])
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"], utc=True)
    return frame


def _no_sessions() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in SESSION_COLUMNS})


def _tutors(zones: dict[int, str], last_login: dict[int, datetime] | None = None) -> pd.DataFrame:
    last_login = last_login or {}
    return pd.DataFrame(
        {
            "id": list(zones),
            "timezone": list(zones.values()),
            "last_login_at": pd.to_datetime([last_login.get(t) for t in zones], utc=True),
        }
    )


def test_local_dates_follow_each_zone() -> None:
    stamp = datetime(2025, 3, 1, 3, 30, tzinfo=UTC)
    stamps = pd.Series(pd.to_datetime([stamp] * 3, utc=True))
    zones = pd.Series(["America/Los_Angeles", "UTC", "Pacific/Auckland"])
    assert list(local_dates(stamps, zones)) == [
        date(2025, 2, 28),
        date(2025, 3, 1),
        date(2025, 3, 1),
    ]


@pytest.mark.parametrize("zone", ["America/New_York", "Europe/London", "Pacific/Auckland"])
def test_streak_counts_local_days_across_a_dst_change(zone: str) -> None:
    tz = ZoneInfo(zone)
    # Ten consecutive local evenings at 23:30 spanning the zone's 2025 DST change.
    first = {"America/New_York": date(2025, 3, 5), "Europe/London": date(2025, 3, 26),
             "Pacific/Auckland": date(2025, 4, 1)}[zone]  # fmt: skip
    logins = [
        datetime.combine(first + timedelta(days=i), datetime.min.time(), tz).replace(
            hour=23, minute=30
        )
        for i in range(10)
    ]
    events = _events([(1, "login", s.astimezone(UTC)) for s in logins])
    daily = compute_daily(events, _no_sessions(), pd.Series({1: zone}))
    assert len(daily) == 10  # one row per local day, even on the 23- or 25-hour day
    now = (logins[-1] + timedelta(hours=12)).astimezone(UTC)  # the next local day, before any login
    health = compute_health(daily, _tutors({1: zone}, {1: logins[-1]}), now=now).iloc[0]
    assert health["current_login_streak"] == 10
    assert health["longest_login_streak"] == 10
    assert health["days_since_last_login"] == 1
    later = compute_health(
        daily, _tutors({1: zone}, {1: logins[-1]}), now=now + timedelta(days=1)
    ).iloc[0]
    assert later["current_login_streak"] == 0  # a whole local day without a login breaks it
    assert later["longest_login_streak"] == 10


def test_same_instant_is_two_days_in_two_zones() -> None:
    # 09:30 and 10:30 UTC: 01:30/02:30 in Los Angeles (one day), 23:30/00:30 in UTC+14 (two).
    stamps = [datetime(2025, 3, 1, 9, 30, tzinfo=UTC), datetime(2025, 3, 1, 10, 30, tzinfo=UTC)]
    events = _events([(1, "login", s) for s in stamps] + [(2, "login", s) for s in stamps])
    daily = compute_daily(
        events, _no_sessions(), pd.Series({1: "America/Los_Angeles", 2: "Pacific/Kiritimati"})
    )
    assert daily.groupby("tutor_id").size().to_dict() == {1: 1, 2: 2}


def test_session_counters_and_health_windows() -> None:
    now = datetime(2025, 3, 1, 12, tzinfo=UTC)

    def s(days_ago: int, status: str, **kw: object) -> dict[str, object]:
        row: dict[str, object] = dict.fromkeys(SESSION_COLUMNS)
        row.update(tutor_id=1, scheduled_start=now - timedelta(days=days_ago), status=status, **kw)
        return row

    sessions = pd.DataFrame(
        [
            s(
                1,
                "completed",
                student_rating=5,
                engagement_score=8.0,
                is_first_session=True,
                actual_start=now - timedelta(days=1) + timedelta(minutes=4),
                would_recommend=True,
            ),
            s(
                3,
                "completed",
                student_rating=2,
                engagement_score=6.0,
                technical_issue=True,
                would_recommend=False,
            ),
            s(10, "completed", student_rating=4, is_first_session=True),
            s(12, "tutor_no_show"),
            s(13, "rescheduled", rescheduled_by="tutor"),
            s(14, "cancelled", cancelled_by="student"),
            s(40, "completed", student_rating=1),
        ]
    )
    for col in ("scheduled_start", "actual_start"):
        sessions[col] = pd.to_datetime(sessions[col], utc=True)
    daily = compute_daily(_events([]), sessions, pd.Series({1: "UTC"}))
    h = compute_health(daily, _tutors({1: "UTC"}), now=now).iloc[0]
    assert (h["sessions_7d"], h["sessions_30d"], h["sessions_total"]) == (2, 3, 4)
    assert h["avg_rating_7d"] == pytest.approx(3.5)
    assert h["avg_rating_30d"] == pytest.approx(11 / 3)
    assert h["avg_engagement"] == pytest.approx(7.0)
    assert h["first_session_count"] == 2
    assert h["first_session_avg_rating"] == pytest.approx(4.5)
    assert bool(h["poor_first_session_flag"]) is False
    assert h["technical_issue_rate"] == pytest.approx(1 / 4)
    assert h["recommendation_rate"] == pytest.approx(0.5)
    # 30d outcomes: 3 completed, 1 tutor no-show, 1 rescheduled, 1 cancelled → 6 due
    assert h["completion_rate_30d"] == pytest.approx(3 / 6)
    assert h["tutor_no_show_rate_30d"] == pytest.approx(1 / 6)
    assert h["reschedule_rate_tutor_30d"] == pytest.approx(1 / 6)
    assert h["reschedule_rate_student_30d"] == pytest.approx(0.0)
    assert h["avg_late_minutes_30d"] == pytest.approx(4.0)
    assert h["days_since_last_login"] is None
    assert h["current_login_streak"] == 0
    # Completed days: the earliest and the latest (the no-show and reschedule days later
    # than the first completion are not completions).
    assert h["first_completed_on"] == date(2025, 1, 20)
    assert h["last_completed_on"] == date(2025, 2, 28)


def test_window_active_counts_equal_a_brute_force_count() -> None:
    rng = pd.Series(range(400)).sample(frac=1, random_state=3).to_numpy()
    base = date(2025, 1, 1)
    rows = [(int(t % 37), base + timedelta(days=int(t * 7919 % 90))) for t in rng]
    active = pd.DataFrame(rows, columns=["tutor_id", "day"]).drop_duplicates()
    days = [base + timedelta(days=i) for i in range(29, 90)]
    for window in (1, 7, 30):
        fast = window_active_counts(active, days, window)
        for d in days:
            lo = d - timedelta(days=window - 1)
            brute = active[(active["day"] >= lo) & (active["day"] <= d)]["tutor_id"].nunique()
            assert fast[d] == brute


def test_lifecycle_buckets() -> None:
    w0, w1, w2 = date(2025, 1, 6), date(2025, 1, 13), date(2025, 1, 20)
    active = pd.DataFrame(
        [(1, w0), (1, w1), (2, w0), (3, w1), (4, w0 - timedelta(days=14)), (4, w1), (1, w2)],
        columns=["tutor_id", "day"],
    )
    first = pd.Series({1: w0, 2: w0, 3: w1, 4: w0 - timedelta(days=14)})
    table = lifecycle(active, first, [w1, w2])
    assert table.loc[w1].to_dict() == {
        "active_tutors": 3, "new_tutors": 1, "returning_tutors": 1,
        "resurrecting_tutors": 1, "dormant_tutors": 1,
    }  # fmt: skip
    assert table.loc[w2].to_dict() == {
        "active_tutors": 1, "new_tutors": 0, "returning_tutors": 1,
        "resurrecting_tutors": 0, "dormant_tutors": 2,
    }  # fmt: skip


def test_default_event_types_are_the_data_contracts() -> None:
    # core.settings cannot import the tutors domain, so it keeps its own copy.
    from tutorpulse.core.settings import DEFAULT_EVENT_TYPES
    from tutorpulse.tutors.contract import EVENT_TYPES

    assert tuple(DEFAULT_EVENT_TYPES) == tuple(EVENT_TYPES)
