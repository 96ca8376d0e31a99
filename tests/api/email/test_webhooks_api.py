"""Provider webhooks over HTTP: signatures, duplicates, out-of-order events, suppression."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tutorpulse.core.settings import Settings
from tutorpulse.email import webhooks
from tutorpulse.email.models import EmailEvent, Suppression
from tutorpulse.interventions.models import Intervention

RESEND_SECRET = "whsec_" + base64.b64encode(b"resend-webhook-test-secret-32byt").decode()
_SG_KEY = ec.generate_private_key(ec.SECP256R1())
SG_PUBLIC = base64.b64encode(
    _SG_KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
).decode()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "resend_webhook_secret": SecretStr(RESEND_SECRET),
            "sendgrid_webhook_public_key": SG_PUBLIC,
            "email_machine_click_window_seconds": 10,
        }
    )


@pytest.fixture
def message(db: Session, factory: Any, clock: Any) -> Intervention:
    tutor = factory.tutor(email="bo@example.test")
    row = Intervention(
        idempotency_key="wh-1",
        tutor_id=tutor.id,
        intervention_type="low_engagement",
        to_email="bo@example.test",
        subject="s",
        content_html="<p>x</p>",
        content_text="x",
        status="sent",
        sent_at=clock.now() - timedelta(hours=2),
        provider="resend",
        provider_message_id="re_abc",
    )
    db.add(row)
    db.flush()
    return row


def resend_post(
    client: TestClient, clock: Any, payload: dict[str, Any], msg_id: str, **header_overrides: str
) -> Any:
    body = json.dumps(payload).encode()
    ts = int(clock.now().timestamp())
    headers = {
        "svix-id": msg_id,
        "svix-timestamp": str(ts),
        "svix-signature": webhooks.sign_svix(
            secret=RESEND_SECRET, msg_id=msg_id, timestamp=ts, body=body
        ),
        "content-type": "application/json",
    }
    headers.update(header_overrides)
    return client.post("/api/webhooks/resend", content=body, headers=headers)


def resend_event(kind: str, at: datetime, **data: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "created_at": at.isoformat(),
        "data": {
            "email_id": "re_abc",
            "to": ["bo@example.test"],
            "tags": [{"name": "intervention_id", "value": "0"}],
            **data,
        },
    }


def sendgrid_post(client: TestClient, clock: Any, events: list[dict[str, Any]]) -> Any:
    body = json.dumps(events).encode() + b"\r\n"
    ts = str(int(clock.now().timestamp()))
    signature = base64.b64encode(
        _SG_KEY.sign(ts.encode() + body, ec.ECDSA(hashes.SHA256()))
    ).decode()
    return client.post(
        "/api/webhooks/sendgrid",
        content=body,
        headers={
            "X-Twilio-Email-Event-Webhook-Signature": signature,
            "X-Twilio-Email-Event-Webhook-Timestamp": ts,
            "content-type": "application/json",
        },
    )


def count(db: Session, model: Any) -> int:
    db.expire_all()
    return int(db.scalar(select(func.count()).select_from(model)) or 0)


def test_resend_delivered_then_duplicate(
    client: TestClient, db: Session, message: Intervention, clock: Any
) -> None:
    at = clock.now() - timedelta(minutes=30)
    payload = resend_event("email.delivered", at)
    first = resend_post(client, clock, payload, "msg_d1")
    assert first.status_code == 200, first.text
    assert first.json() == {"received": 1, "recorded": 1, "duplicates": 0, "unmatched": 0}
    again = resend_post(client, clock, payload, "msg_d1")  # Svix retry: same svix-id
    assert again.json() == {"received": 1, "recorded": 0, "duplicates": 1, "unmatched": 0}
    assert count(db, EmailEvent) == 1
    assert message.status == "delivered"
    assert message.delivered_at == at


def test_out_of_order_delivered_after_click_keeps_clicked(
    client: TestClient, db: Session, message: Intervention, clock: Any
) -> None:
    t0 = clock.now() - timedelta(minutes=60)
    click = resend_event(
        "email.clicked",
        t0 + timedelta(minutes=20),
        click={
            "link": "https://p.test/a",
            "userAgent": "Mozilla/5.0 (Macintosh) Safari/605",
            "ipAddress": "203.0.113.7",
            "timestamp": (t0 + timedelta(minutes=20)).isoformat(),
        },
    )
    assert resend_post(client, clock, click, "msg_c1").status_code == 200
    assert message.status == "clicked"
    delivered = resend_event("email.delivered", t0)
    assert resend_post(client, clock, delivered, "msg_d2").status_code == 200
    opened = resend_event("email.opened", t0 + timedelta(minutes=10))
    opened["data"]["open"] = {"userAgent": "Mozilla/5.0 (Windows NT 10.0) Chrome/124"}
    assert resend_post(client, clock, opened, "msg_o2").status_code == 200
    db.expire_all()
    assert message.status == "clicked"  # never moves backwards
    assert message.delivered_at == t0
    assert message.opened_at == t0 + timedelta(minutes=10)
    assert message.clicked_at == t0 + timedelta(minutes=20)


@pytest.mark.parametrize(
    "tamper",
    [
        {"svix-signature": "v1," + base64.b64encode(b"x" * 32).decode()},
        {"svix-id": "msg_other"},
        {"svix-timestamp": "1000000000"},
    ],
)
def test_resend_bad_signature_is_401_and_records_nothing(
    client: TestClient, db: Session, message: Intervention, clock: Any, tamper: dict[str, str]
) -> None:
    payload = resend_event("email.bounced", clock.now(), bounce={"type": "Permanent"})
    response = resend_post(client, clock, payload, "msg_b1", **tamper)
    assert response.status_code == 401
    assert "error" in response.json()
    assert count(db, EmailEvent) == 0
    assert count(db, Suppression) == 0
    assert message.status == "sent"


def test_resend_hard_bounce_suppresses_and_fails_the_message(
    client: TestClient, db: Session, message: Intervention, clock: Any
) -> None:
    payload = resend_event(
        "email.bounced",
        clock.now(),
        bounce={"type": "Permanent", "subType": "General", "message": "550 no such user"},
    )
    assert resend_post(client, clock, payload, "msg_b2").status_code == 200
    db.expire_all()
    (row,) = db.scalars(select(Suppression)).all()
    assert (row.email, row.reason, row.source) == ("bo@example.test", "bounce", "resend")
    assert message.status == "failed"
    assert "550 no such user" in (message.error_message or "")


def test_resend_complaint_suppresses(
    client: TestClient, db: Session, message: Intervention, clock: Any
) -> None:
    assert (
        resend_post(client, clock, resend_event("email.complained", clock.now()), "m_c").status_code
        == 200
    )
    db.expire_all()
    (row,) = db.scalars(select(Suppression)).all()
    assert row.reason == "complaint"


def test_resend_unconfigured_is_503(
    app_factory: Any, settings: Settings, db: Session, clock: Any
) -> None:
    app: FastAPI = app_factory(settings.model_copy(update={"resend_webhook_secret": None}))
    response = resend_post(TestClient(app), clock, {"type": "email.delivered", "data": {}}, "m")
    assert response.status_code == 503
    assert count(db, EmailEvent) == 0


def test_sendgrid_batch_matches_by_message_id_and_echoed_tag(
    client: TestClient, db: Session, message: Intervention, factory: Any, clock: Any
) -> None:
    other_tutor = factory.tutor(email="cy@example.test")
    other = Intervention(
        idempotency_key="wh-2",
        tutor_id=other_tutor.id,
        intervention_type="low_engagement",
        to_email="cy@example.test",
        status="sent",
        sent_at=clock.now() - timedelta(hours=3),
    )
    db.add(other)
    message.provider, message.provider_message_id = "sendgrid", "SGMSG1"
    db.flush()
    ts = int((clock.now() - timedelta(minutes=5)).timestamp())
    events = [
        {
            "event": "delivered",
            "sg_event_id": "e1",
            "sg_message_id": "SGMSG1.filter0001.1.0",
            "email": "bo@example.test",
            "timestamp": ts,
        },
        {
            "event": "open",
            "sg_event_id": "e2",
            "sg_message_id": "SGMSG1.filter0001.1.0",
            "sg_machine_open": True,
            "useragent": "Mozilla/5.0",
            "timestamp": ts,
        },
        {
            "event": "bounce",
            "type": "bounce",
            "sg_event_id": "e3",
            "email": "CY@example.test",
            "reason": "550 5.1.1 unknown",
            "intervention_id": str(other.id),
            "timestamp": ts,
        },
        {"event": "spamreport", "sg_event_id": "e4", "email": "zed@example.test", "timestamp": ts},
    ]
    response = sendgrid_post(client, clock, events)
    assert response.status_code == 200, response.text
    assert response.json() == {"received": 4, "recorded": 3, "duplicates": 0, "unmatched": 1}
    db.expire_all()
    assert message.status == "delivered"  # the machine open does not count
    assert message.opened_at is None
    machine_open = db.scalars(select(EmailEvent).where(EmailEvent.event_type == "opened")).one()
    assert machine_open.is_machine
    assert other.status == "failed"
    suppressed = {(s.email, s.reason) for s in db.scalars(select(Suppression))}
    assert suppressed == {("cy@example.test", "bounce"), ("zed@example.test", "complaint")}
    # The whole batch again: all duplicates, nothing changes.
    again = sendgrid_post(client, clock, events)
    assert again.json()["duplicates"] == 4
    assert count(db, EmailEvent) == 4


def test_sendgrid_bad_signature_is_401_and_records_nothing(
    client: TestClient, db: Session, message: Intervention, clock: Any
) -> None:
    body = b'[{"event":"bounce","type":"bounce","sg_event_id":"x1","email":"bo@example.test"}]'
    stranger = ec.generate_private_key(ec.SECP256R1())
    ts = str(int(clock.now().timestamp()))
    signature = base64.b64encode(
        stranger.sign(ts.encode() + body, ec.ECDSA(hashes.SHA256()))
    ).decode()
    response = client.post(
        "/api/webhooks/sendgrid",
        content=body,
        headers={
            "X-Twilio-Email-Event-Webhook-Signature": signature,
            "X-Twilio-Email-Event-Webhook-Timestamp": ts,
        },
    )
    assert response.status_code == 401
    missing = client.post("/api/webhooks/sendgrid", content=body)
    assert missing.status_code == 401
    assert count(db, EmailEvent) == 0
    assert count(db, Suppression) == 0


def test_sendgrid_soft_bounce_does_not_suppress(
    client: TestClient, db: Session, message: Intervention, clock: Any
) -> None:
    events = [
        {
            "event": "bounce",
            "type": "blocked",
            "sg_event_id": "s1",
            "email": "bo@example.test",
            "reason": "421 try later",
        }
    ]
    message.provider_message_id = "SGX"
    db.flush()
    events[0]["sg_message_id"] = "SGX.f"
    assert sendgrid_post(client, clock, events).status_code == 200
    assert count(db, Suppression) == 0
    assert message.status == "sent"
