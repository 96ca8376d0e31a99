"""The mini chart of an alert's detail: the tutor's recent daily values behind the rule.

Each rule metric maps to one daily series of ``tutor_daily`` (local days): a count
per day (missing days are 0) or a daily mean (sum ÷ count; missing days have no
value). The series ends on the day of the alert's last evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, timedelta

from sqlalchemy.orm import Session

from tutorpulse.alerts import repository
from tutorpulse.alerts.models import Alert
from tutorpulse.alerts.schemas import EvidenceTrend, TrendPoint

TREND_DAYS = 30


@dataclass(frozen=True)
class Series:
    label: str
    unit: str
    column: str
    count_column: str | None = None  # a daily mean: column ÷ count_column


LOGINS = Series("Logins per day", "logins", "logins")
SESSIONS = Series("Completed sessions per day", "sessions", "sessions_completed")
RATING = Series("Average student rating per day", "stars (1-5)", "rating_sum", "rating_count")
ENGAGEMENT = Series(
    "Average engagement score per day", "score (0-10)", "engagement_sum", "engagement_count"
)
SERIES: dict[str, Series] = {
    "days_since_last_login": LOGINS,
    "login_ratio": LOGINS,
    "logins_14d": LOGINS,
    "logins_7d": LOGINS,
    "logins_30d": LOGINS,
    "churn_probability": LOGINS,
    "days_since_last_session": SESSIONS,
    "sessions_7d": SESSIONS,
    "sessions_30d": SESSIONS,
    "avg_rating_7d": RATING,
    "avg_rating_30d": RATING,
    "avg_engagement": ENGAGEMENT,
    "engagement_slope": ENGAGEMENT,
    "technical_issue_rate": Series(
        "Sessions with technical issues per day", "sessions", "technical_issues"
    ),
    "reschedule_rate_tutor_30d": Series(
        "Sessions rescheduled by the tutor per day", "sessions", "rescheduled_by_tutor"
    ),
    "poor_first_session_flag": Series(
        "Average first-session rating per day",
        "stars (1-5)",
        "first_session_rating_sum",
        "first_session_rating_count",
    ),
    "upcoming_first_sessions": Series("First sessions per day", "sessions", "first_sessions"),
    "noshow_high_sessions": Series("Tutor no-shows per day", "sessions", "tutor_no_shows"),
}


def evidence_trend(db: Session, *, alert: Alert, days: int = TREND_DAYS) -> EvidenceTrend | None:
    """The daily series for ``alert``'s metric over ``days`` days, or None if it has none."""
    series = SERIES.get(alert.metric or "")
    if series is None:
        return None
    end = alert.last_seen_at.astimezone(UTC).date()
    start = end - timedelta(days=days - 1)
    columns = [series.column] + ([series.count_column] if series.count_column else [])
    rows = repository.daily_rows(db, tutor_id=alert.tutor_id, start=start, end=end, columns=columns)
    by_day = {r["day"]: r for r in rows.to_dict("records")}
    points = []
    for i in range(days):
        day = start + timedelta(days=i)
        row = by_day.get(day)
        value: float | None
        if series.count_column is None:
            value = float(row[series.column] or 0) if row else 0.0
        else:
            n = row[series.count_column] if row else 0
            value = round(float(row[series.column]) / n, 3) if row and n else None
        points.append(TrendPoint(day=day, value=value))
    return EvidenceTrend(label=series.label, unit=series.unit, days=days, points=points)
