"""Provider webhooks, pure part: signature verification and mapping to our event kinds.

- Resend signs with Svix: ``svix-signature`` holds one or more space-separated
  ``v1,<base64 HMAC-SHA256>`` values of ``"{svix-id}.{svix-timestamp}.{raw body}"``
  keyed with the base64 secret after the ``whsec_`` prefix; a timestamp outside the
  tolerance is refused (replay protection). Source: Svix, "Verifying Webhooks
  Manually".
- SendGrid's Signed Event Webhook: ``X-Twilio-Email-Event-Webhook-Signature`` is a
  base64 DER ECDSA P-256/SHA-256 signature of ``timestamp + raw body``, where
  ``timestamp`` is ``X-Twilio-Email-Event-Webhook-Timestamp``; the verification key
  is the base64 DER public key shown in SendGrid's mail settings. Source: Twilio
  SendGrid, "Getting Started with the Event Webhook Security Features".

Every verification failure raises :class:`SignatureError`; the caller answers 401
and records nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# Our event kinds (EmailEvent.event_type).
DELIVERED = "delivered"
BOUNCED = "bounced"
COMPLAINED = "complained"
OPENED = "opened"
CLICKED = "clicked"
UNSUBSCRIBED = "unsubscribed"
DEFERRED = "deferred"
DROPPED = "dropped"
SENT = "sent"


class SignatureError(Exception):
    """The webhook is not provably from the provider (bad, missing or stale signature)."""


@dataclass(frozen=True)
class ProviderEvent:
    """One provider event, normalised."""

    provider: str
    provider_event_id: str
    kind: str  # one of the constants above, or "other"
    occurred_at: datetime
    provider_message_id: str | None = None
    intervention_id: int | None = None
    email: str | None = None
    hard_bounce: bool = False
    reason: str | None = None
    url: str | None = None
    user_agent: str | None = None
    ip: str | None = None
    machine_hint: bool | None = None  # the provider's own machine-open flag, when it sends one
    data: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------ Svix / Resend


def _check_timestamp(value: str, now: datetime, tolerance_seconds: int) -> None:
    try:
        sent = int(value.strip())
    except (ValueError, AttributeError) as exc:
        raise SignatureError("timestamp header is not a number") from exc
    if abs(now.timestamp() - sent) > tolerance_seconds:
        raise SignatureError("timestamp outside the accepted window")


def svix_key(secret: str) -> bytes:
    """The HMAC key of a Svix signing secret ``whsec_<base64>``."""
    raw = secret.strip()
    if raw.startswith("whsec_"):
        raw = raw[len("whsec_") :]
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("the Resend webhook secret is not 'whsec_' + base64") from exc


def verify_svix(
    *,
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
    tolerance_seconds: int,
) -> str:
    """Check a Svix-signed request; return its message id (``svix-id``).

    ``headers`` must be case-insensitive (Starlette's are) or lower-case keyed.
    Raises SignatureError when a header is missing, the timestamp is stale or no
    ``v1`` signature matches.
    """
    msg_id = headers.get("svix-id") or headers.get("webhook-id")
    timestamp = headers.get("svix-timestamp") or headers.get("webhook-timestamp")
    signatures = headers.get("svix-signature") or headers.get("webhook-signature")
    if not msg_id or not timestamp or not signatures:
        raise SignatureError("missing svix-id, svix-timestamp or svix-signature header")
    _check_timestamp(timestamp, now, tolerance_seconds)
    signed = msg_id.encode() + b"." + timestamp.strip().encode() + b"." + body
    expected = hmac.new(svix_key(secret), signed, hashlib.sha256).digest()
    for entry in signatures.split():
        version, _, value = entry.partition(",")
        if version != "v1":
            continue
        try:
            given = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            continue
        if hmac.compare_digest(given, expected):
            return msg_id
    raise SignatureError("no matching v1 signature")


def sign_svix(*, secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``svix-signature`` value for a body (for tests and local replay tools)."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(svix_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


# ------------------------------------------------------------------ SendGrid


def _load_public_key(public_key: str) -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import (
        load_der_public_key,
        load_pem_public_key,
    )

    text = public_key.strip()
    if "BEGIN PUBLIC KEY" in text:
        key = load_pem_public_key(text.encode())
    else:
        key = load_der_public_key(base64.b64decode("".join(text.split()), validate=True))
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("the SendGrid verification key is not an elliptic-curve key")
    return key


def verify_sendgrid(
    *,
    public_key: str,
    signature: str | None,
    timestamp: str | None,
    body: bytes,
    now: datetime,
    tolerance_seconds: int,
) -> None:
    """Check SendGrid's ECDSA signature of ``timestamp + body``; SignatureError if it fails."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    if not signature or not timestamp:
        raise SignatureError("missing X-Twilio-Email-Event-Webhook-Signature or -Timestamp")
    _check_timestamp(timestamp, now, tolerance_seconds)
    try:
        key = _load_public_key(public_key)
    except (ValueError, binascii.Error) as exc:
        raise ValueError(f"SENDGRID_WEBHOOK_PUBLIC_KEY cannot be read: {exc}") from exc
    try:
        der = base64.b64decode(signature.strip(), validate=True)
        key.verify(der, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, binascii.Error, ValueError) as exc:
        raise SignatureError("signature does not verify") from exc


# ------------------------------------------------------------------ mapping

_RESEND_KINDS = {
    "email.sent": SENT,
    "email.delivered": DELIVERED,
    "email.delivery_delayed": DEFERRED,
    "email.bounced": BOUNCED,
    "email.complained": COMPLAINED,
    "email.opened": OPENED,
    "email.clicked": CLICKED,
    "email.failed": DROPPED,
    "email.suppressed": DROPPED,
}

_SENDGRID_KINDS = {
    "delivered": DELIVERED,
    "bounce": BOUNCED,
    "blocked": BOUNCED,  # SendGrid sends bounce events with type "blocked" too
    "dropped": DROPPED,
    "deferred": DEFERRED,
    "spamreport": COMPLAINED,
    "open": OPENED,
    "click": CLICKED,
    "unsubscribe": UNSUBSCRIBED,
    "group_unsubscribe": UNSUBSCRIBED,
}


def _parse_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _parse_time(value: object, fallback: datetime) -> datetime:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return fallback
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return fallback


def _tags(raw: object) -> dict[str, str]:
    if isinstance(raw, dict):
        return {str(k): str(v) for k, v in raw.items()}
    if isinstance(raw, list):
        return {
            str(t["name"]): str(t.get("value", ""))
            for t in raw
            if isinstance(t, dict) and "name" in t
        }
    return {}


def _obj(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _load_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("the webhook body is not JSON") from exc


def parse_resend(body: bytes, *, event_id: str, received_at: datetime) -> list[ProviderEvent]:
    """The one event of a (verified) Resend webhook body; ValueError if malformed."""
    payload = _load_json(body)
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
        raise ValueError("a Resend event is an object with 'type' and 'data'")
    data: dict[str, Any] = payload["data"]
    kind = _RESEND_KINDS.get(str(payload.get("type")), "other")
    to = data.get("to")
    email = to[0] if isinstance(to, list) and to else to if isinstance(to, str) else None
    tags = _tags(data.get("tags"))
    bounce, click, opened = (
        _obj(data.get("bounce")),
        _obj(data.get("click")),
        _obj(data.get("open")),
    )
    engagement = click or opened
    occurred = engagement.get("timestamp") or payload.get("created_at")
    return [
        ProviderEvent(
            provider="resend",
            provider_event_id=f"resend:{event_id}",
            kind=kind,
            occurred_at=_parse_time(occurred, received_at),
            provider_message_id=str(data["email_id"]) if data.get("email_id") else None,
            intervention_id=_parse_int(tags.get("intervention_id")),
            email=str(email) if email else None,
            # Resend documents email.bounced as a permanent rejection; a "Transient"
            # type (if ever sent) is a soft bounce.
            hard_bounce=kind == BOUNCED and str(bounce.get("type", "Permanent")) != "Transient",
            reason=str(bounce.get("message")) if bounce.get("message") else None,
            url=str(click["link"]) if click.get("link") else None,
            user_agent=str(engagement["userAgent"]) if engagement.get("userAgent") else None,
            ip=str(engagement["ipAddress"]) if engagement.get("ipAddress") else None,
            data={"type": payload.get("type"), "tags": tags, "bounce": bounce or None},
        )
    ]


def parse_sendgrid(body: bytes, *, received_at: datetime) -> list[ProviderEvent]:
    """The events of a (verified) SendGrid Event Webhook body (a JSON array)."""
    payload = _load_json(body)
    if not isinstance(payload, list):
        raise ValueError("a SendGrid webhook body is a JSON array of events")
    events: list[ProviderEvent] = []
    for item in payload:
        if not isinstance(item, dict) or not item.get("sg_event_id"):
            continue
        name = str(item.get("event", ""))
        kind = _SENDGRID_KINDS.get(name, "other")
        sg_message_id = str(item.get("sg_message_id") or "")
        bounce_type = str(item.get("type") or "bounce")
        classification = str(item.get("bounce_classification") or "")
        hard = kind == BOUNCED and bounce_type == "bounce" and classification != "Technical"
        reason = item.get("reason") or item.get("response")
        machine = item.get("sg_machine_open")
        events.append(
            ProviderEvent(
                provider="sendgrid",
                provider_event_id=f"sendgrid:{item['sg_event_id']}",
                kind=kind,
                occurred_at=_parse_time(item.get("timestamp"), received_at),
                # X-Message-Id from the send response is the part before the first dot.
                provider_message_id=sg_message_id.split(".", 1)[0] or None,
                intervention_id=_parse_int(item.get("intervention_id")),
                email=str(item["email"]) if item.get("email") else None,
                hard_bounce=hard,
                reason=str(reason) if reason else None,
                url=str(item["url"]) if item.get("url") else None,
                user_agent=str(item["useragent"]) if item.get("useragent") else None,
                ip=str(item["ip"]) if item.get("ip") else None,
                machine_hint=machine if isinstance(machine, bool) else None,
                data={
                    "event": name,
                    "type": item.get("type"),
                    "status": item.get("status"),
                    "bounce_classification": classification or None,
                },
            )
        )
    return events
