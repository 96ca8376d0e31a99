"""Outbox and template preview pages (HTML parsed, not string-matched)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.orm import Session
from tests.api.conftest import Factory, Login

from tutorpulse.core.settings import Settings
from tutorpulse.email import service
from tutorpulse.email.catalog import TEMPLATES
from tutorpulse.email.repository import add_event


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"secret_key": SecretStr("pages-test-secret-0123456789abcdef")}
    )


@pytest.fixture
def outbox(db: Session, factory: Factory, settings: Settings, now: Any) -> list[int]:
    ids = []
    for n in range(3):
        tutor = factory.tutor(f"T{100 + n}", name=f"Tutor {n}", email=f"t{n}@example.test")
        tutor.last_login_at = now - timedelta(days=8 + n)
        queued = service.queue_email(
            db,
            tutor_id=tutor.external_id,
            template_key="engagement_no_login_7d" if n < 2 else "re_engagement",
            variables={},
            now=now,
            settings=settings,
        )
        ids.append(queued.intervention.id)
    failed = db.get(type(queued.intervention), ids[0])
    assert failed is not None
    failed.status = "failed"
    failed.error_message = "550 5.1.1 user unknown"
    add_event(
        db,
        intervention_id=ids[0],
        event_type="failed",
        now=now,
        data={"reason": "550 5.1.1 user unknown"},
    )
    db.flush()
    return ids


def soup(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


def test_pages_need_a_login(client: TestClient) -> None:
    for path in ("/email/outbox", "/email/templates", "/email/outbox/1/html"):
        response = client.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login")


def test_outbox_lists_filters_and_pages(viewer: Login, outbox: list[int]) -> None:
    page = soup(viewer.client.get("/email/outbox").text)
    rows = page.select("table[data-testid=outbox] tbody tr")
    assert [int(r["data-id"]) for r in rows] == sorted(outbox, reverse=True)
    assert page.select_one("[data-testid=outbox-total]").get_text(strip=True) == "3 messages"  # type: ignore[union-attr]
    failed = soup(viewer.client.get("/email/outbox", params={"status": "failed"}).text)
    [row] = failed.select("table[data-testid=outbox] tbody tr")
    assert "550 5.1.1 user unknown" in row.get_text()
    by_template = soup(
        viewer.client.get("/email/outbox", params={"template": "re_engagement"}).text
    )
    assert len(by_template.select("table[data-testid=outbox] tbody tr")) == 1
    paged = soup(
        viewer.client.get("/email/outbox", params={"limit": 25, "offset": 0, "tutor": "T101"}).text
    )
    assert [r["data-id"] for r in paged.select("table[data-testid=outbox] tbody tr")] == [
        str(outbox[1])
    ]
    empty = soup(viewer.client.get("/email/outbox", params={"status": "opened"}).text)
    assert empty.select_one("[data-testid=empty]") is not None


def test_message_page_shows_facts_timeline_and_a_sandboxed_frame(
    viewer: Login, outbox: list[int]
) -> None:
    page = soup(viewer.client.get(f"/email/outbox/{outbox[0]}").text)
    assert page.select_one("[data-testid=status]").get_text() == "failed"  # type: ignore[union-attr]
    events = [li["data-event"] for li in page.select("[data-testid=timeline] li")]
    assert events == ["queued", "failed"]
    frame = page.select_one("iframe[data-testid=html-frame]")
    assert frame is not None
    assert frame.has_attr("sandbox")
    assert not frame["sandbox"]  # an empty sandbox: no scripts, no same-origin, no forms
    assert "Hi Tutor 0," in page.select_one("[data-testid=text-part]").get_text()  # type: ignore[union-attr]

    framed = viewer.client.get(frame["src"])  # type: ignore[arg-type]
    assert framed.status_code == 200
    assert framed.headers["content-security-policy"].startswith("sandbox;")
    assert "script-src" not in framed.headers["content-security-policy"]
    assert framed.headers["x-frame-options"] == "SAMEORIGIN"
    assert "Hi Tutor 0," in soup(framed.text).get_text()
    assert viewer.client.get("/email/outbox/999999").status_code == 404


def test_template_pages(viewer: Login) -> None:
    listing = soup(viewer.client.get("/email/templates").text)
    assert {r["data-template"] for r in listing.select("[data-testid=templates] tbody tr")} == set(
        TEMPLATES
    )
    page = soup(
        viewer.client.get(
            "/email/templates/engagement_alert", params={"variant": "no_sessions"}
        ).text
    )
    assert (
        page.select_one("[data-testid=subject]").get_text()
        == "Ready for your next session, Ada Lovelace?"
    )  # type: ignore[union-attr]
    text = page.select_one("[data-testid=text-part]").get_text()  # type: ignore[union-attr]
    assert "Your last completed session was 12 days ago." in text
    frame = page.select_one("iframe[data-testid=html-frame]")
    assert frame is not None
    html = viewer.client.get(frame["src"])  # type: ignore[arg-type]
    assert "View available sessions" in soup(html.text).get_text()
    assert html.headers["content-security-policy"].startswith("sandbox;")
    variables = [
        tr.find("code").get_text() for tr in page.select("[data-testid=variables] tbody tr")
    ]  # type: ignore[union-attr]
    assert variables[:3] == ["tutorName", "issueType", "actionUrl"]
    assert viewer.client.get("/email/templates/nope").status_code == 404


def test_nav_links_the_pages(viewer: Login) -> None:
    nav = soup(viewer.client.get("/email/outbox").text).select("nav.sidenav a")
    hrefs = {a["href"] for a in nav}
    assert {"/email/outbox", "/email/templates"} <= hrefs
