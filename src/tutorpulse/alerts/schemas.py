"""API shapes of alerts (original field names kept, camelCase through aliases)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field

from tutorpulse.tutors.schemas import ApiModel

Action = Literal["acknowledge", "resolve", "snooze", "assign", "reopen"]


class AlertTutor(ApiModel):
    tutor_id: str
    primary_subject: str | None = None
    months_experience: int | None = None
    certification_level: str | None = None


class AlertRead(ApiModel):
    id: int
    tutor_id: str
    alert_type: str = Field(description="The rule that raised the alert.")
    severity: str
    severity_rank: int = Field(description="critical 4, high 3, medium 2, low 1.")
    category: str
    priority: float = Field(description="0-100, see docs/alerts.md.")
    state: str
    title: str
    message: str
    metric: str | None = None
    metric_value: float | None = None
    threshold: float | None = None
    evidence: dict[str, Any] = Field(default_factory=dict)
    acknowledged: bool
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    resolved: bool
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    snoozed_until: datetime | None = None
    assigned_to_id: int | None = None
    assigned_to: str | None = None
    suppressed_by_id: int | None = None
    created_at: datetime
    last_seen_at: datetime
    tutor: AlertTutor | None = None


class AlertList(ApiModel):
    alerts: list[AlertRead]
    count: int = Field(description="Alerts matching the filters (before the limit).")


class AlertEventRead(ApiModel):
    action: str
    actor: str
    at: datetime
    note: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class TrendPoint(ApiModel):
    day: date
    value: float | None = None


class EvidenceTrend(ApiModel):
    """The tutor's daily values relevant to the rule, up to the alert's last evaluation."""

    label: str
    unit: str
    days: int
    points: list[TrendPoint]


class AlertDetail(AlertRead):
    history: list[AlertEventRead]
    trend: EvidenceTrend | None = None


class AlertStats(ApiModel):
    days: int
    since: datetime
    total: int
    by_severity: dict[str, int]
    by_category: dict[str, int]
    by_state: dict[str, int]
    acknowledged: int
    resolved: int
    unacknowledged: int
    mean_hours_to_acknowledge: float | None
    mean_hours_to_resolve: float | None
    open_now: int


class AlertPatch(ApiModel):
    alert_id: int = Field(ge=1)
    action: Action
    note: str | None = Field(None, max_length=2000)
    snooze_until: datetime | None = None
    assignee_id: int | None = Field(None, ge=1)
    acknowledged_by: str | None = Field(
        None, max_length=320, description="Ignored unless it differs from the caller: then 400."
    )


class AlertAcknowledge(ApiModel):
    alert_id: int = Field(ge=1)
    note: str | None = Field(None, max_length=2000)


class AlertBulkAction(ApiModel):
    action: Literal["update-messages"] = Field(
        description="The original's only bulk action: re-render every unresolved alert's "
        "message from the current rules."
    )


class UpdateMessagesCounts(ApiModel):
    updated: int
    unchanged: int
    errors: int


class UpdateMessagesResult(ApiModel):
    success: bool
    result: UpdateMessagesCounts
    message: str


class AlertActionResult(ApiModel):
    success: bool
    action: str
    alert: AlertRead


class RuleRead(ApiModel):
    key: str
    enabled: bool
    severity: str
    category: str
    base_priority: int
    cooldown_hours: int
    resolve_after_hours: int
    metric: str
    op: str
    threshold: float
    resolve_threshold: float
    title: str
    message: str
    guards: list[dict[str, Any]]
    firing_now: int | None = None


class RuleUpdate(ApiModel):
    enabled: bool | None = None
    base_priority: int | None = Field(None, ge=0, le=100)
    cooldown_hours: int | None = Field(None, ge=0)
    resolve_after_hours: int | None = Field(None, ge=0)
    threshold: float | None = None
    resolve_threshold: float | None = None
