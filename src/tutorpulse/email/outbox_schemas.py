"""API shapes of email previews, queued interventions and the outbox (camelCase JSON)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tutorpulse.email.catalog import VARIABLES, EmailTemplate
from tutorpulse.interventions.models import Intervention


def camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


class ApiModel(BaseModel):
    model_config = ConfigDict(alias_generator=camel, populate_by_name=True)


class InterventionAction(ApiModel):
    """``POST /api/interventions`` body (the original's shape)."""

    model_config = ConfigDict(alias_generator=camel, populate_by_name=True, extra="allow")

    action: str = Field(max_length=50)
    tutor_id: str | None = Field(None, max_length=64)
    template_id: str | None = Field(None, max_length=64)
    variables: dict[str, Any] = Field(default_factory=dict)


class InterventionRead(ApiModel):
    id: int
    tutor_id: str
    template_id: str | None
    intervention_type: str
    channel: str
    status: str
    to_email: str | None
    subject: str | None
    variables: dict[str, Any]
    attempts: int
    next_attempt_at: datetime | None
    sent_at: datetime | None
    delivered_at: datetime | None
    opened_at: datetime | None
    clicked_at: datetime | None
    error_message: str | None
    provider: str | None
    created_at: datetime
    created_by: str | None

    @classmethod
    def of(cls, row: Intervention, tutor_external_id: str) -> InterventionRead:
        return cls(
            id=row.id,
            tutor_id=tutor_external_id,
            template_id=row.template_key,
            intervention_type=row.intervention_type,
            channel=row.channel,
            status=row.status,
            to_email=row.to_email,
            subject=row.subject,
            variables=dict(row.variables or {}),
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            sent_at=row.sent_at,
            delivered_at=row.delivered_at,
            opened_at=row.opened_at,
            clicked_at=row.clicked_at,
            error_message=row.error_message,
            provider=row.provider,
            created_at=row.created_at,
            created_by=row.created_by,
        )


class InterventionCreated(ApiModel):
    success: bool = True
    created: bool = Field(
        description="False when an earlier request with this Idempotency-Key made it."
    )
    intervention: InterventionRead


class InterventionPage(ApiModel):
    interventions: list[InterventionRead]
    total: int
    limit: int
    offset: int


class TemplateVariable(ApiModel):
    name: str
    required: bool
    kind: str
    description: str
    source: str
    choices: list[str]


class TemplateRead(ApiModel):
    id: str
    name: str
    category: str
    description: str
    variables: list[TemplateVariable]

    @classmethod
    def of(cls, template: EmailTemplate) -> TemplateRead:
        return cls(
            id=template.key,
            name=template.original_name,
            category=template.intervention_type,
            description=template.description,
            variables=[
                TemplateVariable(
                    name=name,
                    required=name in template.required,
                    kind=VARIABLES[name].kind,
                    description=VARIABLES[name].description,
                    source=VARIABLES[name].source,
                    choices=list(VARIABLES[name].choices),
                )
                for name in template.variables
            ],
        )


class TemplateList(ApiModel):
    templates: list[TemplateRead]


class PreviewRead(ApiModel):
    template: str
    subject: str
    html: str
    text: str
