"""End to end: a message the outbox really sent is tracked and unsubscribed over HTTP.

The outbox commits per message, so this runs on committed rows (cleaned up by
``outbox_support``) and a real app whose requests open their own transactions.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from tests.integration.email.outbox_support import (
    BASE_URL,
    NOW,
    add_tutor,
    clean,
    events,
    make_settings,
    queue,
    rows,
)
from tutorpulse.app import create_app
from tutorpulse.core.clock import FrozenClock
from tutorpulse.core.db import make_session_factory
from tutorpulse.core.settings import Settings
from tutorpulse.email.models import Suppression
from tutorpulse.email.outbox import send_pending
from tutorpulse.email.transport import OutgoingMessage, SendResult

BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 Version/17.4 Safari"


class Collecting:
    """A transport that keeps what it is given (a fake, not a mock of ours)."""

    name = "collect"

    def __init__(self) -> None:
        self.sent: list[OutgoingMessage] = []

    def send(self, message: OutgoingMessage) -> SendResult:
        self.sent.append(message)
        return SendResult(provider=self.name, provider_message_id=f"c{len(self.sent)}")


@pytest.fixture
def factory(engine: Engine) -> Iterator[sessionmaker[Session]]:
    made = make_session_factory(engine)
    clean(made)
    yield made
    clean(made)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path, email_machine_click_window_seconds=10)


def test_sent_message_is_tracked_and_one_click_unsubscribe_stops_the_next(
    engine: Engine, factory: sessionmaker[Session], settings: Settings
) -> None:
    tutor = add_tutor(factory, 1)
    first = queue(factory, settings, tutor)
    transport = Collecting()
    clock = FrozenClock(NOW)
    report = send_pending(factory, settings=settings, clock=clock, transport=transport)
    assert report.sent == 1
    (message,) = transport.sent

    clock.set(NOW + timedelta(hours=1))
    client = TestClient(create_app(settings, engine=engine, clock=clock), follow_redirects=False)
    soup = BeautifulSoup(message.html, "html.parser")
    tracked = [a["href"] for a in soup.find_all("a") if a["href"].startswith(f"{BASE_URL}/t/c/")]
    assert tracked, "the sent HTML has tracked links"
    click = client.get(tracked[0].removeprefix(BASE_URL), headers={"user-agent": BROWSER})
    assert click.status_code == 302
    target = click.headers["location"]
    assert target.startswith("https://")
    assert not target.startswith(BASE_URL)
    pixel = soup.find("img", width="1", height="1")
    assert client.get(pixel["src"].removeprefix(BASE_URL)).status_code == 200

    (sent_row,) = rows(factory)
    assert sent_row.status == "clicked"
    assert sent_row.clicked_at == NOW + timedelta(hours=1)
    assert "clicked" in events(factory, first)

    url = message.headers["List-Unsubscribe"].split(",")[0].strip("<> ")
    assert message.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    done = client.post(url.removeprefix(BASE_URL), data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    with factory() as db:
        (row,) = db.scalars(select(Suppression)).all()
        assert (row.email, row.reason, row.source) == (
            "tutor1@example.test",
            "unsubscribe",
            "one-click",
        )

    # The next message to that tutor is stopped at send time.
    second = queue(factory, settings, tutor, now=NOW + timedelta(hours=1))
    report = send_pending(factory, settings=settings, clock=clock, transport=transport)
    assert report.sent == 0
    assert len(transport.sent) == 1
    stopped = next(r for r in rows(factory) if r.id == second)
    assert stopped.status == "suppressed"
