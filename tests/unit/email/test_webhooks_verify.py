"""Webhook signatures: the providers' published test vectors and generated signatures."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from tutorpulse.email import webhooks

# Svix's documented example ("Verifying Webhooks Manually" / library README).
SVIX_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SVIX_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SVIX_TS = "1614265330"
SVIX_SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
SVIX_BODY = b'{"test": 2432232314}'
SVIX_NOW = datetime.fromtimestamp(int(SVIX_TS) + 10, UTC)

# SendGrid's published Event Webhook test vector (sendgrid-python test_eventwebhook).
SG_PUBLIC_KEY = (
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3G"
    "Rqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g=="
)
SG_SIGNATURE = (
    "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15Tl"
    "uLtEZtM="
)
SG_TIMESTAMP = "1600112502"
SG_BODY = (
    json.dumps(
        [
            {
                "email": "hello@world.com",
                "event": "dropped",
                "reason": "Bounced Address",
                "sg_event_id": "ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA",
                "sg_message_id": "LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0",
                "smtp-id": "<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>",
                "timestamp": 1600112492,
            }
        ],
        sort_keys=True,
        separators=(",", ":"),
    )
    + "\r\n"
).encode()
SG_NOW = datetime.fromtimestamp(int(SG_TIMESTAMP) + 5, UTC)


def svix_headers(**overrides: str) -> dict[str, str]:
    headers = {"svix-id": SVIX_ID, "svix-timestamp": SVIX_TS, "svix-signature": SVIX_SIG}
    headers.update(overrides)
    return headers


def test_svix_published_vector_verifies() -> None:
    got = webhooks.verify_svix(
        secret=SVIX_SECRET,
        headers=svix_headers(),
        body=SVIX_BODY,
        now=SVIX_NOW,
        tolerance_seconds=300,
    )
    assert got == SVIX_ID


def test_svix_accepts_any_of_several_signatures() -> None:
    rotated = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= v2,zzz " + SVIX_SIG
    webhooks.verify_svix(
        secret=SVIX_SECRET,
        headers=svix_headers(**{"svix-signature": rotated}),
        body=SVIX_BODY,
        now=SVIX_NOW,
        tolerance_seconds=300,
    )


@pytest.mark.parametrize(
    ("headers", "body", "now"),
    [
        (svix_headers(), b'{"test": 2432232315}', SVIX_NOW),  # body altered
        (svix_headers(**{"svix-id": "msg_other"}), SVIX_BODY, SVIX_NOW),  # id altered
        (svix_headers(**{"svix-signature": "v1,bm9wZQ=="}), SVIX_BODY, SVIX_NOW),
        (svix_headers(**{"svix-signature": "v2," + SVIX_SIG[3:]}), SVIX_BODY, SVIX_NOW),
        ({"svix-id": SVIX_ID, "svix-timestamp": SVIX_TS}, SVIX_BODY, SVIX_NOW),  # no signature
        (svix_headers(), SVIX_BODY, datetime.fromtimestamp(int(SVIX_TS) + 301, UTC)),  # stale
        (svix_headers(), SVIX_BODY, datetime.fromtimestamp(int(SVIX_TS) - 301, UTC)),  # future
        (svix_headers(**{"svix-timestamp": "soon"}), SVIX_BODY, SVIX_NOW),
    ],
)
def test_svix_rejections(headers: dict[str, str], body: bytes, now: datetime) -> None:
    with pytest.raises(webhooks.SignatureError):
        webhooks.verify_svix(
            secret=SVIX_SECRET, headers=headers, body=body, now=now, tolerance_seconds=300
        )


def test_sign_svix_matches_published_vector() -> None:
    assert (
        webhooks.sign_svix(
            secret=SVIX_SECRET, msg_id=SVIX_ID, timestamp=int(SVIX_TS), body=SVIX_BODY
        )
        == SVIX_SIG
    )


def test_sendgrid_published_vector_verifies() -> None:
    webhooks.verify_sendgrid(
        public_key=SG_PUBLIC_KEY,
        signature=SG_SIGNATURE,
        timestamp=SG_TIMESTAMP,
        body=SG_BODY,
        now=SG_NOW,
        tolerance_seconds=300,
    )


@pytest.mark.parametrize(
    ("signature", "timestamp", "body"),
    [
        (SG_SIGNATURE, SG_TIMESTAMP, b"payload"),
        # SendGrid's own "bad signature" vector: one character changed.
        (
            "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH3j/0=",
            SG_TIMESTAMP,
            SG_BODY,
        ),
        (SG_SIGNATURE, "1600112503", SG_BODY),  # timestamp is part of what is signed
        (SG_SIGNATURE, "timestamp", SG_BODY),
        ("not base64!", SG_TIMESTAMP, SG_BODY),
        (None, SG_TIMESTAMP, SG_BODY),
        (SG_SIGNATURE, None, SG_BODY),
    ],
)
def test_sendgrid_rejections(signature: str | None, timestamp: str | None, body: bytes) -> None:
    with pytest.raises(webhooks.SignatureError):
        webhooks.verify_sendgrid(
            public_key=SG_PUBLIC_KEY,
            signature=signature,
            timestamp=timestamp,
            body=body,
            now=SG_NOW,
            tolerance_seconds=300,
        )


def test_sendgrid_generated_key_pair_pem_and_der() -> None:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    private = ec.generate_private_key(ec.SECP256R1())
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    body = b'[{"event":"delivered","sg_event_id":"e1"}]'
    ts = str(int(SG_NOW.timestamp()))
    sig = base64.b64encode(private.sign(ts.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()
    for key in (base64.b64encode(der).decode(), pem.decode()):
        webhooks.verify_sendgrid(
            public_key=key,
            signature=sig,
            timestamp=ts,
            body=body,
            now=SG_NOW,
            tolerance_seconds=300,
        )
    with pytest.raises(webhooks.SignatureError):  # stale
        webhooks.verify_sendgrid(
            public_key=pem.decode(),
            signature=sig,
            timestamp=str(int(SG_NOW.timestamp()) - 3600),
            body=body,
            now=SG_NOW,
            tolerance_seconds=300,
        )
    # Someone else's key: the published vector does not verify against it.
    with pytest.raises(webhooks.SignatureError):
        webhooks.verify_sendgrid(
            public_key=pem.decode(),
            signature=SG_SIGNATURE,
            timestamp=SG_TIMESTAMP,
            body=SG_BODY,
            now=SG_NOW,
            tolerance_seconds=300,
        )


def test_parse_sendgrid_maps_events() -> None:
    body = json.dumps(
        [
            {
                "email": "A@x.test",
                "event": "bounce",
                "type": "bounce",
                "bounce_classification": "Invalid Address",
                "reason": "550 5.1.1 no such user",
                "sg_event_id": "b1",
                "sg_message_id": "MSG1.filter0001",
                "timestamp": 1740800000,
                "intervention_id": "12",
            },
            {"email": "a@x.test", "event": "bounce", "type": "blocked", "sg_event_id": "b2"},
            {"event": "open", "sg_event_id": "o1", "sg_machine_open": True, "useragent": "x"},
            {"event": "click", "sg_event_id": "c1", "url": "https://p.test/a"},
            {"event": "spamreport", "sg_event_id": "s1"},
            {"event": "processed"},  # no event id: ignored
        ]
    ).encode()
    got = webhooks.parse_sendgrid(body, received_at=SG_NOW)
    assert [e.kind for e in got] == ["bounced", "bounced", "opened", "clicked", "complained"]
    hard, soft, opened, clicked, _ = got
    assert hard.hard_bounce
    assert hard.provider_message_id == "MSG1"
    assert hard.intervention_id == 12
    assert hard.reason == "550 5.1.1 no such user"
    assert hard.provider_event_id == "sendgrid:b1"
    assert hard.occurred_at == datetime.fromtimestamp(1740800000, UTC)
    assert not soft.hard_bounce
    assert opened.machine_hint is True
    assert clicked.url == "https://p.test/a"


def test_parse_resend_maps_bounce_and_click() -> None:
    bounce = {
        "type": "email.bounced",
        "created_at": "2025-03-01T10:00:00.000Z",
        "data": {
            "email_id": "re_1",
            "to": ["ana@x.test"],
            "tags": [{"name": "intervention_id", "value": "5"}],
            "bounce": {"message": "mailbox does not exist", "type": "Permanent"},
        },
    }
    (event,) = webhooks.parse_resend(
        json.dumps(bounce).encode(), event_id="msg_1", received_at=SG_NOW
    )
    assert (event.kind, event.hard_bounce, event.intervention_id) == ("bounced", True, 5)
    assert event.provider_message_id == "re_1"
    assert event.email == "ana@x.test"
    assert event.occurred_at == datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
    click = {
        "type": "email.clicked",
        "created_at": "2025-03-01T10:00:00Z",
        "data": {
            "email_id": "re_1",
            "to": ["ana@x.test"],
            "tags": {"intervention_id": "5"},
            "click": {
                "link": "https://p.test/a",
                "userAgent": "Mozilla/5.0 (X11)",
                "ipAddress": "203.0.113.1",
                "timestamp": "2025-03-01T10:05:00Z",
            },
        },
    }
    (event,) = webhooks.parse_resend(
        json.dumps(click).encode(), event_id="msg_2", received_at=SG_NOW
    )
    assert (event.kind, event.url, event.intervention_id) == ("clicked", "https://p.test/a", 5)
    assert event.occurred_at == datetime(2025, 3, 1, 10, 5, tzinfo=UTC)
    with pytest.raises(ValueError, match="Resend event"):
        webhooks.parse_resend(b"[1]", event_id="x", received_at=SG_NOW)
