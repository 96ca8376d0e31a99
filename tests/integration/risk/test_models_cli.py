"""`tutorpulse models …` as a user runs it on a small imported world."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tutorpulse.cli import app
from tutorpulse.core.settings import get_settings
from tutorpulse.risk import cli as risk_cli
from tutorpulse.world.config import WorldConfig
from tutorpulse.world.generator import generate_world
from tutorpulse.world.writer import write_world

runner = CliRunner()
NOW = "2026-06-01"


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("TUTORPULSE_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("COLUMNS", "250")
    # The module console may exist before COLUMNS is set (another test imported it).
    monkeypatch.setattr(risk_cli.console, "width", 250)
    monkeypatch.setenv("TUTORPULSE_RISK_NOSHOW_TEST_WINDOWS", "4")
    get_settings.cache_clear()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    yield tmp_path
    get_settings.cache_clear()


def test_models_cli_round_trip(cli_env: Path) -> None:
    assert "Model versions" in runner.invoke(app, ["models", "list"]).output
    missing = runner.invoke(app, ["models", "activate", "999"])
    assert missing.exit_code == 1
    assert "not found" in missing.output
    empty = runner.invoke(app, ["models", "train", "--now", NOW])
    assert empty.exit_code == 1
    assert "no sessions" in empty.output

    world = generate_world(
        WorldConfig(tutors=500, days=200, seed=9, now=datetime(2026, 6, 1, tzinfo=UTC))
    )
    write_world(world, cli_env / "w", fmt="parquet")
    assert runner.invoke(app, ["import", str(cli_env / "w")]).exit_code == 0
    trained = runner.invoke(app, ["models", "train", "--target", "churn", "--now", NOW])
    assert trained.exit_code == 0, trained.output
    assert "churn" in trained.output
    listed = runner.invoke(app, ["models", "list"]).output
    assert "churn" in listed
    evaluated = runner.invoke(app, ["models", "evaluate", "1", "--now", NOW])
    assert evaluated.exit_code == 0, evaluated.output
    assert '"auc"' in evaluated.output
    scored = runner.invoke(app, ["models", "score", "--now", NOW])
    assert scored.exit_code == 0, scored.output
    assert "churn model v1" in scored.output
    assert "student no-show model none active" in scored.output

    student = runner.invoke(app, ["models", "train", "--target", "student_no_show", "--now", NOW])
    assert student.exit_code == 0, student.output
    assert "student_no_show" in student.output
    listed = runner.invoke(app, ["models", "list", "--target", "student_no_show"]).output
    assert "student_no_show" in listed
    assert "churn" not in listed
    bogus = runner.invoke(app, ["models", "train", "--target", "student", "--now", NOW])
    assert bogus.exit_code == 1
    assert "student_no_show" in bogus.output
