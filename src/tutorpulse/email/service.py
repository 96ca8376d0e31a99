"""Email service: queue one message for a tutor, preview templates, read the outbox.

Rendering happens when a message is queued: the subject, HTML and text are
stored on the intervention row, so what a coach previews and approves is what
goes out, a missing variable is a 400 at creation time (never at 3 a.m. in the
sender), and the outbox page can show each message exactly. Only the
per-recipient tracking (signed click links and the open pixel) is added at
send time, by ``email.outbox``; the stored HTML keeps the plain links.
The service flushes and never commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tutorpulse.core.audit import Actor
from tutorpulse.core.errors import Conflict, ErrorDetail, Invalid, NotFound
from tutorpulse.core.settings import Settings
from tutorpulse.email import repository as repo
from tutorpulse.email import tracking
from tutorpulse.email.catalog import ENGAGEMENT_ISSUES, TEMPLATES, EmailTemplate, get_template
from tutorpulse.email.facts import (
    AGGREGATE_VARIABLES,
    LAST_SESSION_VARIABLES,
    UPCOMING_VARIABLES,
    fill_variables,
    needed,
)
from tutorpulse.email.models import EmailEvent
from tutorpulse.email.rendering import (
    Footer,
    RenderedEmail,
    get_template_or_raise,
    missing_variables,
    render_email,
)
from tutorpulse.interventions.models import INTERVENTION_STATUSES, Intervention
from tutorpulse.tutors import service as tutors_service
from tutorpulse.tutors.models import Tutor

QUEUED = "queued"
MAX_PAGE = 200


@dataclass(frozen=True)
class QueuedEmail:
    intervention: Intervention
    tutor_external_id: str
    created: bool  # False: an earlier request with the same idempotency key made it


def unsubscribe_link(settings: Settings, *, intervention_id: int, email: str) -> str:
    return tracking.unsubscribe_url(
        intervention_id=intervention_id,
        email=email,
        base_url=settings.public_base_url,
        secret=tracking.signing_secret(settings),
    )


def resolve_variables(
    db: Session,
    *,
    tutor_id: str,
    template_key: str,
    given: Mapping[str, Any],
    now: datetime,
    settings: Settings,
) -> tuple[EmailTemplate, dict[str, Any], Tutor]:
    """The template and its variables for ``tutor_id``: given values, the rest from data.

    Raises ``NotFound`` (unknown tutor or template) and ``Invalid`` naming every
    variable that is neither given nor known from the tutor's data.
    """
    template = get_template(template_key)
    if template is None:
        raise Invalid.field("templateId", "unknown template; one of " + ", ".join(TEMPLATES))
    tutor = tutors_service.get_tutor_or_raise(db, tutor_id=tutor_id)
    wanted = needed(template, given)
    facts = repo.tutor_facts(
        db,
        tutor=tutor,
        now=now,
        needs=repo.FactNeeds(
            aggregates=bool(wanted & AGGREGATE_VARIABLES),
            last_session=bool(wanted & LAST_SESSION_VARIABLES),
            upcoming=bool(wanted & UPCOMING_VARIABLES),
            rank=bool(wanted & {"rank", "rankedTutors"}),
        ),
    )
    variables = fill_variables(template, facts, portal_url=settings.email_portal_url, given=given)
    missing = missing_variables(template, variables)
    if missing:
        raise Invalid(
            f"Template {template.key} needs {', '.join(missing)}: not in the request and "
            f"not known from tutor {tutor_id}'s data",
            [
                ErrorDetail(name, "is required (not known from the tutor's data)")
                for name in missing
            ],
        )
    return template, variables, tutor


def queue_email(
    db: Session,
    *,
    tutor_id: str,
    template_key: str,
    variables: Mapping[str, Any],
    now: datetime,
    settings: Settings,
    actor: Actor | None = None,
    idempotency_key: str | None = None,
    send_after: datetime | None = None,
) -> QueuedEmail:
    """Create one pending email intervention (one outbox row) for ``tutor_id``.

    ``idempotency_key`` makes a retried request harmless: the message queued
    earlier under the same key is returned (``created`` False) when it is for
    the same tutor and template, and ``Conflict`` is raised when it is not.
    Without a key, every call queues a new message.
    """
    key = f"api:{idempotency_key}" if idempotency_key else f"single:{uuid.uuid4().hex}"
    if idempotency_key:
        existing = repo.get_by_idempotency_key(db, key=key)
        if existing is not None:
            return _replay(db, existing, tutor_id=tutor_id, template_key=template_key)
    template, filled, tutor = resolve_variables(
        db,
        tutor_id=tutor_id,
        template_key=template_key,
        given=variables,
        now=now,
        settings=settings,
    )
    row = Intervention(
        idempotency_key=key,
        tutor_id=tutor.id,
        intervention_type=template.intervention_type,
        channel="email",
        template_key=template.key,
        variables=filled,
        to_email=tutor.email,
        status="pending",
        attempts=0,
        next_attempt_at=send_after,
        created_by=actor.name if actor else None,
    )
    try:
        with db.begin_nested():
            db.add(row)
            db.flush()
    except IntegrityError as exc:
        raise Conflict(
            f"A message with idempotency key {idempotency_key!r} already exists"
        ) from exc
    rendered = render_email(
        template.key,
        filled,
        footer=Footer(
            unsubscribe_url=unsubscribe_link(settings, intervention_id=row.id, email=tutor.email),
            postal_address=settings.email_postal_address,
        ),
    )
    row.subject = rendered.subject[:300]
    row.content_html = rendered.html
    row.content_text = rendered.text
    repo.add_event(
        db,
        intervention_id=row.id,
        event_type=QUEUED,
        now=now,
        data={"template": template.key, "by": actor.name if actor else None},
    )
    db.flush()
    return QueuedEmail(row, tutor.external_id, created=True)


def _replay(
    db: Session, existing: Intervention, *, tutor_id: str, template_key: str
) -> QueuedEmail:
    found = repo.get_intervention(db, intervention_id=existing.id)
    external = found[1] if found else ""
    template = get_template_or_raise(template_key)
    if external != tutor_id or existing.template_key != template.key:
        raise Conflict(
            "This idempotency key was already used for another message "
            f"(tutor {external}, template {existing.template_key})"
        )
    return QueuedEmail(existing, external, created=False)


def preview_email(
    template_name: str,
    *,
    settings: Settings,
    variant: str | None = None,
    variables: Mapping[str, Any] | None = None,
) -> tuple[EmailTemplate, RenderedEmail]:
    """A template rendered with its sample data (plus ``variables``); ``variant`` picks the
    engagement alert's issue type."""
    template = get_template_or_raise(template_name)
    data = dict(template.sample)
    if variant:
        if template.key != "engagement_alert" or variant not in ENGAGEMENT_ISSUES:
            raise Invalid.field(
                "variant",
                "only the engagement template has variants: " + ", ".join(ENGAGEMENT_ISSUES),
            )
        data["issueType"] = variant
        data["actionUrl"] = settings.email_portal_url.rstrip("/") + {
            "no_login": "/login",
            "no_sessions": "/sessions",
        }.get(variant, "/dashboard")
    data.update(variables or {})
    footer = Footer(
        unsubscribe_url=settings.public_base_url.rstrip("/") + "/u/preview",
        postal_address=settings.email_postal_address,
    )
    return template, render_email(template.key, data, footer=footer)


def list_templates() -> list[EmailTemplate]:
    return list(TEMPLATES.values())


@dataclass(frozen=True)
class OutboxPage:
    items: list[tuple[Intervention, str]]
    total: int
    limit: int
    offset: int


def list_outbox(
    db: Session,
    *,
    status: str | None = None,
    template_key: str | None = None,
    tutor_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> OutboxPage:
    """Messages newest first, filtered; ``limit`` clamped to 1..200."""
    if status and status not in INTERVENTION_STATUSES:
        raise Invalid.field("status", "must be one of " + ", ".join(INTERVENTION_STATUSES))
    if template_key and template_key not in TEMPLATES:
        raise Invalid.field("template", "must be one of " + ", ".join(TEMPLATES))
    tutor_pk = None
    if tutor_id:
        tutor_pk = tutors_service.get_tutor_or_raise(db, tutor_id=tutor_id).id
    limit = max(1, min(limit, MAX_PAGE))
    offset = max(0, offset)
    items, total = repo.list_interventions(
        db, status=status, template_key=template_key, tutor_id=tutor_pk, limit=limit, offset=offset
    )
    return OutboxPage(items, total, limit, offset)


def get_message_or_raise(
    db: Session, *, intervention_id: int
) -> tuple[Intervention, str, Sequence[EmailEvent]]:
    """One message, its tutor's external id and its events (oldest first); raises NotFound."""
    found = repo.get_intervention(db, intervention_id=intervention_id)
    if found is None:
        raise NotFound(f"Message {intervention_id} not found")
    events = repo.list_events(db, intervention_id=intervention_id)
    return found[0], found[1], events


def outbox_status_counts(db: Session) -> dict[str, int]:
    return repo.status_counts(db)
