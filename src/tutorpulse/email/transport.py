"""How an email leaves the building: one interface, several transports.

Every transport takes an :class:`OutgoingMessage` and returns a :class:`SendResult`
or raises :class:`TemporaryFailure` (try again later; a fallback transport may take
over) or :class:`PermanentFailure` (the recipient or the credentials were rejected;
retrying or failing over would not help and could double-send).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import smtplib
import ssl
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, parseaddr
from pathlib import Path
from typing import Protocol

from tutorpulse.core.errors import Invalid
from tutorpulse.core.settings import Settings

log = logging.getLogger("tutorpulse.email")


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


# --------------------------------------------------------------------- MIME


def build_mime(message: OutgoingMessage, *, date: datetime | None = None) -> bytes:
    """The RFC 5322 message as bytes (CRLF line ends): multipart/alternative, text part first,
    HTML last, both UTF-8.

    Built with the ``compat32`` MIME classes: several times faster than
    ``EmailMessage`` with the modern policy, which re-parses every header.
    Non-ASCII headers are RFC 2047 encoded. Raises ValueError when ``headers``
    tries to set a header the transport owns, or a header value has a line break.
    """
    # Our own boundary: the generator would otherwise compile a regular
    # expression per message to pick one. "=_" cannot occur in base64 bodies.
    mime = MIMEMultipart("alternative", boundary=f"=_tp_{secrets.token_hex(16)}")
    mime["From"] = _address(message.sender)
    mime["To"] = _address(message.to)
    mime["Subject"] = _encoded(message.subject)
    mime["Message-ID"] = message.message_id
    mime["Date"] = formatdate((date or datetime.now(UTC)).timestamp(), localtime=False, usegmt=True)
    for name, value in message.headers.items():
        if name.lower() in _RESERVED_HEADERS:
            raise ValueError(f"header {name} is set by the transport")
        mime[name] = _encoded(value)
    for name, value in message.tags.items():
        mime[f"X-TutorPulse-{_header_word(name)}"] = _encoded(value)
    mime.attach(MIMEText(message.text, "plain", "utf-8"))
    mime.attach(MIMEText(message.html, "html", "utf-8"))
    return mime.as_bytes(policy=_WIRE)


_WIRE = policy.compat32.clone(linesep="\r\n", max_line_length=998)


def _encoded(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError("header values must not contain line breaks")
    return value if value.isascii() else Header(value, "utf-8").encode()


def _address(value: str) -> str:
    name, address = parseaddr(value)
    if not address:
        raise ValueError(f"not an email address: {value!r}")
    return formataddr((name, address), charset="utf-8") if name else address


_RESERVED_HEADERS = frozenset({"from", "to", "subject", "message-id", "date"})


def _header_word(name: str) -> str:
    return "-".join(part.capitalize() for part in name.replace("_", "-").split("-") if part)


def _domain_part(address: str) -> str:
    return address.rpartition("@")[2].strip(" >") or "localhost"


# --------------------------------------------------------------------- SMTP


def _reason(code: int, text: bytes | str) -> str:
    body = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {body}".strip()


def _by_code(code: int, reason: str, provider: str) -> TransportError:
    # 5xx: the server refused for good (bad recipient, bad credentials, policy);
    # anything else the server says (4xx, odd codes) is worth another try later.
    if 500 <= code < 600:
        return PermanentFailure(reason, provider=provider)
    return TemporaryFailure(reason, provider=provider)


TRUSTED_IDLE_SECONDS = 5.0


class SmtpTransport:
    """SMTP submission with smtplib: STARTTLS, implicit TLS or plain; AUTH when a user is set.

    One connection is kept open across messages (reconnecting when the server
    drops it), so call ``close()`` when done. Not thread-safe: one per worker.
    5xx replies (rejected recipient, failed AUTH) raise ``PermanentFailure`` with
    the server's own words; 4xx replies, timeouts and connection errors raise
    ``TemporaryFailure``.
    """

    name = "smtp"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        security: str = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ) -> None:
        if security not in ("starttls", "tls", "none"):
            raise ValueError(f"SMTP security must be starttls, tls or none, not {security!r}")
        self.host, self.port, self.security = host, port, security
        self.username, self.password = username or None, password or ""
        self.timeout = timeout
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.local_hostname = local_hostname
        self._conn: smtplib.SMTP | None = None
        self._last_used = float("-inf")

    def _connect(self) -> smtplib.SMTP:
        conn: smtplib.SMTP
        if self.security == "tls":
            conn = smtplib.SMTP_SSL(
                self.host,
                self.port,
                timeout=self.timeout,
                context=self.ssl_context,
                local_hostname=self.local_hostname,
            )
        else:
            conn = smtplib.SMTP(
                self.host, self.port, timeout=self.timeout, local_hostname=self.local_hostname
            )
        try:
            conn.ehlo()
            if self.security == "starttls":
                conn.starttls(context=self.ssl_context)
                conn.ehlo()
            if self.username:
                conn.login(self.username, self.password)
        except BaseException:
            _quietly_close(conn)
            raise
        return conn

    def send(self, message: OutgoingMessage) -> SendResult:
        data = build_mime(message)
        try:
            self._ensure_connection()
            assert self._conn is not None
            # Sent once: after a failure nobody knows whether the server queued it.
            self._conn.sendmail(_envelope(message.sender), [_envelope(message.to)], data)
            self._last_used = time.monotonic()
        except smtplib.SMTPRecipientsRefused as exc:
            self._reset()
            code, text = next(iter(exc.recipients.values()))
            raise _by_code(code, _reason(code, text), self.name) from exc
        except smtplib.SMTPResponseException as exc:  # AUTH, MAIL FROM, DATA, HELO replies
            self._reset()
            raise _by_code(
                exc.smtp_code, _reason(exc.smtp_code, exc.smtp_error), self.name
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            self._drop()
            raise TemporaryFailure(
                f"SMTP server does not support: {exc}", provider=self.name
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:  # disconnects, timeouts, refused, TLS
            self._drop()
            raise TemporaryFailure(
                f"SMTP {self.host}:{self.port}: {type(exc).__name__}: {exc}", provider=self.name
            ) from exc
        return SendResult(provider=self.name, provider_message_id=message.message_id)

    def _ensure_connection(self) -> None:
        # A kept-alive connection may have been closed by the server while idle;
        # NOOP finds out before the message is handed over, so a dead connection
        # is replaced instead of turning the message into an ambiguous failure.
        # Servers wait minutes before closing an idle client (RFC 5321 §4.5.3.2),
        # so a connection used in the last few seconds is not asked again.
        if self._conn is not None:
            if time.monotonic() - self._last_used < TRUSTED_IDLE_SECONDS:
                return
            try:
                code, _ = self._conn.noop()
                if code == 250:
                    return
            except (smtplib.SMTPException, OSError):
                pass
            self._drop()
        self._conn = self._connect()

    def _reset(self) -> None:
        # After a refused transaction the connection stays usable once RSET succeeds.
        if self._conn is None:
            return
        try:
            self._conn.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            _quietly_close(self._conn)
            self._conn = None

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._conn.quit()
            self._drop()


def _envelope(sender: str) -> str:
    return parseaddr(sender)[1] or sender


def _quietly_close(conn: smtplib.SMTP) -> None:
    with contextlib.suppress(OSError):
        conn.close()


# --------------------------------------------------------------------- file


class FileTransport:
    """Writes each message as an RFC 5322 ``.eml`` file into a folder (the demo default).

    The file name comes from the Message-ID, so writing the same message again
    replaces the file instead of adding a second one. Writes are atomic
    (temporary file, then rename).
    """

    name = "file"

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def path_for(self, message_id: str) -> Path:
        stem = _SAFE_NAME.sub("_", message_id.strip("<>"))[:180] or "message"
        return self.directory / f"{stem}.eml"

    def send(self, message: OutgoingMessage) -> SendResult:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            data = build_mime(message)
            target = self.path_for(message.message_id)
            tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, target)
        except OSError as exc:
            raise TemporaryFailure(
                f"cannot write to {self.directory}: {exc}", provider=self.name
            ) from exc
        return SendResult(provider=self.name, provider_message_id=target.name)


_SAFE_NAME = re.compile(r"[^A-Za-z0-9._@-]+")


# --------------------------------------------------------------------- fallback


class FallbackTransport:
    """Tries each transport in order; moves on only after a ``TemporaryFailure``.

    A provider outage (timeout, 5xx from an HTTP API, 4xx from SMTP) hands the
    message to the next transport. A ``PermanentFailure`` is raised at once:
    another provider would reject the same recipient, and a message must not go
    out twice. When every transport fails temporarily, the last failure is
    raised with every transport's reason.
    """

    def __init__(self, transports: Sequence[Transport]) -> None:
        if not transports:
            raise ValueError("FallbackTransport needs at least one transport")
        self.transports = list(transports)
        self.name = "+".join(t.name for t in self.transports)

    def send(self, message: OutgoingMessage) -> SendResult:
        reasons = []
        for transport in self.transports:
            try:
                return transport.send(message)
            except TemporaryFailure as exc:
                log.warning("transport %s failed temporarily: %s", transport.name, exc.reason)
                reasons.append(f"{transport.name}: {exc.reason}")
        raise TemporaryFailure("; ".join(reasons), provider=self.name)

    def close(self) -> None:
        for transport in self.transports:
            close_transport(transport)


def close_transport(transport: Transport) -> None:
    """Close a transport that holds a connection (SMTP, HTTP clients); others are left alone."""
    closer = getattr(transport, "close", None)
    if callable(closer):
        closer()


# --------------------------------------------------------------------- factory

TRANSPORT_NAMES = ("smtp", "resend", "sendgrid", "file")


def outbox_dir(settings: Settings) -> Path:
    """Where the file transport writes: ``EMAIL_OUTBOX_DIR``, else ``<data_dir>/outbox``."""
    return Path(settings.email_outbox_dir or Path(settings.data_dir) / "outbox")


def build_one(name: str, settings: Settings) -> Transport:
    """One transport by name; raises ``Invalid`` for an unknown name."""
    if name == "smtp":
        return SmtpTransport(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            timeout=settings.smtp_timeout_seconds,
        )
    if name == "file":
        return FileTransport(outbox_dir(settings))
    if name in ("resend", "sendgrid"):
        from tutorpulse.email.transport_http import build_http_transport

        transport: Transport = build_http_transport(name, settings)
        return transport
    raise Invalid.field(
        "EMAIL_TRANSPORT", f"unknown transport {name!r}; use one of {', '.join(TRANSPORT_NAMES)}"
    )


def fallback_names(settings: Settings) -> list[str]:
    """``EMAIL_TRANSPORT`` then each ``EMAIL_FALLBACK`` name (comma-separated), without repeats."""
    names: list[str] = [settings.email_transport]
    for raw in settings.email_fallback.split(","):
        name = raw.strip().lower()
        if name and name not in names:
            names.append(name)
    return names


def build_transport(settings: Settings) -> Transport:
    """The configured transport, wrapped in a ``FallbackTransport`` when fallbacks are set."""
    transports = [build_one(name, settings) for name in fallback_names(settings)]
    return transports[0] if len(transports) == 1 else FallbackTransport(transports)
