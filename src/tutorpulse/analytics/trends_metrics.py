"""The whitelist of trend metrics: each a set of SQLAlchemy aggregate expressions.

A metric a client names is only ever a key of ``METRICS``; its SQL comes from
the expressions below, never from the name (tested by capturing every
statement). ``rollup`` names the ``tutor_daily`` counters the metric could be
read from once that table is populated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Float, and_, case, cast, func, literal

from tutorpulse.engagement.models import EngagementEvent
from tutorpulse.sessions.models import TutorSession

Kind = Literal["mean", "rate", "count"]
Source = Literal["session", "event"]


@dataclass(frozen=True)
class MetricSpec:
    """One whitelisted metric: how to aggregate it per group, as SQL expressions.

    ``num``/``den``/``sq`` build the aggregate expressions: for a mean, the sum,
    count and sum of squares of the value; for a rate, the numerator and
    denominator counts; for a count, the row count (``den`` is the same).
    """

    key: str
    label: str
    unit: str
    kind: Kind
    source: Source
    num: Callable[[], Any]
    den: Callable[[], Any]
    sq: Callable[[], Any]
    rollup: tuple[str, ...]


def _fcount(cond: Any) -> Any:
    return func.sum(case((cond, 1), else_=0))


def _completed() -> Any:
    return TutorSession.status == "completed"


def _mean(key: str, label: str, unit: str, column: Any, rollup: tuple[str, ...]) -> MetricSpec:
    value = case((_completed(), cast(column, Float)))
    return MetricSpec(
        key=key,
        label=label,
        unit=unit,
        kind="mean",
        source="session",
        num=lambda: func.sum(value),
        den=lambda: func.count(value),
        sq=lambda: func.sum(value * value),
        rollup=rollup,
    )


def _session_rate(
    key: str, label: str, hit: Callable[[], Any], base: Callable[[], Any], rollup: tuple[str, ...]
) -> MetricSpec:
    return MetricSpec(
        key=key,
        label=label,
        unit="share",
        kind="rate",
        source="session",
        num=lambda: _fcount(and_(base(), hit())),
        den=lambda: _fcount(base()),
        sq=lambda: literal(None),
        rollup=rollup,
    )


def _due() -> Any:
    return TutorSession.status != "scheduled"


def _count(
    key: str, label: str, source: Source, cond: Callable[[], Any] | None, rollup: tuple[str, ...]
) -> MetricSpec:
    def num() -> Any:
        return _fcount(cond()) if cond is not None else func.count()

    return MetricSpec(
        key=key,
        label=label,
        unit="per day",
        kind="count",
        source=source,
        num=num,
        den=num,
        sq=lambda: literal(None),
        rollup=rollup,
    )


METRICS: dict[str, MetricSpec] = {
    m.key: m
    for m in (
        _mean(
            "engagement",
            "Engagement score",
            "1-10",
            TutorSession.engagement_score,
            ("engagement_sum", "engagement_count"),
        ),
        _mean(
            "empathy",
            "Empathy score",
            "1-10",
            TutorSession.empathy_score,
            ("empathy_sum", "empathy_count"),
        ),
        _mean(
            "clarity",
            "Clarity score",
            "1-10",
            TutorSession.clarity_score,
            ("clarity_sum", "clarity_count"),
        ),
        _mean(
            "satisfaction",
            "Student satisfaction",
            "1-10",
            TutorSession.student_satisfaction,
            ("satisfaction_sum", "satisfaction_count"),
        ),
        _mean(
            "rating",
            "Student rating",
            "1-5",
            TutorSession.student_rating,
            ("rating_sum", "rating_count"),
        ),
        _count("sessions", "Completed sessions", "session", _completed, ("sessions_completed",)),
        _session_rate(
            "tutorNoShowRate",
            "Tutor no-show rate",
            lambda: TutorSession.status == "tutor_no_show",
            _due,
            ("tutor_no_shows", "sessions_booked"),
        ),
        _session_rate(
            "studentNoShowRate",
            "Student no-show rate",
            lambda: TutorSession.status == "student_no_show",
            _due,
            ("student_no_shows", "sessions_booked"),
        ),
        _session_rate(
            "tutorRescheduleRate",
            "Tutor-initiated reschedule rate",
            lambda: and_(
                TutorSession.status == "rescheduled", TutorSession.rescheduled_by == "tutor"
            ),
            _due,
            ("rescheduled_by_tutor", "sessions_booked"),
        ),
        _session_rate(
            "technicalIssueRate",
            "Technical issue rate",
            lambda: TutorSession.technical_issue.is_(True),
            lambda: and_(_completed(), TutorSession.technical_issue.is_not(None)),
            ("technical_issues", "sessions_completed"),
        ),
        _count(
            "logins",
            "Logins",
            "event",
            lambda: EngagementEvent.event_type == "login",
            ("logins",),
        ),
        _count("events", "Activity events", "event", None, ("events",)),
    )
}
