"""A real SMTP server (aiosmtpd) for tests, in this process, with scriptable replies.

``SmtpSink`` records every accepted message. ``rcpt_replies`` maps a recipient
to the reply its RCPT TO gets (e.g. "550 5.1.1 No such user"); ``data_hook``
may answer a DATA command itself (return a reply string) instead of accepting.
``users`` turns on AUTH (PLAIN/LOGIN) with those credentials. ``tls`` adds
STARTTLS (or, with ``implicit_tls``, TLS from the first byte) with a
self-signed certificate; ``client_context`` trusts it.
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpSink:
    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.envelopes: list[tuple[str, list[str], str]] = []  # (mail from, rcpts, ehlo name)
        self.rcpt_replies: dict[str, str] = {}
        self.data_hook: Callable[[Any, Any], str | None] | None = None
        self.lock = threading.Lock()

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        reply = self.rcpt_replies.get(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.data_hook is not None:
            reply = self.data_hook(session, envelope)
            if reply is not None:
                return reply
        with self.lock:
            self.messages.append(bytes(envelope.original_content or envelope.content))
            self.envelopes.append(
                (envelope.mail_from, list(envelope.rcpt_tos), str(session.host_name))
            )
        return "250 2.0.0 Message accepted for delivery"

    def parsed(self) -> list[EmailMessage]:
        with self.lock:
            raw = list(self.messages)
        return [message_from_bytes(m, policy=policy.default) for m in raw]  # type: ignore[misc]

    def message_ids(self) -> list[str]:
        return [str(m["Message-ID"]) for m in self.parsed()]


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class Server:
    def __init__(self, sink: SmtpSink, port: int, client_context: ssl.SSLContext | None) -> None:
        self.sink = sink
        self.host = "localhost"
        self.port = port
        self.client_context = client_context


@contextmanager
def smtp_server(
    *,
    users: dict[str, str] | None = None,
    tls: bool = False,
    implicit_tls: bool = False,
    sink: SmtpSink | None = None,
) -> Iterator[Server]:
    """Run an SMTP server on a free localhost port for the ``with`` block."""
    sink = sink or SmtpSink()
    kwargs: dict[str, Any] = {}
    client_context = None
    with tempfile.TemporaryDirectory() as tmp:
        if tls or implicit_tls:
            cert, key = _self_signed(Path(tmp))
            server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            server_context.load_cert_chain(cert, key)
            client_context = ssl.create_default_context(cafile=str(cert))
            if implicit_tls:
                kwargs["ssl_context"] = server_context
            else:
                kwargs["tls_context"] = server_context
        if users is not None:

            def authenticate(
                server: Any, session: Any, envelope: Any, mechanism: str, data: Any
            ) -> AuthResult:
                ok = (
                    isinstance(data, LoginPassword)
                    and users.get(data.login.decode()) == data.password.decode()
                )
                return AuthResult(success=ok, handled=False)

            kwargs["authenticator"] = authenticate
            kwargs["auth_required"] = True
            kwargs["auth_require_tls"] = False
        port = free_port()
        controller = Controller(sink, hostname="127.0.0.1", port=port, **kwargs)
        controller.start()
        try:
            yield Server(sink, port, client_context)
        finally:
            controller.stop()
