"""``tutorpulse email …``: queue, send-pending (file transport), preview."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from tests.integration.email.outbox_support import add_tutor, clean, rows
from tutorpulse.core.db import make_session_factory
from tutorpulse.core.settings import get_settings
from tutorpulse.email.cli import app


@pytest.fixture
def factory(engine: Engine) -> Iterator[sessionmaker[Session]]:
    made = make_session_factory(engine)
    clean(made)
    yield made
    clean(made)


@pytest.fixture
def cli(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Any]]:
    for name, value in {
        "TUTORPULSE_DATABASE_URL": database_url,
        "TUTORPULSE_DATA_DIR": str(tmp_path),
        "TUTORPULSE_SECRET_KEY": "cli-test-secret-0123456789abcdef",
        "TUTORPULSE_EMAIL_TRANSPORT": "file",
        "TUTORPULSE_EMAIL_QUIET_HOURS_START": "0",
        "TUTORPULSE_EMAIL_QUIET_HOURS_END": "0",
        "COLUMNS": "200",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    runner = CliRunner()
    yield lambda *args: runner.invoke(app, list(args), catch_exceptions=False)
    get_settings.cache_clear()


def test_queue_then_send_pending_writes_an_eml_file(
    cli: Callable[..., Any], factory: sessionmaker[Session], tmp_path: Path
) -> None:
    tutor = add_tutor(factory, 30, name="Alan Turing")
    queued = cli(
        "queue", "--tutor", tutor, "--template", "technical_issues_spike", "--var", "issueRate=0.3"
    )
    assert queued.exit_code == 0, queued.output
    assert "queued intervention" in queued.output

    sent = cli("send-pending")
    assert sent.exit_code == 0, sent.output
    assert "sent 1, failed 0" in sent.output
    [eml] = list((tmp_path / "outbox").glob("*.eml"))
    parsed = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert parsed["To"] == "tutor30@example.test"
    assert (
        "30% of your recent sessions had a technical issue."
        in parsed.get_body(("plain",)).get_content()
    )
    assert [r.status for r in rows(factory)] == ["sent"]


def test_queue_names_a_missing_variable(
    cli: Callable[..., Any], factory: sessionmaker[Session]
) -> None:
    tutor = add_tutor(factory, 31)
    result = cli("queue", "--tutor", tutor, "--template", "technical_issues_spike")
    assert result.exit_code == 2
    assert "issueRate" in result.output
    assert rows(factory) == []
    unknown = cli("queue", "--tutor", "EM99999", "--template", "re_engagement")
    assert unknown.exit_code == 2
    assert "EM99999" in unknown.output


def test_preview(cli: Callable[..., Any]) -> None:
    result = cli("preview", "first-session")
    assert result.exit_code == 0
    assert "Reminder: your first Math session on Tuesday, March 4" in result.output
    html = cli("preview", "quality", "--html")
    assert "<html" in html.output
    assert cli("preview", "nope").exit_code == 2
