"""Recording what happened to a sent message: tracking hits and provider webhook events.

Service functions (flush, never commit). Rules:

- Every hit or event becomes one ``EmailEvent`` row; provider events carry the
  provider's event id (unique), so a webhook delivered twice is recorded once.
- Only *human* opens and clicks move the intervention (``opened_at``,
  ``clicked_at``, status). Machine ones (privacy proxies, link scanners) are kept
  with ``is_machine=True`` and change nothing else.
- Status only moves forward along sent → delivered → opened → clicked →
  responded: a late ``delivered`` after ``opened`` fills ``delivered_at`` but
  keeps the status ``opened``.
- Unsubscribes, hard bounces and complaints put the address on the suppression list.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tutorpulse.core.errors import Invalid
from tutorpulse.email import machines, suppression, tracking, webhooks
from tutorpulse.email.models import EmailEvent
from tutorpulse.interventions.models import Intervention

log = logging.getLogger(__name__)

# Forward order of the delivery lifecycle; other statuses (failed, suppressed,
# cancelled) are outside it and are never overwritten by engagement.
PROGRESS = ("pending", "sending", "sent", "delivered", "opened", "clicked", "responded")
_RANK = {status: i for i, status in enumerate(PROGRESS)}


def advance_status(current: str, target: str) -> str:
    """``target`` if it is further along than ``current``; otherwise ``current``."""
    if current not in _RANK or target not in _RANK:
        return current
    return target if _RANK[target] > _RANK[current] else current


def get_intervention(db: Session, intervention_id: int) -> Intervention | None:
    return db.get(Intervention, intervention_id)


def find_intervention(
    db: Session, *, provider_message_id: str | None, intervention_id: int | None
) -> Intervention | None:
    """The message a provider event is about: by provider id, else by our echoed id."""
    if provider_message_id:
        found = db.scalars(
            select(Intervention)
            .where(Intervention.provider_message_id == provider_message_id)
            .limit(1)
        ).first()
        if found is not None:
            return found
    if intervention_id is not None:
        return db.get(Intervention, intervention_id)
    return None


def _touch_open(intervention: Intervention, at: datetime) -> None:
    if intervention.opened_at is None or at < intervention.opened_at:
        intervention.opened_at = at
    intervention.status = advance_status(intervention.status, "opened")


def _touch_click(intervention: Intervention, at: datetime) -> None:
    if intervention.clicked_at is None or at < intervention.clicked_at:
        intervention.clicked_at = at
    intervention.status = advance_status(intervention.status, "clicked")


def record_open(
    db: Session,
    *,
    intervention: Intervention,
    user_agent: str | None,
    ip: str | None,
    now: datetime,
    proxy_networks: tuple[machines.Network, ...] = (),
) -> EmailEvent:
    """Record one pixel fetch; a human open also sets ``opened_at`` and the status.

    ``proxy_networks``: extra address ranges whose fetches are machine opens.
    """
    verdict = machines.classify_open(
        user_agent=user_agent, ip=ip, extra_proxy_networks=proxy_networks
    )
    event = EmailEvent(
        intervention_id=intervention.id,
        event_type=webhooks.OPENED,
        occurred_at=now,
        received_at=now,
        provider="pixel",
        is_machine=verdict.is_machine,
        user_agent=(user_agent or None) and user_agent[:1000],
        data={"machine_reason": verdict.reason} if verdict.reason else {},
    )
    db.add(event)
    if not verdict.is_machine:
        _touch_open(intervention, now)
    db.flush()
    return event


def record_click(
    db: Session,
    *,
    intervention: Intervention,
    url: str,
    user_agent: str | None,
    ip: str | None,
    method: str,
    now: datetime,
    window_seconds: int,
) -> EmailEvent:
    """Record one click on a tracked link; a human click sets ``clicked_at`` and the status."""
    verdict = machines.classify_click(
        user_agent=user_agent,
        ip=ip,
        sent_at=intervention.sent_at,
        now=now,
        window_seconds=window_seconds,
        method=method,
    )
    event = EmailEvent(
        intervention_id=intervention.id,
        event_type=webhooks.CLICKED,
        occurred_at=now,
        received_at=now,
        provider="redirect",
        is_machine=verdict.is_machine,
        user_agent=(user_agent or None) and user_agent[:1000],
        url=url,
        data={"machine_reason": verdict.reason} if verdict.reason else {},
    )
    db.add(event)
    if not verdict.is_machine:
        _touch_click(intervention, now)
    db.flush()
    return event


def allowed_redirect(intervention: Intervention, url: str, *, base_url: str, secret: bytes) -> bool:
    """True only when ``url`` is one of the links of this intervention's stored message."""
    urls = tracking.message_urls(
        intervention.content_html, intervention.content_text, base_url=base_url, secret=secret
    )
    return url in urls


def record_unsubscribe(
    db: Session, *, intervention_id: int, email: str, now: datetime, source: str
) -> bool:
    """Suppress ``email`` (reason ``unsubscribe``); True if it was newly added. Idempotent."""
    _, created = suppression.add_suppression(
        db, email=email, reason="unsubscribe", now=now, source=source
    )
    if created:
        intervention = db.get(Intervention, intervention_id)
        db.add(
            EmailEvent(
                intervention_id=intervention.id if intervention is not None else None,
                event_type=webhooks.UNSUBSCRIBED,
                occurred_at=now,
                received_at=now,
                provider="link",
                data={"source": source},
            )
        )
        db.flush()
    return created


def _already_recorded(db: Session, provider_event_id: str) -> bool:
    found = db.scalar(
        select(EmailEvent.id).where(EmailEvent.provider_event_id == provider_event_id)
    )
    return found is not None


def record_provider_event(
    db: Session,
    *,
    event: webhooks.ProviderEvent,
    now: datetime,
    click_window_seconds: int,
    proxy_networks: tuple[machines.Network, ...] = (),
) -> str:
    """Apply one verified provider event. Returns "recorded", "duplicate" or "unmatched".

    An event for a message we cannot find is still recorded (with no
    intervention) when it suppresses an address, so a bounce is never lost.
    """
    if _already_recorded(db, event.provider_event_id):
        return "duplicate"
    intervention = find_intervention(
        db, provider_message_id=event.provider_message_id, intervention_id=event.intervention_id
    )
    is_machine = False
    if event.kind == webhooks.OPENED:
        verdict = machines.classify_open(
            user_agent=event.user_agent, ip=event.ip, extra_proxy_networks=proxy_networks
        )
        is_machine = bool(event.machine_hint) or verdict.is_machine
    elif event.kind == webhooks.CLICKED:
        verdict = machines.classify_click(
            user_agent=event.user_agent,
            ip=event.ip,
            sent_at=intervention.sent_at if intervention is not None else None,
            now=event.occurred_at,
            window_seconds=click_window_seconds,
        )
        is_machine = verdict.is_machine
    row = EmailEvent(
        intervention_id=intervention.id if intervention is not None else None,
        event_type=event.kind,
        occurred_at=event.occurred_at,
        received_at=now,
        provider=event.provider,
        provider_event_id=event.provider_event_id,
        is_machine=is_machine,
        user_agent=event.user_agent[:1000] if event.user_agent else None,
        url=event.url,
        data={**event.data, "reason": event.reason, "hard_bounce": event.hard_bounce},
    )
    try:
        with db.begin_nested():
            db.add(row)
            db.flush()
    except IntegrityError:
        # The same event arrived concurrently and the other request stored it first.
        return "duplicate"

    email = event.email or (intervention.to_email if intervention is not None else None)
    if event.kind == webhooks.BOUNCED and event.hard_bounce and email:
        _suppress(db, email=email, reason="bounce", source=event.provider, now=now)
    elif event.kind == webhooks.COMPLAINED and email:
        _suppress(db, email=email, reason="complaint", source=event.provider, now=now)
    elif event.kind == webhooks.UNSUBSCRIBED and email:
        _suppress(db, email=email, reason="unsubscribe", source=event.provider, now=now)

    if intervention is None:
        return "unmatched"
    _apply_to_intervention(intervention, event, is_machine=is_machine)
    db.flush()
    return "recorded"


def _suppress(db: Session, *, email: str, reason: str, source: str, now: datetime) -> None:
    try:
        suppression.add_suppression(db, email=email, reason=reason, now=now, source=source)
    except Invalid:
        log.warning("provider %s reported an unusable address; not suppressed", source)


def _apply_to_intervention(
    intervention: Intervention, event: webhooks.ProviderEvent, *, is_machine: bool
) -> None:
    at = event.occurred_at
    if event.kind == webhooks.DELIVERED:
        if intervention.delivered_at is None:
            intervention.delivered_at = at
        intervention.status = advance_status(intervention.status, "delivered")
    elif event.kind == webhooks.OPENED and not is_machine:
        _touch_open(intervention, at)
    elif event.kind == webhooks.CLICKED and not is_machine:
        _touch_click(intervention, at)
    elif (
        event.kind in (webhooks.BOUNCED, webhooks.DROPPED)
        and (event.hard_bounce or event.kind == webhooks.DROPPED)
        # Only a message not yet seen by its reader can turn out undeliverable.
        and intervention.status in ("pending", "sending", "sent", "delivered")
    ):
        intervention.status = "failed"
        reason = f"{event.provider} {event.kind}: {event.reason or ''}".strip()
        intervention.error_message = reason[:2000]
