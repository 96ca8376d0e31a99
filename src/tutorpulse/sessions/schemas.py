"""API shapes of tutoring sessions (camelCase JSON through aliases)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


class _ApiModel(BaseModel):
    model_config = ConfigDict(alias_generator=_camel, populate_by_name=True, from_attributes=True)


class SessionRead(_ApiModel):
    session_id: str
    tutor_id: str
    student_id: str
    subject: str | None
    scheduled_start: datetime
    scheduled_minutes: int
    status: str
    cancelled_by: str | None
    rescheduled_by: str | None
    is_first_session: bool
    student_rating: int | None
    student_satisfaction: int | None
    engagement_score: float | None
    technical_issue: bool | None


class SessionPage(_ApiModel):
    sessions: list[SessionRead]
    total: int
    limit: int
    offset: int
