"""Template variables from a tutor's data (pure: facts in, values out).

``TutorFacts`` holds what the repository measured for one tutor at one instant;
``fill_variables`` turns it into the values a template needs, leaving out any
value the data cannot give (a tutor who never logged in has no
"days since login"): the caller then gets a 400 naming it, unless it supplied
the value. Values a caller gives always win, after ``coerce`` checks them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tutorpulse.core.errors import ErrorDetail, Invalid
from tutorpulse.email.catalog import (
    PORTAL_PATHS,
    QUALITY_BENCHMARKS,
    TARGET_ENGAGEMENT,
    TARGET_RESCHEDULE_RATE,
    VARIABLES,
    EmailTemplate,
)

NO_LOGIN_DAYS = 7
NO_SESSION_DAYS = 14
MAX_TEXT = 500


@dataclass(frozen=True)
class UpcomingSession:
    start: datetime
    subject: str | None
    grade_level: str | None


@dataclass(frozen=True)
class TutorFacts:
    """One tutor's figures as of ``now`` (30-day windows end at ``now``)."""

    now: datetime
    name: str
    timezone: str
    last_login_at: datetime | None = None
    last_session_at: datetime | None = None
    completed_total: int = 0
    students_total: int = 0
    rating_avg_all: float | None = None
    rated_all: int = 0
    completed_14d: int = 0
    completed_prior_14d: int = 0
    rating_avg_30d: float | None = None
    rated_30d: int = 0
    engagement_avg_30d: float | None = None
    engagement_n_30d: int = 0
    empathy_avg_30d: float | None = None
    empathy_n_30d: int = 0
    clarity_avg_30d: float | None = None
    clarity_n_30d: int = 0
    tech_issues_30d: int = 0
    tech_recorded_30d: int = 0
    outcomes_30d: int = 0
    tutor_reschedules_30d: int = 0
    first_rating_avg: float | None = None
    first_rated: int = 0
    next_first_session: UpcomingSession | None = None
    rating_rank_30d: int | None = None
    ranked_tutors_30d: int | None = None


def _days(now: datetime, then: datetime | None) -> int | None:
    return None if then is None else max(0, math.floor((now - then).total_seconds() / 86400))


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _local_date(value: datetime, zone: str) -> str:
    local = value.astimezone(_zone(zone))
    return f"{local:%B} {local.day}, {local.year}"


def _session_date(value: datetime, zone: str) -> str:
    local = value.astimezone(_zone(zone))
    return f"{local:%A}, {local:%B} {local.day}"


def _session_time(value: datetime, zone: str) -> str:
    local = value.astimezone(_zone(zone))
    hour = local.hour % 12 or 12
    return f"{hour}:{local:%M} {'AM' if local.hour < 12 else 'PM'} {local.tzname()}"


# Variables whose values need the session aggregates, the last completed session,
# the next first session or the rating rank (so the other queries can be skipped).
AGGREGATE_VARIABLES = frozenset(
    {
        "sessionsLast14d", "sessionsPrior14d", "metricValue", "recentSessionCount", "issueRate",
        "recentSessionsWithIssues", "totalRecentSessions", "totalSessionsCompleted",
        "totalSessions", "totalStudents", "averageRating", "ratedSessions", "currentEngagement",
        "firstSessionRating", "firstSessionCount", "rescheduleRate", "rescheduleCount",
        "sessionsWithOutcome", "performanceScore", "rank", "rankedTutors",
    }
)  # fmt: skip
LAST_SESSION_VARIABLES = frozenset(
    {"lastSessionDate", "daysSinceLastSession", "daysSinceActive", "daysSinceLastActivity",
     "issueType", "actionUrl"}
)  # fmt: skip
UPCOMING_VARIABLES = frozenset({"sessionDate", "sessionTime", "subject", "gradeLevel"})


def needed(template: EmailTemplate, given: Mapping[str, Any]) -> set[str]:
    """The template's variables the caller did not give (to be filled from data)."""
    return {name for name in template.variables if given.get(name) is None}


def engagement_issue(f: TutorFacts) -> str:
    """no_login (≥ 7 days without login), else no_sessions (none completed in 14 days), else
    declining_engagement."""
    since_login = _days(f.now, f.last_login_at)
    if since_login is None or since_login >= NO_LOGIN_DAYS:
        return "no_login"
    since_session = _days(f.now, f.last_session_at)
    if since_session is None or since_session >= NO_SESSION_DAYS:
        return "no_sessions"
    return "declining_engagement"


_QUALITY_METRIC: dict[str, Callable[[TutorFacts], tuple[float | None, int]]] = {
    "low_rating": lambda f: (f.rating_avg_30d, f.rated_30d),
    "poor_engagement": lambda f: (f.engagement_avg_30d, f.engagement_n_30d),
    "low_empathy": lambda f: (f.empathy_avg_30d, f.empathy_n_30d),
    "clarity_issues": lambda f: (f.clarity_avg_30d, f.clarity_n_30d),
}


def _recent_count(template_key: str, f: TutorFacts, given: Mapping[str, Any]) -> int | None:
    if template_key == "quality_alert":
        kind = given.get("alertType")
        return _QUALITY_METRIC[kind](f)[1] if kind in _QUALITY_METRIC else None
    if template_key == "quality_low_engagement":
        return f.engagement_n_30d
    return f.rated_30d


def _facts_values(
    template: EmailTemplate, f: TutorFacts, portal_url: str, given: Mapping[str, Any]
) -> dict[str, Any]:
    since_login = _days(f.now, f.last_login_at)
    since_session = _days(f.now, f.last_session_at)
    latest = max((t for t in (f.last_login_at, f.last_session_at) if t is not None), default=None)
    portal = portal_url.rstrip("/")
    values: dict[str, Any] = {
        "tutorName": f.name.strip() or None,
        "daysSinceLogin": since_login,
        "daysSinceLastLogin": since_login,
        "lastSessionDate": (
            _local_date(f.last_session_at, f.timezone) if f.last_session_at else None
        ),
        "daysSinceLastSession": since_session,
        "daysSinceActive": _days(f.now, latest),
        "daysSinceLastActivity": _days(f.now, latest),
        "sessionsLast14d": f.completed_14d,
        "sessionsPrior14d": f.completed_prior_14d,
        "issueRate": _ratio(f.tech_issues_30d, f.tech_recorded_30d),
        "recentSessionsWithIssues": f.tech_issues_30d if f.tech_recorded_30d else None,
        "totalRecentSessions": f.tech_recorded_30d or None,
        "totalSessionsCompleted": f.completed_total,
        "totalSessions": f.completed_total,
        "totalStudents": f.students_total,
        "averageRating": f.rating_avg_all,
        "ratedSessions": f.rated_all,
        "currentEngagement": f.engagement_avg_30d,
        "targetEngagement": TARGET_ENGAGEMENT,
        "firstSessionRating": f.first_rating_avg,
        "firstSessionCount": f.first_rated or None,
        "rescheduleRate": _ratio(f.tutor_reschedules_30d, f.outcomes_30d),
        "rescheduleCount": f.tutor_reschedules_30d if f.outcomes_30d else None,
        "sessionsWithOutcome": f.outcomes_30d or None,
        "targetRate": TARGET_RESCHEDULE_RATE,
        "performanceScore": f.rating_avg_30d,
        "rank": f.rating_rank_30d,
        "rankedTutors": f.ranked_tutors_30d,
        "recentSessionCount": _recent_count(template.key, f, given),
        **{name: portal + path for name, path in PORTAL_PATHS.items()},
    }
    if f.next_first_session is not None:
        s = f.next_first_session
        values.update(
            sessionDate=_session_date(s.start, f.timezone),
            sessionTime=_session_time(s.start, f.timezone),
            subject=s.subject,
            gradeLevel=(s.grade_level or "").replace("_", " ") or None,
        )
    issue = given.get("issueType") or engagement_issue(f)
    values["issueType"] = issue
    values["actionUrl"] = portal + {
        "no_login": "/login",
        "no_sessions": "/sessions",
    }.get(issue, "/dashboard")
    kind = given.get("alertType")
    if kind in _QUALITY_METRIC:
        values["metricValue"] = _QUALITY_METRIC[kind](f)[0]
        values["benchmark"] = QUALITY_BENCHMARKS[kind]
    return values


def coerce(name: str, value: Any) -> Any:
    """``value`` checked against variable ``name``'s kind; raises ``Invalid`` naming it."""
    spec = VARIABLES.get(name)
    if spec is None or value is None:
        return value
    kind = spec.kind
    if kind in ("int", "number", "ratio"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Invalid.field(name, "must be a number")
        if not math.isfinite(value):
            raise Invalid.field(name, "must be a finite number")
        if kind == "int":
            if value != int(value):
                raise Invalid.field(name, "must be a whole number")
            return int(value)
        if kind == "ratio" and not 0 <= value <= 1:
            raise Invalid.field(name, "must be a ratio between 0 and 1")
        return float(value)
    if not isinstance(value, str):
        raise Invalid.field(name, "must be a string")
    value = value.strip()
    if len(value) > MAX_TEXT:
        raise Invalid.field(name, f"must be at most {MAX_TEXT} characters")
    if kind == "choice" and value not in spec.choices:
        raise Invalid.field(name, "must be one of " + ", ".join(spec.choices))
    if kind == "url" and not value.lower().startswith(("https://", "http://")):
        raise Invalid.field(name, "must be an http(s) URL")
    return value


def check_given(template: EmailTemplate, given: Mapping[str, Any]) -> dict[str, Any]:
    """The caller's variables, each checked; unknown names are refused (a typo would be lost)."""
    unknown = sorted(set(given) - set(template.variables))
    if unknown:
        raise Invalid(
            f"Template {template.key} has no variable(s) {', '.join(unknown)}",
            [
                ErrorDetail(n, f"unknown; expected one of {', '.join(template.variables)}")
                for n in unknown
            ],
        )
    return {name: coerce(name, value) for name, value in given.items()}


def fill_variables(
    template: EmailTemplate, facts: TutorFacts, *, portal_url: str, given: Mapping[str, Any]
) -> dict[str, Any]:
    """The template's variables: given values first, the rest from ``facts`` when known.

    Variables the data cannot supply are left out (rendering then names them).
    """
    checked = check_given(template, given)
    derived = _facts_values(template, facts, portal_url, checked)
    out: dict[str, Any] = {}
    for name in template.variables:
        if checked.get(name) is not None:
            out[name] = checked[name]
        elif derived.get(name) is not None:
            out[name] = derived[name]
    return out
