"""The users/keys commands and their audit entries, against a migrated SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from sqlalchemy import select
from typer.testing import CliRunner

from tutorpulse.core import auth, migrate
from tutorpulse.core.db import create_db_engine, make_session_factory, unit_of_work
from tutorpulse.core.models import ApiKey, AuditLog
from tutorpulse.core.settings import get_settings
from tutorpulse.web.cli import keys_app, users_app

runner = CliRunner()


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    migrate.upgrade(create_db_engine(url))
    monkeypatch.setenv("TUTORPULSE_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def _app() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(users_app, name="users")
    app.add_typer(keys_app, name="keys")
    return app


def test_users_create_and_list(cli_db: str) -> None:
    result = runner.invoke(
        _app(),
        [
            "users",
            "create",
            "Ops@Example.test",
            "--role",
            "coach",
            "--name",
            "Ops",
            "--password",
            "a long enough password",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "ops@example.test" in result.output
    listed = runner.invoke(_app(), ["users", "list"])
    assert "ops@example.test" in listed.output
    assert "coach" in listed.output
    duplicate = runner.invoke(
        _app(),
        [
            "users",
            "create",
            "ops@example.test",
            "--role",
            "viewer",
            "--password",
            "a long enough password",
        ],
    )
    assert duplicate.exit_code == 1
    assert "already exists" in duplicate.output
    bad_role = runner.invoke(
        _app(), ["users", "create", "x@example.test", "--role", "root", "--password", "x" * 12]
    )
    assert bad_role.exit_code == 1
    assert "role" in bad_role.output


def test_users_create_prompts_for_the_password(cli_db: str) -> None:
    result = runner.invoke(
        _app(),
        ["users", "create", "p@example.test", "--role", "viewer"],
        input="a long enough password\na long enough password\n",
    )
    assert result.exit_code == 0, result.output
    factory = make_session_factory(create_db_engine(cli_db))
    with unit_of_work(factory) as db:
        user = auth.authenticate_user(
            db,
            email="p@example.test",
            password="a long enough password",
            now=datetime.now(UTC),
        )
        assert user is not None


def test_keys_create_prints_once_then_list_and_revoke(cli_db: str) -> None:
    created = runner.invoke(
        _app(), ["keys", "create", "--scope", "read", "--scope", "ingest", "--name", "etl"]
    )
    assert created.exit_code == 0, created.output
    plaintext = next(line for line in created.output.splitlines() if line.startswith("tp_"))
    factory = make_session_factory(create_db_engine(cli_db))
    with unit_of_work(factory) as db:
        key = db.scalar(select(ApiKey).where(ApiKey.name == "etl"))
        assert key is not None
        assert key.scopes == ["ingest", "read"]
        key_id = key.id
    listed = runner.invoke(_app(), ["keys", "list"])
    assert "etl" in listed.output
    assert plaintext not in listed.output
    revoked = runner.invoke(_app(), ["keys", "revoke", str(key_id)])
    assert revoked.exit_code == 0
    missing = runner.invoke(_app(), ["keys", "revoke", "9999"])
    assert missing.exit_code == 1
    assert "not found" in missing.output
    bad = runner.invoke(_app(), ["keys", "create", "--scope", "root"])
    assert bad.exit_code == 1
    assert "unknown scope" in bad.output
    with unit_of_work(factory) as db:
        actions = db.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()
        assert actions == ["api_key.created", "api_key.revoked"]
        names = set(db.scalars(select(AuditLog.actor_name)).all())
        assert names == {"cli"}
