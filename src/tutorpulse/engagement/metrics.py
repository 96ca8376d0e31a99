"""Engagement metrics: the original's metric comparison, timelines and platform metrics.

Windows are whole local days read from the rollups (``tutor_daily`` for one tutor,
``platform_daily`` for the platform), never raw rows, so every answer costs a few
small reads. "Today" is the last day the platform rollup covers (the latest
local date among the tutors' zones).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from tutorpulse.core.errors import ErrorDetail, Invalid, NotFound
from tutorpulse.engagement import metrics_repository as mrepo
from tutorpulse.engagement.models import PlatformDaily
from tutorpulse.engagement.platform import week_start, weekday_hour_matrix

METRIC_TYPES = tuple(mrepo.METRIC_COLUMNS)
STABLE_PERCENT = 2.0  # the original's threshold: |change| < 2 % is "stable"
MAX_DAYS = 365
MAX_PAGE = 1000


@dataclass(frozen=True)
class Cursor:
    occurred_at: datetime
    event_id: int

    def encode(self) -> str:
        raw = f"{self.occurred_at.isoformat()}|{self.event_id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str, *, field: str = "cursor") -> Cursor:
        try:
            padded = value + "=" * (-len(value) % 4)
            stamp, event_id = base64.urlsafe_b64decode(padded).decode().split("|")
            return cls(datetime.fromisoformat(stamp), int(event_id))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise Invalid.field(field, "is not a cursor returned by this API") from None


def _tutor_or_404(db: Session, external_id: str) -> int:
    tutor_id = mrepo.tutor_id_for(db, external_id)
    if tutor_id is None:
        raise NotFound(f"Unknown tutor {external_id!r}", [ErrorDetail("tutorId", "no such tutor")])
    return tutor_id


def today_for(db: Session, now: datetime) -> date:
    """The last day of the platform rollup, or today's UTC date if nothing is rolled up."""
    latest = mrepo.latest_platform_day(db)
    return latest if latest is not None else now.date()


def events_window(
    db: Session,
    *,
    tutor_external_id: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    """A page of events (newest first) with ``nextCursor`` (None on the last page)."""
    tutor_id = None if tutor_external_id is None else _tutor_or_404(db, tutor_external_id)
    after = None if cursor is None else Cursor.decode(cursor)
    rows = mrepo.events_page(
        db,
        tutor_id=tutor_id,
        since=since,
        until=until,
        limit=limit + 1,
        after=None if after is None else (after.occurred_at, after.event_id),
    )
    page = rows[:limit]
    next_cursor = Cursor(page[-1][3], page[-1][0]).encode() if len(rows) > limit else None
    return {
        "events": [
            {"id": r[0], "tutorId": r[1], "eventType": r[2], "timestamp": r[3], "eventData": r[4]}
            for r in page
        ],
        "count": len(page),
        "nextCursor": next_cursor,
    }


def timeline(
    db: Session,
    *,
    tutor_external_id: str,
    limit: int,
    days: int | None,
    cursor: str | None,
    now: datetime,
) -> dict[str, Any]:
    """The original's timeline (``{events, count}``), bounded and paged by cursor."""
    since = None if days is None else now - timedelta(days=days)
    page = events_window(
        db,
        tutor_external_id=tutor_external_id,
        since=since,
        until=None,
        limit=limit,
        cursor=cursor,
    )
    for event in page["events"]:
        event.pop("tutorId")
    return page


def _trend(value: float, previous: float | None) -> tuple[str, float | None]:
    if previous is None or previous <= 0:
        return "stable", None
    change = (value - previous) / previous * 100.0
    return ("stable" if abs(change) < STABLE_PERCENT else "up" if change > 0 else "down"), change


def metric_comparison(
    db: Session,
    *,
    tutor_external_id: str | None,
    metric_type: str,
    days: int,
    period: int,
    now: datetime,
) -> dict[str, Any]:
    """Mean of a session metric over the last ``days`` days vs the ``period`` days before.

    As in the original: ``value`` is 0 when the window has no rated sessions and
    ``previousValue`` is null when the previous window is empty; ``percentChange``
    is null unless the previous value is positive.
    """
    if metric_type not in METRIC_TYPES:
        raise Invalid.field("metricType", f"must be one of {', '.join(METRIC_TYPES)}")
    end = today_for(db, now)
    start = end - timedelta(days=days - 1)
    prev_end = start - timedelta(days=1)
    prev_start = prev_end - timedelta(days=period - 1)
    if tutor_external_id is not None:
        tutor_id = _tutor_or_404(db, tutor_external_id)
        cur = mrepo.tutor_window_sums(
            db, tutor_id=tutor_id, metric=metric_type, start=start, end=end
        )
        prev = mrepo.tutor_window_sums(
            db, tutor_id=tutor_id, metric=metric_type, start=prev_start, end=prev_end
        )
    else:
        cur = mrepo.platform_window_sums(db, metric=metric_type, start=start, end=end)
        prev = mrepo.platform_window_sums(db, metric=metric_type, start=prev_start, end=prev_end)
    value = cur[0] / cur[1] if cur[1] else 0.0
    previous = prev[0] / prev[1] if prev[1] else None
    trend, change = _trend(value, previous)
    return {
        "metricType": metric_type,
        "value": round(value, 4),
        "previousValue": None if previous is None else round(previous, 4),
        "trend": trend,
        "percentChange": None if change is None else round(change, 2),
        "currentPeriodCount": cur[1],
        "previousPeriodCount": prev[1],
        "window": {"start": start, "end": end},
        "previousWindow": {"start": prev_start, "end": prev_end},
    }


def _ratio(num: float, den: float) -> float | None:
    return None if not den else num / den


# Platform answers change only when the refresh recomputes the platform totals, so
# they are kept per (database, window, refresh stamp, day): a repeated request costs
# one small read. Bounded; a process serves one database in production.
_PLATFORM_CACHE: dict[tuple[str, int, str, date], dict[str, Any]] = {}
_PLATFORM_CACHE_MAX = 64


def platform_metrics(db: Session, *, days: int, now: datetime) -> dict[str, Any]:
    """``compute_platform_metrics``, cached until the next platform refresh."""
    stamp = mrepo.platform_refresh_stamp(db)
    if stamp is None:
        return compute_platform_metrics(db, days=days, now=now)
    key = (db.get_bind().engine.url.render_as_string(), days, stamp, now.date())
    cached = _PLATFORM_CACHE.get(key)
    if cached is None:
        if len(_PLATFORM_CACHE) >= _PLATFORM_CACHE_MAX:
            _PLATFORM_CACHE.clear()
        cached = _PLATFORM_CACHE[key] = compute_platform_metrics(db, days=days, now=now)
    return cached


def compute_platform_metrics(db: Session, *, days: int, now: datetime) -> dict[str, Any]:
    """DAU/WAU/MAU, stickiness, activation, streaks, login recency, event counts, lifecycle.

    Active = logged in or completed a session that local day. The KPIs are the
    last complete day's (``kpiDay``, the day before ``asOfDay``), compared with the
    same figure ``days`` days earlier; the series and window sums run to ``asOfDay``.
    """
    end = today_for(db, now)
    start = end - timedelta(days=days - 1)
    history_start = start - timedelta(days=days)
    rows = mrepo.platform_days(db, start=history_start, end=end)
    by_day = {r.day: r for r in rows}
    # KPIs are read on the last complete day: today is still filling up, and a
    # partial day would show every figure falling.
    kpi_day = end - timedelta(days=1)
    current = by_day.get(kpi_day)
    before = by_day.get(kpi_day - timedelta(days=days))

    def kpi(name: str) -> dict[str, Any]:
        value = getattr(current, name) if current is not None else 0
        previous = getattr(before, name) if before is not None else None
        trend, change = _trend(float(value), None if previous is None else float(previous))
        return {
            "value": value,
            "previousValue": previous,
            "percentChange": None if change is None else round(change, 2),
            "trend": trend,
        }

    stick_now = _ratio(current.dau, current.mau) if current is not None else None
    stick_before = _ratio(before.dau, before.mau) if before is not None else None
    window = [r for r in rows if r.day >= start]
    event_counts: dict[str, int] = {}
    for r in window:
        for key, count in (r.event_counts or {}).items():
            event_counts[key] = event_counts.get(key, 0) + int(count)
    weeks = mrepo.platform_weeks(db, start=week_start(start), end=end)
    return {
        "asOfDay": end,
        "kpiDay": kpi_day,
        "computedAt": mrepo.platform_computed_at(db),
        "definition": "active = logged in or completed a session on the tutor's local day",
        "dau": kpi("dau"),
        "wau": kpi("wau"),
        "mau": kpi("mau"),
        "stickiness": {
            "value": None if stick_now is None else round(stick_now, 4),
            "previousValue": None if stick_before is None else round(stick_before, 4),
        },
        "series": [
            {
                "date": r.day,
                "dau": r.dau,
                "wau": r.wau,
                "mau": r.mau,
                "stickiness": None if not r.mau else round(r.dau / r.mau, 4),
            }
            for r in window
        ],
        "eventTypeCounts": dict(sorted(event_counts.items(), key=lambda kv: -kv[1])),
        "heatmap": {
            "weekdays": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
            "counts": weekday_hour_matrix(
                [r.day for r in window], [list(r.hourly) for r in window]
            ),
            "definition": "events per local weekday and hour over the window",
        },
        "lifecycle": [
            {
                "weekStart": w.week_start,
                "active": w.active_tutors,
                "new": w.new_tutors,
                "returning": w.returning_tutors,
                "resurrecting": w.resurrecting_tutors,
                "dormant": -w.dormant_tutors,
            }
            for w in weeks
        ],
        "activation": activation(db, today=end),
        **mrepo.health_summary(db),
    }


def activation(db: Session, *, today: date, months: int = 12) -> list[dict[str, Any]]:
    """Share of each join-month cohort with a completed session within 7 / 30 days."""
    first = date(today.year, today.month, 1)
    for _ in range(months - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    rows = mrepo.activation_by_cohort(db, joined_from=first, today=today)
    for row in rows:
        row["rate7d"] = _round(_ratio(row["activated7d"], row["eligible7d"]))
        row["rate30d"] = _round(_ratio(row["activated30d"], row["eligible30d"]))
    return rows


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def streak_leaderboard(db: Session, *, limit: int) -> list[dict[str, Any]]:
    return mrepo.streak_leaders(db, limit=limit)


def platform_day_rows(db: Session, *, days: int, end: date) -> list[PlatformDaily]:
    return list(mrepo.platform_days(db, start=end - timedelta(days=days - 1), end=end))
