"""How an email leaves the building: one interface, several transports.

Every transport takes an :class:`OutgoingMessage` and returns a :class:`SendResult`
or raises :class:`TemporaryFailure` (try again later; a fallback transport may take
over) or :class:`PermanentFailure` (the recipient or the credentials were rejected;
retrying or failing over would not help and could double-send).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class OutgoingMessage:
    """One fully rendered message, ready for a transport."""

    message_id: str  # RFC 5322 Message-ID value (with angle brackets), unique per intervention
    to: str
    sender: str  # From header
    subject: str
    html: str
    text: str
    headers: Mapping[str, str] = field(default_factory=dict)  # e.g. List-Unsubscribe(-Post)
    tags: Mapping[str, str] = field(default_factory=dict)  # e.g. {"intervention_id": "42"}


@dataclass(frozen=True)
class SendResult:
    provider: str  # "smtp" | "file" | "resend" | "sendgrid"
    provider_message_id: str | None


class TransportError(Exception):
    """Base of the two failure kinds. ``reason`` is the provider's own words."""

    def __init__(self, reason: str, *, provider: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.provider = provider


class TemporaryFailure(TransportError):
    """Retry later (4xx, timeout, connection refused, provider 5xx); triggers fallback."""


class PermanentFailure(TransportError):
    """Recipient rejected, bad credentials, invalid message: no retry, no fallback."""


class Transport(Protocol):
    name: str

    def send(self, message: OutgoingMessage) -> SendResult: ...
