"""API shapes of the tutor dashboards. JSON is camelCase through aliases; Python is snake_case."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field


def camel(name: str) -> str:
    """snake_case → camelCase, keeping digit groups lower case: ``sessions_7d`` → ``sessions7d``."""
    first, *rest = name.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


class ApiModel(BaseModel):
    model_config = ConfigDict(alias_generator=camel, populate_by_name=True, from_attributes=True)


RISK_LEVELS = ("low", "medium", "high", "critical")


class DashboardMetrics(ApiModel):
    """``GET /api/dashboard/metrics`` (original field names kept)."""

    total_tutors: int = Field(description="Tutors whose status is active.")
    high_risk_count: int | None = Field(
        description="Active tutors whose churn risk level is high or critical; "
        "null until churn risk has been scored."
    )
    risk_status: Literal["scored", "not yet scored"]
    avg_engagement: float | None = Field(
        description="Mean engagement score (1-10) of completed sessions in the last 30 days."
    )
    poor_first_session_count: int = Field(
        description="Tutors (any status) whose rated first sessions average below 3.5."
    )
    as_of: datetime


class TutorProfile(ApiModel):
    tutor_id: str
    name: str
    email: str
    timezone: str
    primary_subject: str | None
    subjects: list[str]
    certification_level: str | None
    status: str
    joined_on: date
    churned_at: datetime | None
    last_login_at: datetime | None


class HealthSnapshot(ApiModel):
    """The tutor_health row: figures recomputed by the engagement jobs, as of ``health_as_of``."""

    health_as_of: datetime | None = None
    sessions_7d: int | None = None
    sessions_30d: int | None = None
    avg_rating_7d: float | None = None
    avg_rating_30d: float | None = None
    avg_engagement: float | None = None
    avg_empathy: float | None = None
    avg_clarity: float | None = None
    avg_satisfaction: float | None = None
    first_session_count: int | None = None
    first_session_avg_rating: float | None = None
    poor_first_session_flag: bool | None = None
    recommendation_rate: float | None = None
    technical_issue_rate: float | None = None
    days_since_last_login: int | None = None
    current_login_streak: int | None = None
    longest_login_streak: int | None = None
    logins_7d: int | None = None
    logins_30d: int | None = None
    active_days_7d: int | None = None
    active_days_30d: int | None = None
    completion_rate_30d: float | None = None
    tutor_no_show_rate_30d: float | None = None
    reschedule_rate_tutor_30d: float | None = None
    reschedule_rate_student_30d: float | None = None
    avg_late_minutes_30d: float | None = None
    sessions_total: int | None = None
    first_active_on: date | None = None
    last_active_on: date | None = None
    first_completed_on: date | None = None
    last_completed_on: date | None = Field(
        None, description="The tutor's last local day with a completed session."
    )
    local_day: date | None = Field(
        None, description="The tutor's local date the 7d/30d windows end on."
    )
    churn_probability: float | None = None
    churn_risk_level: str | None = None
    risk_drivers: list[dict[str, Any]] | None = None
    priority_score: float | None = None


HEALTH_FIELDS = tuple(f for f in HealthSnapshot.model_fields if f != "health_as_of")


class DashboardTutor(HealthSnapshot, TutorProfile):
    """One row of ``GET /api/dashboard/tutors``: profile plus health fields (null if none)."""


class DashboardTutorPage(ApiModel):
    tutors: list[DashboardTutor]
    total: int
    limit: int
    offset: int


# --- tutor list (page and /api/tutors) ----------------------------------------------------

TutorSort = Literal[
    "tutorId",
    "name",
    "email",
    "primarySubject",
    "certificationLevel",
    "status",
    "joinedOn",
    "lastLoginAt",
    "sessions7d",
    "sessions30d",
    "avgRating30d",
    "tutorNoShowRate30d",
    "churnProbability",
    "priorityScore",
]
TUTOR_SORTS: tuple[str, ...] = get_args(TutorSort)


class TutorListRow(ApiModel):
    tutor_id: str
    name: str
    email: str
    primary_subject: str | None
    certification_level: str | None
    status: str
    joined_on: date
    last_login_at: datetime | None
    sessions_7d: int = Field(
        description="Completed sessions in the tutor's last 7 local days (health snapshot)."
    )
    sessions_30d: int = Field(
        description="Completed sessions in the tutor's last 30 local days (health snapshot)."
    )
    avg_rating_30d: float | None = Field(
        description="Mean student rating (1-5) of completed sessions in the last 30 local days."
    )
    tutor_no_show_rate_30d: float | None = Field(
        description="Tutor no-shows ÷ sessions with an outcome in the last 30 local days."
    )
    churn_probability: float | None
    churn_risk_level: str | None
    priority_score: float | None = Field(
        None,
        description="0-100 from the tutor's open alerts (highest + 0.2 × next four); "
        "0 = none, null = not evaluated yet.",
    )


class TutorListPage(ApiModel):
    tutors: list[TutorListRow]
    total: int
    limit: int
    offset: int
    sort: str
    order: Literal["asc", "desc"]
    as_of: datetime


# --- one tutor ------------------------------------------------------------------------------


class TutorLiveStats(ApiModel):
    """Figures computed live from sessions over the 30 days before ``as_of``."""

    as_of: datetime
    sessions_7d: int
    sessions_30d: int
    sessions_with_outcome_30d: int
    avg_rating_30d: float | None
    ratings_30d: int
    tutor_no_show_rate_30d: float | None
    reschedule_rate_30d: float | None
    first_session_count: int
    first_session_avg_rating: float | None


class RatingWeek(ApiModel):
    start: datetime
    end: datetime
    n: int
    mean: float | None
    ci_low: float | None
    ci_high: float | None


class TutorDetail(ApiModel):
    profile: TutorProfile
    live: TutorLiveStats
    health: HealthSnapshot | None
    ratings_by_week: list[RatingWeek]


class TutorEvent(ApiModel):
    event_type: str
    occurred_at: datetime
    data: dict[str, Any]


class TutorEventPage(ApiModel):
    events: list[TutorEvent]
    total: int
    limit: int
    offset: int


# --- overview -------------------------------------------------------------------------------


class KpiPoint(ApiModel):
    start: datetime
    end: datetime
    value: float | None


class Kpi(ApiModel):
    key: str
    label: str
    unit: Literal["count", "rate"]
    value: float | None
    previous: float | None
    change: float | None = Field(
        description="Counts: relative change in %. Rates: difference in percentage points."
    )
    change_unit: Literal["%", "pp"]
    better: Literal["up", "down"]
    how: str
    series_label: str
    series: list[KpiPoint]


class Overview(ApiModel):
    as_of: datetime
    window_days: int
    kpis: list[Kpi]
