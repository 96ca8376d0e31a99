"""The outbox worker on a real database, sending through SmtpTransport to a real SMTP server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session, sessionmaker

from tests.integration.email.outbox_support import (
    BASE_URL,
    NOW,
    PORTAL,
    add_tutor,
    clean,
    events,
    make_settings,
    queue,
    rows,
)
from tests.integration.email.smtp_sink import SmtpSink, smtp_server
from tutorpulse.app import create_app
from tutorpulse.core.clock import FrozenClock
from tutorpulse.core.db import make_session_factory, unit_of_work
from tutorpulse.core.jobs import load_job_modules, run_job
from tutorpulse.core.settings import Settings
from tutorpulse.email import suppression, tracking
from tutorpulse.email.outbox import send_pending
from tutorpulse.email.policy import TokenBucket
from tutorpulse.email.transport import SmtpTransport
from tutorpulse.interventions.models import Intervention

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@pytest.fixture
def factory(engine: Engine) -> Iterator[sessionmaker[Session]]:
    made = make_session_factory(engine)
    clean(made)
    yield made
    clean(made)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path)


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with smtp_server() as server:
        server.sink.port = server.port  # type: ignore[attr-defined]
        yield server.sink


def run(
    factory: sessionmaker[Session],
    settings: Settings,
    port: int,
    clock: FrozenClock | None = None,
    **options: object,
):  # type: ignore[no-untyped-def]
    transport = SmtpTransport(
        host="localhost",
        port=port,
        security="none",
        timeout=5,
        **options,  # type: ignore[arg-type]
    )
    try:
        return send_pending(
            factory,
            settings=settings,
            clock=clock or FrozenClock(NOW),
            transport=transport,
            bucket=TokenBucket(0),
        )
    finally:
        transport.close()


def test_a_queued_message_goes_out_once_personalised_tracked_and_unsubscribable(
    factory: sessionmaker[Session], settings: Settings, sink: SmtpSink
) -> None:
    tutor = add_tutor(factory, 1, name="Grace Hopper")
    intervention_id = queue(factory, settings, tutor)

    report = run(factory, settings, sink.port)  # type: ignore[attr-defined]
    again = run(factory, settings, sink.port)  # type: ignore[attr-defined]

    assert (report.sent, report.failed, report.deferred, report.skipped) == (1, 0, 0, 0)
    assert again.sent == 0
    [received] = sink.parsed()
    assert received["To"] == "tutor1@example.test"
    assert received.get_content_type() == "multipart/alternative"
    text = received.get_body(("plain",)).get_content()
    html = received.get_body(("html",)).get_content()
    assert "Hi Grace Hopper," in text
    assert "It has been 9 days since you last logged in" in text
    assert "Grace Hopper" in html
    assert "1 Test Street, Testville" in text
    assert "{{" not in text + html

    secret = tracking.signing_secret(settings)
    clicks = re.findall(rf'href="{re.escape(BASE_URL)}/t/c/([^"]+)"', html)
    targets = {tracking.verify_click_token(token, secret).url for token in clicks}  # type: ignore[union-attr]
    assert f"{PORTAL}/login" in targets
    assert re.search(rf'src="{re.escape(BASE_URL)}/t/o/[^"]+\.gif"', html)

    unsubscribe = received["List-Unsubscribe"]
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    token = urlparse(unsubscribe.strip("<>")).path.rsplit("/", 1)[1]
    verified = tracking.verify_unsubscribe_token(token, secret)
    assert verified is not None
    assert verified.intervention_id == intervention_id
    assert f"{BASE_URL}/u/{token}" in text  # the footer link is the same signed URL

    [row] = rows(factory)
    assert row.status == "sent"
    assert row.sent_at == NOW
    assert row.provider == "smtp"
    assert row.provider_message_id == received["Message-ID"]
    assert row.attempts == 1
    assert row.claimed_by is None
    assert events(factory, intervention_id) == ["queued", "sent"]


def test_rejected_recipient_fails_permanently_with_the_servers_reason(
    factory: sessionmaker[Session], settings: Settings, sink: SmtpSink
) -> None:
    tutor = add_tutor(factory, 2)
    sink.rcpt_replies["tutor2@example.test"] = "550 5.1.1 <tutor2@example.test>: Recipient unknown"
    intervention_id = queue(factory, settings, tutor)

    report = run(factory, settings, sink.port)  # type: ignore[attr-defined]
    later = run(factory, settings, sink.port, FrozenClock(NOW + timedelta(days=2)))  # type: ignore[attr-defined]

    assert (report.sent, report.failed) == (0, 1)
    assert "550 5.1.1" in report.errors[0]
    assert later.sent + later.failed == 0
    [row] = rows(factory)
    assert row.status == "failed"
    assert row.error_message == "550 5.1.1 <tutor2@example.test>: Recipient unknown"
    assert row.next_attempt_at is None
    assert events(factory, intervention_id) == ["queued", "failed"]
    assert sink.messages == []


def test_authentication_failure_fails_permanently_with_the_reason(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    tutor = add_tutor(factory, 3)
    queue(factory, settings, tutor)
    with smtp_server(users={"mailer": "right"}) as server:
        report = run(factory, settings, server.port, username="mailer", password="wrong")
    [row] = rows(factory)
    assert report.failed == 1
    assert row.status == "failed"
    assert row.error_message is not None
    assert row.error_message.startswith("535")


def test_a_451_is_retried_after_the_backoff_and_sent_on_a_later_run(
    factory: sessionmaker[Session], settings: Settings, sink: SmtpSink
) -> None:
    tutor = add_tutor(factory, 4)
    intervention_id = queue(factory, settings, tutor)
    sink.rcpt_replies["tutor4@example.test"] = "451 4.7.1 Greylisted, please try again later"

    first = run(factory, settings, sink.port)  # type: ignore[attr-defined]
    [row] = rows(factory)
    assert (first.sent, first.failed, first.deferred, first.retried) == (0, 0, 1, 1)
    assert row.status == "pending"
    assert row.attempts == 1
    assert row.next_attempt_at == NOW + timedelta(seconds=60)
    assert row.error_message is not None
    assert "451 4.7.1" in row.error_message

    del sink.rcpt_replies["tutor4@example.test"]
    too_soon = run(factory, settings, sink.port, FrozenClock(NOW + timedelta(seconds=59)))  # type: ignore[attr-defined]
    assert too_soon.sent == 0
    later = run(factory, settings, sink.port, FrozenClock(NOW + timedelta(seconds=61)))  # type: ignore[attr-defined]
    assert later.sent == 1
    [row] = rows(factory)
    assert row.status == "sent"
    assert row.attempts == 2
    assert len(sink.messages) == 1
    assert events(factory, intervention_id) == ["queued", "retrying", "sent"]


def test_backoff_doubles_and_the_last_allowed_attempt_fails_the_message(
    factory: sessionmaker[Session], settings: Settings, sink: SmtpSink
) -> None:
    tutor = add_tutor(factory, 5)
    queue(factory, settings, tutor)
    sink.rcpt_replies["tutor5@example.test"] = "421 4.3.2 Service shutting down"
    clock = FrozenClock(NOW)
    run(factory, settings, sink.port, clock)  # type: ignore[attr-defined]
    assert rows(factory)[0].next_attempt_at == NOW + timedelta(seconds=60)
    clock.set(NOW + timedelta(seconds=60))
    run(factory, settings, sink.port, clock)  # type: ignore[attr-defined]
    assert rows(factory)[0].next_attempt_at == NOW + timedelta(seconds=60 + 120)
    clock.set(NOW + timedelta(seconds=180))
    last = run(factory, settings, sink.port, clock)  # type: ignore[attr-defined]
    [row] = rows(factory)
    assert last.failed == 1
    assert row.status == "failed"
    assert row.attempts == 3
    assert row.error_message is not None
    assert row.error_message.startswith("gave up after 3 attempts")


def test_a_suppressed_address_is_not_sent(
    factory: sessionmaker[Session], settings: Settings, sink: SmtpSink
) -> None:
    tutor = add_tutor(factory, 6)
    intervention_id = queue(factory, settings, tutor)
    with unit_of_work(factory) as db:
        suppression.add_suppression(db, email="TUTOR6@example.test", reason="unsubscribe", now=NOW)

    report = run(factory, settings, sink.port)  # type: ignore[attr-defined]

    assert (report.sent, report.skipped, report.suppressed) == (0, 1, 1)
    assert rows(factory)[0].status == "suppressed"
    assert events(factory, intervention_id) == ["queued", "suppressed"]
    assert sink.messages == []


def test_quiet_hours_in_the_tutors_time_zone_defer_until_local_morning(
    factory: sessionmaker[Session], settings: Settings, sink: SmtpSink
) -> None:
    quiet = settings.model_copy(update={"email_quiet_hours_start": 21, "email_quiet_hours_end": 8})
    tokyo = add_tutor(factory, 7, timezone="Asia/Tokyo")  # 15:00 UTC is 00:00 in Tokyo
    london = add_tutor(factory, 8, timezone="Europe/London")  # and 15:00 in London
    queue(factory, quiet, tokyo)
    queue(factory, quiet, london)

    report = run(factory, quiet, sink.port)  # type: ignore[attr-defined]

    assert (report.sent, report.deferred) == (1, 1)
    assert [m["To"] for m in sink.parsed()] == ["tutor8@example.test"]
    tokyo_row = rows(factory)[0]
    assert tokyo_row.status == "pending"
    assert tokyo_row.next_attempt_at == NOW + timedelta(hours=8)  # 08:00 JST = 23:00 UTC
    assert tokyo_row.attempts == 0

    morning = run(factory, quiet, sink.port, FrozenClock(NOW + timedelta(hours=8)))  # type: ignore[attr-defined]
    assert morning.sent == 1
    assert len(sink.messages) == 2


def test_frequency_cap_defers_until_the_oldest_send_leaves_the_window(
    factory: sessionmaker[Session], settings: Settings, sink: SmtpSink
) -> None:
    capped = settings.model_copy(
        update={"email_frequency_cap_count": 2, "email_frequency_cap_days": 7}
    )
    tutor = add_tutor(factory, 9)
    clock = FrozenClock(NOW - timedelta(days=3))
    queue(factory, capped, tutor, now=clock.now())
    run(factory, capped, sink.port, clock)  # type: ignore[attr-defined]
    clock.set(NOW - timedelta(days=1))
    queue(factory, capped, tutor, now=clock.now())
    run(factory, capped, sink.port, clock)  # type: ignore[attr-defined]
    third = queue(factory, capped, tutor)

    report = run(factory, capped, sink.port)  # type: ignore[attr-defined]

    assert (report.sent, report.deferred) == (0, 1)
    row = next(r for r in rows(factory) if r.id == third)
    assert row.status == "pending"
    assert row.next_attempt_at == NOW - timedelta(days=3) + timedelta(days=7)
    assert len(sink.messages) == 2
    other = add_tutor(factory, 10)  # the cap is per tutor
    queue(factory, capped, other)
    assert run(factory, capped, sink.port).sent == 1  # type: ignore[attr-defined]
    free = run(factory, capped, sink.port, FrozenClock(NOW + timedelta(days=4)))  # type: ignore[attr-defined]
    assert free.sent == 1
    assert len(sink.messages) == 4


def test_a_stale_claim_is_taken_over_but_a_live_one_is_left_alone(
    factory: sessionmaker[Session], settings: Settings, sink: SmtpSink
) -> None:
    stale = queue(factory, settings, add_tutor(factory, 11))
    live = queue(factory, settings, add_tutor(factory, 12))
    with unit_of_work(factory) as db:
        for intervention_id, claimed_at in (
            (stale, NOW - timedelta(seconds=601)),
            (live, NOW - timedelta(seconds=30)),
        ):
            db.execute(
                update(Intervention)
                .where(Intervention.id == intervention_id)
                .values(status="sending", claimed_by="crashed-worker", claimed_at=claimed_at)
            )

    report = run(factory, settings, sink.port)  # type: ignore[attr-defined]

    assert report.sent == 1
    by_id = {r.id: r for r in rows(factory)}
    assert by_id[stale].status == "sent"
    assert by_id[live].status == "sending"
    assert by_id[live].claimed_by == "crashed-worker"
    assert [m["To"] for m in sink.parsed()] == ["tutor11@example.test"]


def test_the_job_reports_the_cron_counts(
    factory: sessionmaker[Session], settings: Settings, sink: SmtpSink
) -> None:
    configured = settings.model_copy(
        update={
            "email_transport": "smtp",
            "smtp_host": "localhost",
            "smtp_port": sink.port,
            "smtp_security": "none",
        }  # type: ignore[attr-defined]
    )
    queue(factory, configured, add_tutor(factory, 13))
    queue(factory, configured, add_tutor(factory, 14))
    sink.rcpt_replies["tutor14@example.test"] = "550 5.7.1 Rejected by policy"
    load_job_modules()
    job_run = run_job(
        "email.send_pending",
        session_factory=factory,
        settings=configured,
        clock=FrozenClock(NOW),
        trigger="test",
    )
    assert job_run.status == "succeeded", job_run.error
    counts = job_run.counts
    assert {k: counts[k] for k in ("sent", "failed", "skipped", "deferred")} == {
        "sent": 1,
        "failed": 1,
        "skipped": 0,
        "deferred": 0,
    }
    assert len(counts["errors"]) == 1
    assert "550 5.7.1 Rejected by policy" in counts["errors"][0]


def test_the_cron_alias_answers_the_original_shape_with_deferred(
    engine: Engine, factory: sessionmaker[Session], settings: Settings, sink: SmtpSink
) -> None:
    configured = settings.model_copy(
        update={
            "cron_secret": SecretStr("cron-secret-for-email"),
            "email_transport": "smtp",
            "smtp_host": "localhost",
            "smtp_port": sink.port,  # type: ignore[attr-defined]
            "smtp_security": "none",
            "email_quiet_hours_start": 21,
            "email_quiet_hours_end": 8,
        }
    )
    queue(factory, configured, add_tutor(factory, 15))  # London: 15:00, sent
    queue(factory, configured, add_tutor(factory, 16, timezone="Asia/Tokyo"))  # 00:00, deferred
    client = TestClient(create_app(configured, engine=engine, clock=FrozenClock(NOW)))

    response = client.post(
        "/api/cron/send-emails", headers={"Authorization": "Bearer cron-secret-for-email"}
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    results = body["results"]
    assert {k: results[k] for k in ("sent", "failed", "skipped", "deferred", "errors")} == {
        "sent": 1,
        "failed": 0,
        "skipped": 0,
        "deferred": 1,
        "errors": [],
    }
    assert isinstance(body["duration"], int)
    assert body["timestamp"].startswith("2026-03-03T15:00")
    assert len(sink.messages) == 1
