"""SmtpTransport, FileTransport and FallbackTransport against a real SMTP server (aiosmtpd)."""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

import pytest

from tests.integration.email.smtp_sink import SmtpSink, free_port, smtp_server
from tutorpulse.core.errors import Invalid
from tutorpulse.core.settings import Settings
from tutorpulse.email.transport import (
    FallbackTransport,
    FileTransport,
    OutgoingMessage,
    PermanentFailure,
    SendResult,
    SmtpTransport,
    TemporaryFailure,
    build_transport,
)

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def message(to: str = "ana@example.test", n: int = 1) -> OutgoingMessage:
    return OutgoingMessage(
        message_id=f"<test-{n}@tutorpulse.test>",
        to=to,
        sender="Tutor Success <success@tutorpulse.test>",
        subject="Hello Ana — ünïcode",
        html="<html><body><p>Hi <b>Ana</b></p></body></html>",
        text="Hi Ana\n",
        headers={"List-Unsubscribe": "<https://tp.test/u/x>"},
        tags={"intervention_id": "42"},
    )


def smtp(port: int, **options: object) -> SmtpTransport:
    return SmtpTransport(host="localhost", port=port, security="none", timeout=5, **options)  # type: ignore[arg-type]


def test_plain_smtp_delivers_a_multipart_message_with_text_and_html() -> None:
    with smtp_server() as server:
        transport = smtp(server.port)
        result = transport.send(message())
        transport.close()
    assert result == SendResult(provider="smtp", provider_message_id="<test-1@tutorpulse.test>")
    [received] = server.sink.parsed()
    assert received.get_content_type() == "multipart/alternative"
    parts = {p.get_content_type(): p.get_content() for p in received.iter_parts()}
    assert set(parts) == {"text/plain", "text/html"}
    assert "Hi Ana" in parts["text/plain"]
    assert "<b>Ana</b>" in parts["text/html"]
    assert received["Subject"] == "Hello Ana — ünïcode"
    assert received["List-Unsubscribe"] == "<https://tp.test/u/x>"
    assert received["X-TutorPulse-Intervention-Id"] == "42"
    assert server.sink.envelopes[0][:2] == ("success@tutorpulse.test", ["ana@example.test"])


def test_one_connection_carries_many_messages() -> None:
    with smtp_server() as server:
        transport = smtp(server.port)
        for n in range(5):
            transport.send(message(n=n))
        transport.close()
    assert len(server.sink.messages) == 5


def test_starttls_with_auth() -> None:
    with smtp_server(tls=True, users={"mailer": "s3cret"}) as server:
        transport = SmtpTransport(
            host="localhost",
            port=server.port,
            security="starttls",
            username="mailer",
            password="s3cret",
            timeout=5,
            ssl_context=server.client_context,
        )
        transport.send(message())
        transport.close()
    assert len(server.sink.messages) == 1


def test_implicit_tls() -> None:
    with smtp_server(implicit_tls=True) as server:
        transport = SmtpTransport(
            host="localhost",
            port=server.port,
            security="tls",
            timeout=5,
            ssl_context=server.client_context,
        )
        transport.send(message())
        transport.close()
    assert len(server.sink.messages) == 1


def test_starttls_refuses_an_untrusted_certificate() -> None:
    with smtp_server(tls=True) as server:
        transport = SmtpTransport(
            host="localhost", port=server.port, security="starttls", timeout=5
        )
        with pytest.raises(TemporaryFailure, match="CERTIFICATE_VERIFY_FAILED"):
            transport.send(message())
    assert server.sink.messages == []


def test_wrong_password_is_a_permanent_failure_with_the_servers_reason() -> None:
    with smtp_server(users={"mailer": "s3cret"}) as server:
        transport = smtp(server.port, username="mailer", password="wrong")
        with pytest.raises(PermanentFailure) as caught:
            transport.send(message())
    assert caught.value.reason.startswith("535")
    assert "Authentication" in caught.value.reason
    assert server.sink.messages == []


def test_missing_auth_is_a_permanent_failure() -> None:
    with (
        smtp_server(users={"mailer": "s3cret"}) as server,
        pytest.raises(PermanentFailure, match="530"),
    ):
        smtp(server.port).send(message())


def test_rejected_recipient_550_is_permanent_and_the_connection_stays_usable() -> None:
    sink = SmtpSink()
    sink.rcpt_replies["ghost@example.test"] = "550 5.1.1 <ghost@example.test>: user unknown"
    with smtp_server(sink=sink) as server:
        transport = smtp(server.port)
        with pytest.raises(PermanentFailure) as caught:
            transport.send(message(to="ghost@example.test"))
        transport.send(message(n=2))
        transport.close()
    assert caught.value.reason == "550 5.1.1 <ghost@example.test>: user unknown"
    assert len(sink.messages) == 1


def test_greylisting_451_is_temporary() -> None:
    sink = SmtpSink()
    sink.rcpt_replies["ana@example.test"] = "451 4.7.1 Greylisted, try again later"
    with (
        smtp_server(sink=sink) as server,
        pytest.raises(TemporaryFailure, match=r"451 4\.7\.1 Greylisted"),
    ):
        smtp(server.port).send(message())


def test_451_at_data_is_temporary_and_552_permanent() -> None:
    sink = SmtpSink()
    with smtp_server(sink=sink) as server:
        transport = smtp(server.port)
        sink.data_hook = lambda session, envelope: "451 4.3.0 Queue full"
        with pytest.raises(TemporaryFailure, match=r"451 4\.3\.0"):
            transport.send(message())
        sink.data_hook = lambda session, envelope: "552 5.3.4 Message too big"
        with pytest.raises(PermanentFailure, match=r"552 5\.3\.4"):
            transport.send(message())


def test_no_server_is_a_temporary_failure() -> None:
    with pytest.raises(TemporaryFailure, match="ConnectionRefused"):
        smtp(free_port()).send(message())


def test_an_idle_connection_the_server_dropped_is_replaced_before_sending() -> None:
    with smtp_server() as server:
        transport = smtp(server.port)
        transport.send(message(n=1))
        assert transport._conn is not None
        transport._conn.sock.close()  # type: ignore[union-attr]  # the server "timed out" the idle link
        transport._last_used -= 60  # a minute idle: NOOP is asked first
        transport.send(message(n=2))
        transport.close()
    assert server.sink.message_ids() == ["<test-1@tutorpulse.test>", "<test-2@tutorpulse.test>"]


def test_file_transport_writes_one_eml_per_message_id(tmp_path: Path) -> None:
    transport = FileTransport(tmp_path / "outbox")
    first = transport.send(message())
    transport.send(message())  # a retry of the same message replaces, never duplicates
    files = list((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 1
    assert first.provider == "file"
    parsed = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert parsed["Message-ID"] == "<test-1@tutorpulse.test>"
    assert parsed.get_content_type() == "multipart/alternative"


def test_fallback_moves_on_after_a_temporary_failure_only(tmp_path: Path) -> None:
    files = FileTransport(tmp_path)
    dead = smtp(free_port())
    result = FallbackTransport([dead, files]).send(message())
    assert result.provider == "file"
    sink = SmtpSink()
    sink.rcpt_replies["ghost@example.test"] = "550 5.1.1 user unknown"
    with smtp_server(sink=sink) as server:
        chain = FallbackTransport([smtp(server.port), FileTransport(tmp_path / "second")])
        with pytest.raises(PermanentFailure, match="550"):
            chain.send(message(to="ghost@example.test"))
    assert not (tmp_path / "second").exists()


def test_fallback_reports_every_reason_when_all_fail() -> None:
    chain = FallbackTransport([smtp(free_port()), smtp(free_port())])
    with pytest.raises(TemporaryFailure) as caught:
        chain.send(message())
    assert caught.value.reason.count("smtp:") == 2


def test_build_transport_from_settings(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    assert isinstance(build_transport(settings), FileTransport)
    chained = build_transport(
        settings.model_copy(update={"email_transport": "smtp", "email_fallback": "file, smtp"})
    )
    assert isinstance(chained, FallbackTransport)
    assert [t.name for t in chained.transports] == ["smtp", "file"]
    with pytest.raises(Invalid, match="pigeon"):
        build_transport(settings.model_copy(update={"email_fallback": "pigeon"}))


def test_long_and_non_ascii_headers_survive_the_round_trip() -> None:
    subject = "Grüße, Zoë — we've missed you this week and would love to see you back soon"
    unsubscribe = "<https://tp.example.test/u/" + "x" * 120 + ">"
    with smtp_server() as server:
        transport = smtp(server.port)
        transport.send(
            OutgoingMessage(
                message_id="<long@tutorpulse.test>",
                to="zoe@example.test",
                sender="Zoë Café <success@tutorpulse.test>",
                subject=subject,
                html="<p>Grüße</p>",
                text="Grüße\n",
                headers={"List-Unsubscribe": unsubscribe},
                tags={},
            )
        )
        transport.close()
    [received] = server.sink.parsed()
    assert received["Subject"] == subject
    assert received["From"] == "Zoë Café <success@tutorpulse.test>"
    assert received["List-Unsubscribe"] == unsubscribe
    assert received.get_body(("plain",)).get_content() == "Grüße\n"


def test_a_header_with_a_line_break_is_refused() -> None:
    bad = OutgoingMessage(
        message_id="<x@y>",
        to="a@example.test",
        sender="s@example.test",
        subject="Hi\r\nBcc: victim@example.test",
        html="h",
        text="t",
        headers={},
        tags={},
    )
    with pytest.raises(ValueError, match="line breaks"):
        smtp(free_port()).send(bad)
