"""Risk API schemas (camelCase JSON)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ApiModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)


class Driver(ApiModel):
    key: str
    text: str
    contribution: float


class SessionRiskRead(ApiModel):
    session_id: str
    tutor_id: str
    student_id: int
    subject: str | None
    scheduled_start: datetime
    no_show_probability: float
    risk_level: str
    drivers: list[Driver]
    model_version_id: int | None
    scored_at: datetime


class SessionRiskWithStudentRead(SessionRiskRead):
    """A ``GET /api/risk/sessions`` row: the tutor no-show score and, when a student
    no-show model is active, the student's (all three student fields null otherwise)."""

    student_no_show_probability: float | None
    student_risk_level: str | None
    student_drivers: list[Driver] | None


class SessionRiskPage(ApiModel):
    sessions: list[SessionRiskWithStudentRead]
    total: int
    limit: int
    offset: int
    days_ahead: int


class TutorRiskRead(ApiModel):
    tutor_id: str
    name: str
    primary_subject: str | None
    certification_level: str | None
    status: str
    churn_probability: float
    churn_risk_level: str | None
    risk_drivers: list[Driver]
    risk_model_version_id: int | None
    health_as_of: datetime


class TutorRiskPage(ApiModel):
    tutors: list[TutorRiskRead]
    total: int
    limit: int
    offset: int
    level_counts: dict[str, int]


class NoShowSummary(ApiModel):
    total_high_risk: int
    total_medium_risk: int
    total_low_risk: int
    days_ahead: int


class NoShowRisk(ApiModel):
    """``GET /api/analytics/noshow-risk`` (original shape, per-session scores)."""

    summary: NoShowSummary
    high_risk_sessions: list[SessionRiskRead]
    medium_risk_sessions: list[SessionRiskRead]
    mitigation: dict[str, list[str]]
    alerts: dict[str, Any]
    scored: bool


class ModelVersionRead(ApiModel):
    id: int
    target: str
    version: int
    algorithm: str
    is_active: bool
    features: list[str]
    training_start: datetime | None
    training_end: datetime | None
    created_at: datetime
    metrics: dict[str, Any]
    calibration: dict[str, Any]


class ModelList(ApiModel):
    models: list[ModelVersionRead]
