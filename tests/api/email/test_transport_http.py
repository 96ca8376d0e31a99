"""Resend and SendGrid transports against recorded request/response contracts (respx).

The response bodies are the shapes each provider documents: Resend answers
``{"id"}`` or ``{"statusCode", "name", "message"}``; SendGrid answers 202 with
``X-Message-Id`` or ``{"errors": [{"message", "field", "help"}]}``.
"""

from __future__ import annotations

import json

import httpx
import pytest
import respx
from pydantic import SecretStr

from tutorpulse.core.errors import Invalid
from tutorpulse.core.settings import Settings
from tutorpulse.email.transport import (
    FallbackTransport,
    OutgoingMessage,
    PermanentFailure,
    TemporaryFailure,
    build_transport,
)
from tutorpulse.email.transport_http import (
    ResendTransport,
    SendGridTransport,
    build_http_transport,
)

RESEND = "https://resend.test"
SENDGRID = "https://sendgrid.test"

MESSAGE = OutgoingMessage(
    message_id="<42.abc@tutorpulse.local>",
    to="ana@example.test",
    sender="TutorPulse <tutor-success@tutorpulse.test>",
    subject="Your first session is tomorrow",
    html="<p>Hi Ana</p>",
    text="Hi Ana",
    headers={
        "List-Unsubscribe": "<https://tp.test/u/x.y>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    },
    tags={"intervention_id": "42", "email_type": "first-session"},
)

# Recorded contracts.
RESEND_OK = {"id": "49a3999c-0ce1-4ea6-ab68-afcd6dc2e794"}
RESEND_422 = {
    "statusCode": 422,
    "name": "validation_error",
    "message": "Invalid `to` field. The email address needs to follow the `email@example.com` format.",
}
RESEND_429 = {
    "statusCode": 429,
    "name": "rate_limit_exceeded",
    "message": "Too many requests. You can only make 2 requests per second.",
}
RESEND_503 = {"statusCode": 503, "name": "application_error", "message": "Service unavailable"}
SENDGRID_400 = {
    "errors": [
        {
            "message": "Does not contain a valid address.",
            "field": "personalizations.0.to.0.email",
            "help": "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html",
        }
    ]
}


@pytest.fixture
def settings() -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        resend_api_key=SecretStr("re_test_key"),
        sendgrid_api_key=SecretStr("SG.test_key"),
        resend_api_base_url=RESEND,
        sendgrid_api_base_url=SENDGRID,
        email_http_timeout_seconds=2.0,
        email_transport="resend",
        email_fallback="sendgrid",
    )


def test_resend_request_contract_and_success(settings: Settings) -> None:
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(f"{RESEND}/emails").respond(200, json=RESEND_OK)
        result = build_http_transport("resend", settings).send(MESSAGE)
    assert result.provider == "resend"
    assert result.provider_message_id == RESEND_OK["id"]
    request = route.calls.last.request
    assert request.headers["authorization"] == "Bearer re_test_key"
    assert request.headers["idempotency-key"] == "42.abc@tutorpulse.local"
    body = json.loads(request.content)
    assert body == {
        "from": MESSAGE.sender,
        "to": ["ana@example.test"],
        "subject": MESSAGE.subject,
        "html": MESSAGE.html,
        "text": MESSAGE.text,
        "headers": dict(MESSAGE.headers),
        "tags": [
            {"name": "intervention_id", "value": "42"},
            {"name": "email_type", "value": "first-session"},
        ],
    }


def test_sendgrid_request_contract_and_success(settings: Settings) -> None:
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(f"{SENDGRID}/v3/mail/send").respond(
            202, headers={"X-Message-Id": "SGMSG123"}
        )
        result = build_http_transport("sendgrid", settings).send(MESSAGE)
    assert (result.provider, result.provider_message_id) == ("sendgrid", "SGMSG123")
    request = route.calls.last.request
    assert request.headers["authorization"] == "Bearer SG.test_key"
    body = json.loads(request.content)
    assert body["personalizations"] == [
        {"to": [{"email": "ana@example.test"}], "custom_args": dict(MESSAGE.tags)}
    ]
    assert body["from"] == {"email": "tutor-success@tutorpulse.test", "name": "TutorPulse"}
    assert body["subject"] == MESSAGE.subject
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    assert [c["value"] for c in body["content"]] == [MESSAGE.text, MESSAGE.html]
    assert body["headers"] == dict(MESSAGE.headers)


@pytest.mark.parametrize(
    ("status", "payload", "kind", "words"),
    [
        (422, RESEND_422, PermanentFailure, "validation_error: Invalid `to` field"),
        (
            403,
            {"statusCode": 403, "name": "invalid_api_key", "message": "API key is invalid"},
            PermanentFailure,
            "invalid_api_key",
        ),
        (429, RESEND_429, TemporaryFailure, "rate_limit_exceeded"),
        (503, RESEND_503, TemporaryFailure, "Service unavailable"),
        (500, None, TemporaryFailure, "HTTP 500"),
    ],
)
def test_resend_failure_mapping(
    settings: Settings, status: int, payload: object, kind: type[Exception], words: str
) -> None:
    with respx.mock() as mock:
        if payload is None:
            mock.post(f"{RESEND}/emails").respond(status, text="upstream exploded")
        else:
            mock.post(f"{RESEND}/emails").respond(status, json=payload)
        with pytest.raises(kind) as caught:
            build_http_transport("resend", settings).send(MESSAGE)
    assert words in caught.value.reason  # type: ignore[attr-defined]


def test_sendgrid_400_is_permanent_with_field_and_message(settings: Settings) -> None:
    with respx.mock() as mock:
        mock.post(f"{SENDGRID}/v3/mail/send").respond(400, json=SENDGRID_400)
        with pytest.raises(PermanentFailure) as caught:
            build_http_transport("sendgrid", settings).send(MESSAGE)
    assert "personalizations.0.to.0.email: Does not contain a valid address." in caught.value.reason


@pytest.mark.parametrize(
    "error",
    [httpx.ConnectTimeout("timed out"), httpx.ConnectError("refused"), httpx.ReadTimeout("slow")],
)
def test_network_failures_are_temporary(settings: Settings, error: Exception) -> None:
    with respx.mock() as mock:
        mock.post(f"{SENDGRID}/v3/mail/send").mock(side_effect=error)
        with pytest.raises(TemporaryFailure):
            build_http_transport("sendgrid", settings).send(MESSAGE)


def test_fallback_to_sendgrid_on_resend_503(settings: Settings) -> None:
    transport = build_transport(settings)
    assert isinstance(transport, FallbackTransport)
    assert [t.name for t in transport.transports] == ["resend", "sendgrid"]
    with respx.mock(assert_all_called=True) as mock:
        resend = mock.post(f"{RESEND}/emails").respond(503, json=RESEND_503)
        sendgrid = mock.post(f"{SENDGRID}/v3/mail/send").respond(
            202, headers={"X-Message-Id": "SGFALLBACK"}
        )
        result = transport.send(MESSAGE)
    assert (result.provider, result.provider_message_id) == ("sendgrid", "SGFALLBACK")
    assert resend.call_count == 1
    assert sendgrid.call_count == 1


def test_no_fallback_on_a_422_recipient_error(settings: Settings) -> None:
    transport = build_transport(settings)
    with respx.mock(assert_all_called=False) as mock:
        mock.post(f"{RESEND}/emails").respond(422, json=RESEND_422)
        sendgrid = mock.post(f"{SENDGRID}/v3/mail/send").respond(202)
        with pytest.raises(PermanentFailure) as caught:
            transport.send(MESSAGE)
    assert sendgrid.call_count == 0  # never sent twice, never to a second provider
    assert "Invalid `to` field" in caught.value.reason


def test_both_providers_down_is_temporary_with_both_reasons(settings: Settings) -> None:
    transport = build_transport(settings)
    with respx.mock() as mock:
        mock.post(f"{RESEND}/emails").respond(503, json=RESEND_503)
        mock.post(f"{SENDGRID}/v3/mail/send").mock(side_effect=httpx.ConnectTimeout("t"))
        with pytest.raises(TemporaryFailure) as caught:
            transport.send(MESSAGE)
    assert "resend" in caught.value.reason
    assert "sendgrid" in caught.value.reason


def test_missing_api_key_is_a_configuration_error(settings: Settings) -> None:
    with pytest.raises(Invalid, match="RESEND_API_KEY"):
        build_http_transport("resend", settings.model_copy(update={"resend_api_key": None}))
    with pytest.raises(Invalid, match="EMAIL_TRANSPORT"):
        build_http_transport("smtp", settings)
    assert isinstance(build_http_transport("resend", settings), ResendTransport)
    assert isinstance(build_http_transport("sendgrid", settings), SendGridTransport)
