"""Open pixel, click redirect and unsubscribe over HTTP, without login."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tutorpulse.core.settings import Settings
from tutorpulse.email import tracking
from tutorpulse.email.models import EmailEvent, Suppression
from tutorpulse.interventions.models import Intervention

BASE = "https://tp.example.test"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0"
LINK = "https://portal.example.test/login?from=email&x=1"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "secret_key": SecretStr("test-secret-key-for-tracking-0123456789"),
            "public_base_url": BASE,
            "email_machine_click_window_seconds": 10,
        }
    )


@pytest.fixture
def secret(settings: Settings) -> bytes:
    return tracking.signing_secret(settings)


@pytest.fixture
def sent(db: Session, factory: Any, now: Any, secret: bytes, clock: Any) -> Intervention:
    tutor = factory.tutor(email="ana@example.test")
    row = Intervention(
        idempotency_key="test-1",
        tutor_id=tutor.id,
        intervention_type="re_engagement",
        to_email="Ana@Example.test",
        subject="We miss you",
        content_html="",
        content_text=f"Log in: {LINK}",
        status="sent",
        sent_at=clock.now() - timedelta(hours=1),
    )
    db.add(row)
    db.flush()
    row.content_html = tracking.instrument_html(
        f'<html><body><a href="{LINK.replace("&", "&amp;")}">Log in</a></body></html>',
        intervention_id=row.id,
        base_url=BASE,
        secret=secret,
    )
    db.flush()
    return row


def events_of(db: Session, intervention_id: int, kind: str) -> list[EmailEvent]:
    db.expire_all()
    return list(
        db.scalars(
            select(EmailEvent).where(
                EmailEvent.intervention_id == intervention_id, EmailEvent.event_type == kind
            )
        )
    )


def path_of(url: str) -> str:
    assert url.startswith(BASE)
    return url[len(BASE) :]


# --- open pixel ---------------------------------------------------------------------------


def test_human_open_is_recorded_and_answers_an_uncached_gif(
    client: TestClient, db: Session, sent: Intervention, secret: bytes, clock: Any
) -> None:
    url = tracking.open_pixel_url(intervention_id=sent.id, base_url=BASE, secret=secret)
    response = client.get(path_of(url), headers={"user-agent": BROWSER})
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/gif"
    assert response.content == tracking.PIXEL_GIF
    assert "no-store" in response.headers["cache-control"]
    (event,) = events_of(db, sent.id, "opened")
    assert not event.is_machine
    assert event.user_agent == BROWSER
    assert sent.opened_at == clock.now()
    assert sent.status == "opened"
    # Every fetch is one event; the first open time stays.
    client.get(path_of(url), headers={"user-agent": BROWSER})
    assert len(events_of(db, sent.id, "opened")) == 2
    assert sent.opened_at == clock.now()


def test_apple_privacy_proxy_open_is_recorded_as_machine_only(
    client: TestClient, db: Session, sent: Intervention, secret: bytes
) -> None:
    url = tracking.open_pixel_url(intervention_id=sent.id, base_url=BASE, secret=secret)
    response = client.get(path_of(url), headers={"user-agent": "Mozilla/5.0"})
    assert response.status_code == 200
    (event,) = events_of(db, sent.id, "opened")
    assert event.is_machine
    assert sent.opened_at is None
    assert sent.status == "sent"


def _forgeries(intervention_id: int, secret: bytes) -> list[str]:
    good = tracking.sign_token(tracking.OPEN, {"i": intervention_id}, secret)
    payload, mac = good.split(".")
    flipped = mac[:-2] + ("AA" if mac[-2:] != "AA" else "BB")
    return [
        f"{payload}.{flipped}",  # altered signature
        tracking.sign_token(tracking.OPEN, {"i": intervention_id}, b"another-key" * 3),
        tracking.sign_token(tracking.CLICK, {"i": intervention_id, "u": LINK}, secret),
        "T0001",
        payload,
    ]


def test_forged_or_altered_open_token_is_404_and_records_nothing(
    client: TestClient, db: Session, sent: Intervention, secret: bytes
) -> None:
    for token in _forgeries(sent.id, secret):
        response = client.get(f"/t/o/{token}.gif", headers={"user-agent": BROWSER})
        assert response.status_code == 404, token
    assert events_of(db, sent.id, "opened") == []
    assert sent.opened_at is None
    assert db.scalar(select(func.count()).select_from(EmailEvent)) == 0


# --- click redirect -----------------------------------------------------------------------


def _tracked_link(sent: Intervention) -> str:
    soup = BeautifulSoup(sent.content_html or "", "html.parser")
    return str(soup.find("a")["href"])


def test_click_redirects_to_the_message_link_and_records_a_human_click(
    client: TestClient, db: Session, sent: Intervention, clock: Any
) -> None:
    response = client.get(path_of(_tracked_link(sent)), headers={"user-agent": BROWSER})
    assert response.status_code == 302
    assert response.headers["location"] == LINK
    (event,) = events_of(db, sent.id, "clicked")
    assert event.url == LINK
    assert not event.is_machine
    assert sent.clicked_at == clock.now()
    assert sent.status == "clicked"


def test_signed_url_not_in_the_message_is_not_redirected(
    client: TestClient, db: Session, sent: Intervention, secret: bytes
) -> None:
    # Genuinely signed, but the message never linked there: no open redirect.
    url = tracking.click_url(
        intervention_id=sent.id, url="https://evil.example.test/", base_url=BASE, secret=secret
    )
    response = client.get(path_of(url), headers={"user-agent": BROWSER})
    assert response.status_code == 404
    assert "location" not in response.headers
    assert events_of(db, sent.id, "clicked") == []


def test_altered_click_token_is_404(client: TestClient, db: Session, sent: Intervention) -> None:
    link = path_of(_tracked_link(sent))
    response = client.get(link[:-1] + ("A" if link[-1] != "A" else "B"))
    assert response.status_code == 404
    assert events_of(db, sent.id, "clicked") == []


def test_scanner_clicks_redirect_but_do_not_count(
    client: TestClient, db: Session, sent: Intervention, clock: Any
) -> None:
    link = path_of(_tracked_link(sent))
    sent.sent_at = clock.now() - timedelta(seconds=2)  # a gateway following links on delivery
    db.flush()
    assert client.get(link, headers={"user-agent": BROWSER}).status_code == 302
    assert client.head(link, headers={"user-agent": BROWSER}).status_code == 302
    sent.sent_at = clock.now() - timedelta(hours=1)
    db.flush()
    scanner = {"user-agent": "Mozilla/5.0 (compatible; Barracuda Sentinel)"}
    assert client.get(link, headers=scanner).status_code == 302
    clicks = events_of(db, sent.id, "clicked")
    assert len(clicks) == 3
    assert all(c.is_machine for c in clicks)
    assert sent.clicked_at is None
    assert sent.status == "sent"


# --- unsubscribe --------------------------------------------------------------------------


def test_unsubscribe_page_asks_first_then_suppresses_once(
    client: TestClient, db: Session, sent: Intervention, secret: bytes
) -> None:
    url = tracking.unsubscribe_url(
        intervention_id=sent.id, email="Ana@Example.test", base_url=BASE, secret=secret
    )
    page = client.get(path_of(url))
    assert page.status_code == 200
    soup = BeautifulSoup(page.text, "html.parser")
    form = soup.find("form", method="post")
    assert form["action"] == path_of(url)
    assert "Ana@Example.test" in soup.get_text()
    # Looking at the page (or a scanner fetching it) changes nothing.
    assert db.scalar(select(func.count()).select_from(Suppression)) == 0

    done = client.post(form["action"])
    assert done.status_code == 200
    assert "You are unsubscribed" in BeautifulSoup(done.text, "html.parser").get_text()
    assert client.post(form["action"]).status_code == 200  # idempotent
    db.expire_all()
    (row,) = db.scalars(select(Suppression)).all()
    assert (row.email, row.reason, row.source) == ("ana@example.test", "unsubscribe", "page")
    assert len(events_of(db, sent.id, "unsubscribed")) == 1


def test_rfc8058_one_click_post(
    client: TestClient, db: Session, sent: Intervention, secret: bytes
) -> None:
    headers = tracking.unsubscribe_headers(
        intervention_id=sent.id, email="ana@example.test", base_url=BASE, secret=secret
    )
    url = headers["List-Unsubscribe"].strip("<>")
    response = client.post(path_of(url), data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    db.expire_all()
    (row,) = db.scalars(select(Suppression)).all()
    assert (row.email, row.reason, row.source) == ("ana@example.test", "unsubscribe", "one-click")


def test_forged_unsubscribe_token_is_404(
    client: TestClient, db: Session, sent: Intervention, secret: bytes
) -> None:
    other = tracking.sign_token(tracking.UNSUBSCRIBE, {"i": sent.id, "e": "x@y.test"}, b"k" * 32)
    assert client.get(f"/u/{other}").status_code == 404
    assert client.post(f"/u/{other}", data={"List-Unsubscribe": "One-Click"}).status_code == 404
    assert db.scalar(select(func.count()).select_from(Suppression)) == 0


def test_open_from_a_configured_proxy_network_is_machine(
    app_factory: Any, settings: Settings, db: Session, sent: Intervention, secret: bytes
) -> None:
    app = app_factory(settings.model_copy(update={"email_machine_open_networks": "104.28.0.0/16"}))
    url = path_of(tracking.open_pixel_url(intervention_id=sent.id, base_url=BASE, secret=secret))
    relay = TestClient(app, client=("104.28.7.7", 40000))
    assert relay.get(url, headers={"user-agent": BROWSER}).status_code == 200
    reader = TestClient(app, client=("198.51.100.20", 40000))
    assert reader.get(url, headers={"user-agent": BROWSER}).status_code == 200
    opens = events_of(db, sent.id, "opened")
    assert [o.is_machine for o in opens] == [True, False]
    assert sent.status == "opened"


def test_invalid_proxy_network_setting_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 network"):
        Settings(_env_file=None, email_machine_open_networks="17.0.0.0/8, nonsense")  # type: ignore[call-arg]
