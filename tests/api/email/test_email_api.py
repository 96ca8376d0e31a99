"""HTTP: template previews, queueing one intervention email, and its tracked links end to end."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlparse

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from tests.api.conftest import Factory
from tests.integration.email.smtp_sink import smtp_server

from tutorpulse.core.clock import FrozenClock
from tutorpulse.core.models import AuditLog
from tutorpulse.core.settings import Settings
from tutorpulse.email.catalog import PREVIEW_ALIASES, TEMPLATES
from tutorpulse.email.models import EmailEvent, Suppression
from tutorpulse.email.outbox import send_pending
from tutorpulse.email.policy import TokenBucket
from tutorpulse.email.transport import SmtpTransport
from tutorpulse.interventions.models import Intervention

BASE = "https://tp.example.test"
PORTAL = "https://tutors.example.test"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "secret_key": SecretStr("api-test-secret-0123456789abcdef"),
            "public_base_url": BASE,
            "email_portal_url": PORTAL,
            "email_postal_address": "1 Test Street, Testville",
            "email_quiet_hours_start": 0,
            "email_quiet_hours_end": 0,
            "email_send_rate_per_second": 0,
        }
    )


@pytest.fixture
def writer(api_key: Callable[..., str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key('read', 'write')}"}


@pytest.fixture
def reader(api_key: Callable[..., str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key('read')}"}


@pytest.fixture
def active_tutor(factory: Factory, now: Any) -> Any:
    tutor = factory.tutor(
        "T0042", name="Katherine Johnson", email="kj@example.test", timezone="America/New_York"
    )
    tutor.last_login_at = now - timedelta(days=10, hours=3)
    student = factory.student()
    for days, rating, issue in ((2, 5, False), (5, 4, True), (9, 3, False), (40, 5, False)):
        factory.session(
            tutor,
            now - timedelta(days=days),
            student=student,
            student_rating=rating,
            engagement_score=5.0 + days / 10,
            technical_issue=issue,
        )
    factory.db.flush()
    return tutor


# --------------------------------------------------------------------- preview


@pytest.mark.parametrize("name", list(PREVIEW_ALIASES))
def test_each_original_preview_name_renders_html(
    client: TestClient, reader: dict[str, str], name: str
) -> None:
    response = client.get("/api/email-preview", params={"template": name}, headers=reader)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "sandbox" in response.headers["content-security-policy"]
    soup = BeautifulSoup(response.text, "html.parser")
    assert "Hi Ada Lovelace," in soup.get_text()
    assert soup.find("a", string="Unsubscribe") is not None
    assert soup.find("style") is None  # inlined into style attributes
    assert soup.find("body")["style"]  # type: ignore[index]


def test_preview_json_text_and_variants(client: TestClient, reader: dict[str, str]) -> None:
    json_body = client.get(
        "/api/email-preview",
        params={"template": "engagement", "variant": "no_sessions", "format": "json"},
        headers=reader,
    ).json()
    assert json_body["template"] == "engagement_alert"
    assert json_body["subject"] == "Ready for your next session, Ada Lovelace?"
    assert "Your last completed session was 12 days ago." in json_body["text"]
    text = client.get(
        "/api/email-preview",
        params={"template": "reliability_high_reschedule", "format": "text"},
        headers=reader,
    )
    assert text.headers["content-type"].startswith("text/plain")
    assert "You rescheduled 21% of your recent sessions (6 of 29)" in text.text


def test_unknown_preview_template_is_a_400_listing_the_templates(
    client: TestClient, reader: dict[str, str]
) -> None:
    response = client.get("/api/email-preview", params={"template": "nope"}, headers=reader)
    assert response.status_code == 400
    body = response.json()
    assert "nope" in body["error"]
    assert set(PREVIEW_ALIASES) <= set(body["availableTemplates"])
    assert set(TEMPLATES) <= set(body["availableTemplates"])
    bad_variant = client.get(
        "/api/email-preview", params={"template": "quality", "variant": "x"}, headers=reader
    )
    assert bad_variant.status_code == 400
    assert bad_variant.json()["details"][0]["field"] == "variant"


def test_preview_needs_credentials(client: TestClient) -> None:
    assert client.get("/api/email-preview", params={"template": "engagement"}).status_code == 401


# --------------------------------------------------------------------- create_single


def test_create_single_fills_variables_from_the_tutors_data(
    client: TestClient, writer: dict[str, str], active_tutor: Any, db: Session
) -> None:
    response = client.post(
        "/api/interventions",
        json={"action": "create_single", "tutorId": "T0042", "templateId": "technical_issues"},
        headers=writer,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["success"] is True
    assert body["created"] is True
    created = body["intervention"]
    assert created["tutorId"] == "T0042"
    assert created["status"] == "pending"
    assert created["templateId"] == "technical_issues"
    # Three sessions in the last 30 days, one with a technical issue.
    assert created["variables"]["recentSessionsWithIssues"] == 1
    assert created["variables"]["totalRecentSessions"] == 3
    assert created["variables"]["issueRate"] == pytest.approx(1 / 3)
    assert created["subject"] == "Tech support is here for you, Katherine Johnson"
    row = db.get(Intervention, created["id"])
    assert row is not None
    assert "1 of your last 3 sessions had a technical issue (33%)" in (row.content_text or "")
    assert f"{BASE}/u/" in (row.content_text or "")
    assert "1 Test Street, Testville" in (row.content_html or "")
    audit = db.scalars(select(AuditLog).where(AuditLog.action == "intervention.create_single"))
    assert [a.target_id for a in audit] == [str(created["id"])]


def test_given_variables_win_and_are_checked(
    client: TestClient, writer: dict[str, str], active_tutor: Any
) -> None:
    response = client.post(
        "/api/interventions",
        json={
            "action": "create_single",
            "tutorId": "T0042",
            "templateId": "quality_alert",
            "variables": {"alertType": "poor_engagement", "benchmark": 7},
        },
        headers=writer,
    )
    assert response.status_code == 201, response.text
    variables = response.json()["intervention"]["variables"]
    assert variables["benchmark"] == 7.0
    assert variables["recentSessionCount"] == 3
    assert variables["metricValue"] == pytest.approx((5.2 + 5.5 + 5.9) / 3)
    bad = client.post(
        "/api/interventions",
        json={
            "action": "create_single",
            "tutorId": "T0042",
            "templateId": "quality_alert",
            "variables": {"alertType": "bad_hair_day"},
        },
        headers=writer,
    )
    assert bad.status_code == 400
    assert bad.json()["details"][0]["field"] == "alertType"
    typo = client.post(
        "/api/interventions",
        json={
            "action": "create_single",
            "tutorId": "T0042",
            "templateId": "technical_issues",
            "variables": {"isueRate": 0.5},
        },
        headers=writer,
    )
    assert typo.status_code == 400
    assert typo.json()["details"][0]["field"] == "isueRate"


def test_a_variable_the_data_cannot_give_is_a_400_naming_it(
    client: TestClient, writer: dict[str, str], active_tutor: Any, db: Session
) -> None:
    response = client.post(
        "/api/interventions",
        json={"action": "create_single", "tutorId": "T0042", "templateId": "first_session_prep"},
        headers=writer,
    )
    assert response.status_code == 400
    fields = {d["field"] for d in response.json()["details"]}
    assert fields == {"sessionDate", "sessionTime", "subject", "gradeLevel"}
    assert db.scalars(select(Intervention)).all() == []
    quality = client.post(
        "/api/interventions",
        json={"action": "create_single", "tutorId": "T0042", "templateId": "quality_alert"},
        headers=writer,
    )
    assert quality.status_code == 400
    assert "alertType" in {d["field"] for d in quality.json()["details"]}


def test_unknown_tutor_is_404_and_unknown_template_400(
    client: TestClient, writer: dict[str, str], active_tutor: Any
) -> None:
    missing = client.post(
        "/api/interventions",
        json={"action": "create_single", "tutorId": "T9999", "templateId": "re_engagement"},
        headers=writer,
    )
    assert missing.status_code == 404
    unknown = client.post(
        "/api/interventions",
        json={"action": "create_single", "tutorId": "T0042", "templateId": "nope"},
        headers=writer,
    )
    assert unknown.status_code == 400
    assert unknown.json()["details"][0]["field"] == "templateId"
    no_tutor = client.post(
        "/api/interventions", json={"action": "create_single", "templateId": "x"}, headers=writer
    )
    assert no_tutor.status_code == 400
    assert no_tutor.json()["details"][0]["field"] == "tutorId"


def test_other_actions_answer_400_naming_the_supported_ones(
    client: TestClient, writer: dict[str, str]
) -> None:
    response = client.post("/api/interventions", json={"action": "create_campaign"}, headers=writer)
    assert response.status_code == 400
    assert "not supported yet" in response.json()["error"]
    assert "create_single" in response.json()["error"]
    listed = client.get("/api/interventions", params={"action": "segments"}, headers=writer)
    assert listed.status_code == 400


def test_read_only_keys_cannot_queue(
    client: TestClient, reader: dict[str, str], active_tutor: Any
) -> None:
    response = client.post(
        "/api/interventions",
        json={"action": "create_single", "tutorId": "T0042", "templateId": "re_engagement"},
        headers=reader,
    )
    assert response.status_code == 403


def test_an_idempotency_key_makes_a_retry_harmless(
    client: TestClient, writer: dict[str, str], active_tutor: Any, factory: Factory, db: Session
) -> None:
    body = {"action": "create_single", "tutorId": "T0042", "templateId": "re_engagement"}
    headers = {**writer, "Idempotency-Key": "retry-me-1"}
    first = client.post("/api/interventions", json=body, headers=headers)
    second = client.post("/api/interventions", json=body, headers=headers)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["intervention"]["id"] == second.json()["intervention"]["id"]
    assert second.json()["created"] is False
    assert len(db.scalars(select(Intervention)).all()) == 1
    factory.tutor("T0043")
    other = client.post("/api/interventions", json={**body, "tutorId": "T0043"}, headers=headers)
    assert other.status_code == 409


def test_list_and_templates(client: TestClient, writer: dict[str, str], active_tutor: Any) -> None:
    for template in ("re_engagement", "engagement_no_login_7d", "technical_issues"):
        client.post(
            "/api/interventions",
            json={"action": "create_single", "tutorId": "T0042", "templateId": template},
            headers=writer,
        )
    page = client.get("/api/interventions", params={"limit": 2}, headers=writer).json()
    assert page["total"] == 3
    assert [i["templateId"] for i in page["interventions"]] == [
        "technical_issues",
        "engagement_no_login_7d",
    ]
    filtered = client.get(
        "/api/interventions", params={"template": "re_engagement"}, headers=writer
    ).json()
    assert filtered["total"] == 1
    templates = client.get(
        "/api/interventions", params={"action": "templates"}, headers=writer
    ).json()["templates"]
    assert {t["id"] for t in templates} == set(TEMPLATES)
    bad = client.get("/api/interventions", params={"status": "lost"}, headers=writer)
    assert bad.status_code == 400


# --------------------------------------------------------------------- end to end


def test_queued_sent_clicked_and_unsubscribed(
    client: TestClient,
    writer: dict[str, str],
    active_tutor: Any,
    db: Session,
    settings: Settings,
    clock: FrozenClock,
) -> None:
    created = client.post(
        "/api/interventions",
        json={
            "action": "create_single",
            "tutorId": "T0042",
            "templateId": "engagement_no_login_7d",
        },
        headers=writer,
    ).json()["intervention"]
    db.commit()
    factory = sessionmaker(bind=db.connection(), join_transaction_mode="create_savepoint")
    # 2025-03-01 00:00 UTC is 19:00 in New York: outside the default quiet hours.
    with smtp_server() as server:
        transport = SmtpTransport(host="localhost", port=server.port, security="none", timeout=5)
        report = send_pending(
            factory,
            settings=settings.model_copy(
                update={"email_quiet_hours_start": 21, "email_quiet_hours_end": 8}
            ),
            clock=clock,
            transport=transport,
            bucket=TokenBucket(0),
        )
        transport.close()
    assert report.sent == 1
    [mail] = server.sink.parsed()
    html = mail.get_body(("html",)).get_content()
    assert "It has been <strong>10 days</strong> since you last logged in" in html
    link = re.search(rf'href="({re.escape(BASE)}/t/c/[^"]+)"', html)
    assert link is not None

    clock.set(clock.now() + timedelta(minutes=5))
    redirect = client.get(urlparse(link.group(1)).path)
    assert redirect.status_code == 302
    assert redirect.headers["location"] == f"{PORTAL}/login"
    db.expire_all()
    row = db.get(Intervention, created["id"])
    assert row is not None
    assert row.status == "clicked"

    unsubscribe = urlparse(mail["List-Unsubscribe"].strip("<>")).path
    done = client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    assert db.scalars(select(Suppression.email)).all() == ["kj@example.test"]
    kinds = [e.event_type for e in db.scalars(select(EmailEvent).order_by(EmailEvent.id))]
    assert kinds[:2] == ["queued", "sent"]
    assert "clicked" in kinds
