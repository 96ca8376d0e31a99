"""Provider webhooks: ``POST /api/webhooks/resend`` and ``POST /api/webhooks/sendgrid``.

No login: each request must carry the provider's signature over the raw body
(see ``email/webhooks.py``). A bad or missing signature is a 401 and nothing is
recorded; a webhook whose secret/key is not configured is a 503 (the provider
retries later). Answers ``{"received", "recorded", "duplicates", "unmatched"}``.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from tutorpulse.core.errors import AppError, Invalid, PayloadTooLarge, Unauthorized
from tutorpulse.core.settings import Settings
from tutorpulse.email import events, machines, webhooks
from tutorpulse.web.deps import ClockDep, DbSession, SettingsDep

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/webhooks", tags=["email webhooks"])

MAX_BODY_BYTES = 5 * 1024 * 1024


class WebhookResult(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    received: int = Field(description="Events in the request.")
    recorded: int = Field(description="Events stored and applied to their message.")
    duplicates: int = Field(description="Events already received earlier (ignored).")
    unmatched: int = Field(description="Events stored but matching no message of ours.")


@dataclass
class NotConfigured(AppError):
    """The webhook's secret or key is not set (or unusable): the provider retries later."""

    status: int = 503


async def _body(request: Request) -> bytes:
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"webhook body over {MAX_BODY_BYTES} bytes")
    return body


def _apply(
    db: Session,
    found: list[webhooks.ProviderEvent],
    *,
    now: datetime,
    settings: Settings,
) -> WebhookResult:
    networks = machines.parse_networks(settings.email_machine_open_networks)
    outcomes: Counter[str] = Counter()
    for event in found:
        outcome = events.record_provider_event(
            db,
            event=event,
            now=now,
            click_window_seconds=settings.email_machine_click_window_seconds,
            proxy_networks=networks,
        )
        outcomes[outcome] += 1
    return WebhookResult(
        received=len(found),
        recorded=outcomes["recorded"],
        duplicates=outcomes["duplicate"],
        unmatched=outcomes["unmatched"],
    )


@router.post("/resend", response_model=WebhookResult, summary="Resend (Svix-signed) events")
async def resend_webhook(
    request: Request, db: DbSession, clock: ClockDep, settings: SettingsDep
) -> WebhookResult:
    if settings.resend_webhook_secret is None:
        raise NotConfigured("RESEND_WEBHOOK_SECRET is not configured")
    body = await _body(request)
    now = clock.now()
    try:
        event_id = webhooks.verify_svix(
            secret=settings.resend_webhook_secret.get_secret_value(),
            headers=request.headers,
            body=body,
            now=now,
            tolerance_seconds=settings.email_webhook_tolerance_seconds,
        )
    except webhooks.SignatureError as exc:
        raise Unauthorized(f"Webhook signature rejected: {exc}") from exc
    except ValueError as exc:  # the configured secret itself is unusable
        log.error("Resend webhook secret: %s", exc)
        raise NotConfigured("RESEND_WEBHOOK_SECRET cannot be read") from exc
    try:
        found = webhooks.parse_resend(body, event_id=event_id, received_at=now)
    except ValueError as exc:
        raise Invalid.field("body", str(exc)) from exc
    # Database work off the event loop (a SendGrid batch can hold many events).
    return await run_in_threadpool(_apply, db, found, now=now, settings=settings)


@router.post("/sendgrid", response_model=WebhookResult, summary="SendGrid signed Event Webhook")
async def sendgrid_webhook(
    request: Request, db: DbSession, clock: ClockDep, settings: SettingsDep
) -> WebhookResult:
    if not settings.sendgrid_webhook_public_key:
        raise NotConfigured("SENDGRID_WEBHOOK_PUBLIC_KEY is not configured")
    body = await _body(request)
    now = clock.now()
    try:
        webhooks.verify_sendgrid(
            public_key=settings.sendgrid_webhook_public_key,
            signature=request.headers.get("x-twilio-email-event-webhook-signature"),
            timestamp=request.headers.get("x-twilio-email-event-webhook-timestamp"),
            body=body,
            now=now,
            tolerance_seconds=settings.email_webhook_tolerance_seconds,
        )
    except webhooks.SignatureError as exc:
        raise Unauthorized(f"Webhook signature rejected: {exc}") from exc
    except ValueError as exc:  # the configured key itself is unusable
        log.error("SendGrid webhook key: %s", exc)
        raise NotConfigured("SENDGRID_WEBHOOK_PUBLIC_KEY cannot be read") from exc
    try:
        found = webhooks.parse_sendgrid(body, received_at=now)
    except ValueError as exc:
        raise Invalid.field("body", str(exc)) from exc
    # Database work off the event loop (a SendGrid batch can hold many events).
    return await run_in_threadpool(_apply, db, found, now=now, settings=settings)
