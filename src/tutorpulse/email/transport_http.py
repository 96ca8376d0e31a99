"""Resend and SendGrid transports over their HTTP APIs (httpx, synchronous).

Failure mapping (what the outbox does next):

- timeout, connection error, 429, 5xx → :class:`TemporaryFailure` (retry later;
  the next transport in ``EMAIL_FALLBACK`` may take over, since the provider did
  not accept the message);
- any other 4xx (invalid recipient, validation error, bad key) →
  :class:`PermanentFailure` with the provider's own message (no retry, no
  fallback: another provider would reject it too, or the key must be fixed).

Resend: ``POST {base}/emails`` with ``Authorization: Bearer`` and JSON
``{from, to, subject, html, text, headers, tags:[{name, value}]}``; answers
``{"id": …}``; errors ``{"statusCode", "name", "message"}``. The message id goes in
``Idempotency-Key`` so a retry after a lost response cannot send twice.

SendGrid v3: ``POST {base}/v3/mail/send`` with ``personalizations`` (recipient and
``custom_args``), ``from``, ``subject``, ``content`` (text/plain first, then
text/html), ``headers``; answers 202 with the id in ``X-Message-Id``; errors
``{"errors": [{"message", "field", "help"}]}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from email.utils import parseaddr
from typing import Any

import httpx

from tutorpulse.core.errors import Invalid
from tutorpulse.core.settings import Settings
from tutorpulse.email.transport import (
    OutgoingMessage,
    PermanentFailure,
    SendResult,
    TemporaryFailure,
    Transport,
)

USER_AGENT = "TutorPulse-email/1"
_TAG_SAFE = re.compile(r"[^A-Za-z0-9_-]")
# Headers a provider sets itself and refuses (or silently overrides) when given.
_RESERVED_HEADERS = frozenset(
    {"from", "to", "cc", "bcc", "subject", "reply-to", "content-type", "mime-version", "date"}
)


def _custom_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in _RESERVED_HEADERS}


def _error_text(response: httpx.Response) -> str:
    """The provider's own explanation from an error response (JSON or plain text)."""
    try:
        body: Any = response.json()
    except ValueError:
        return response.text.strip()[:500] or response.reason_phrase
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            parts = []
            for err in errors:
                if isinstance(err, dict):
                    field = f"{err['field']}: " if err.get("field") else ""
                    parts.append(f"{field}{err.get('message', '')}".strip())
            if parts:
                return "; ".join(parts)[:500]
        name, message = body.get("name"), body.get("message")
        if message:
            return f"{name}: {message}"[:500] if name else str(message)[:500]
    return response.text.strip()[:500] or response.reason_phrase


class _HttpTransport:
    name = "http"

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        timeout: float,
        client: httpx.Client | None = None,
    ) -> None:
        if not api_key:
            raise ValueError(f"the {self.name} transport needs an API key")
        self._api_key = api_key
        self._base_url = base_url.rstrip("/")
        self._client = client or httpx.Client(timeout=timeout)
        self._timeout = timeout

    def _post(self, path: str, payload: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
        request_headers = {
            "Authorization": f"Bearer {self._api_key}",
            "User-Agent": USER_AGENT,
            **headers,
        }
        try:
            response = self._client.post(
                self._base_url + path, json=payload, headers=request_headers, timeout=self._timeout
            )
        except httpx.TimeoutException as exc:
            raise TemporaryFailure(
                f"{self.name}: no answer within {self._timeout:g}s", provider=self.name
            ) from exc
        except httpx.TransportError as exc:
            raise TemporaryFailure(
                f"{self.name}: connection failed ({type(exc).__name__}: {exc})", provider=self.name
            ) from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise TemporaryFailure(
                f"{self.name} HTTP {response.status_code}: {_error_text(response)}",
                provider=self.name,
            )
        if response.status_code >= 400:
            raise PermanentFailure(
                f"{self.name} HTTP {response.status_code}: {_error_text(response)}",
                provider=self.name,
            )
        return response

    def close(self) -> None:
        self._client.close()


class ResendTransport(_HttpTransport):
    """Sends through Resend's ``POST /emails``."""

    name = "resend"

    def send(self, message: OutgoingMessage) -> SendResult:
        payload: dict[str, Any] = {
            "from": message.sender,
            "to": [message.to],
            "subject": message.subject,
            "html": message.html,
            "text": message.text,
        }
        headers = _custom_headers(message.headers)
        if headers:
            payload["headers"] = headers
        if any(str(v) for v in message.tags.values()):
            # Resend accepts only ASCII letters, digits, '_' and '-' in tag names and values.
            payload["tags"] = [
                {"name": _TAG_SAFE.sub("_", k), "value": _TAG_SAFE.sub("_", str(v))}
                for k, v in message.tags.items()
                if str(v)  # an empty tag value carries nothing and may be refused
            ]
        response = self._post(
            "/emails", payload, {"Idempotency-Key": message.message_id.strip("<>")[:256]}
        )
        try:
            body = response.json()
        except ValueError:
            body = {}
        message_id = body.get("id") if isinstance(body, dict) else None
        return SendResult(provider=self.name, provider_message_id=message_id or None)


class SendGridTransport(_HttpTransport):
    """Sends through SendGrid's v3 ``POST /v3/mail/send``."""

    name = "sendgrid"

    def send(self, message: OutgoingMessage) -> SendResult:
        from_name, from_email = parseaddr(message.sender)
        sender: dict[str, str] = {"email": from_email or message.sender}
        if from_name:
            sender["name"] = from_name
        personalization: dict[str, Any] = {"to": [{"email": message.to}]}
        if message.tags:
            personalization["custom_args"] = {k: str(v) for k, v in message.tags.items()}
        payload: dict[str, Any] = {
            "personalizations": [personalization],
            "from": sender,
            "subject": message.subject,
            # SendGrid requires text/plain before text/html.
            "content": [
                {"type": "text/plain", "value": message.text},
                {"type": "text/html", "value": message.html},
            ],
        }
        headers = _custom_headers(message.headers)
        if headers:
            payload["headers"] = headers
        response = self._post("/v3/mail/send", payload, {})
        return SendResult(
            provider=self.name, provider_message_id=response.headers.get("x-message-id")
        )


def build_http_transport(
    name: str, settings: Settings, *, client: httpx.Client | None = None
) -> Transport:
    """The Resend or SendGrid transport configured by ``settings``.

    Raises ``Invalid`` for another name or when the provider's API key is not set.
    """
    timeout = settings.email_http_timeout_seconds
    if name == "resend":
        key = settings.resend_api_key.get_secret_value() if settings.resend_api_key else ""
        if not key:
            raise Invalid.field("RESEND_API_KEY", "is required by the 'resend' transport")
        return ResendTransport(
            api_key=key, base_url=settings.resend_api_base_url, timeout=timeout, client=client
        )
    if name == "sendgrid":
        key = settings.sendgrid_api_key.get_secret_value() if settings.sendgrid_api_key else ""
        if not key:
            raise Invalid.field("SENDGRID_API_KEY", "is required by the 'sendgrid' transport")
        return SendGridTransport(
            api_key=key, base_url=settings.sendgrid_api_base_url, timeout=timeout, client=client
        )
    raise Invalid.field("EMAIL_TRANSPORT", f"{name!r} is not an HTTP transport (resend, sendgrid)")
