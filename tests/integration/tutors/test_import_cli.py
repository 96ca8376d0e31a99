"""`tutorpulse import` as a user runs it: exit codes, error lines, rejects file, report."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.integration.tutors.test_import import (
    BAD_SESSIONS,
    EVENTS,
    SESSIONS,
    STUDENTS,
    TUTORS,
    write,
)
from tutorpulse.cli import app
from tutorpulse.core.settings import get_settings

runner = CliRunner()


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point the CLI at a fresh SQLite database under tmp_path."""
    monkeypatch.setenv("TUTORPULSE_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("COLUMNS", "200")  # Rich would wrap long lines at 80
    get_settings.cache_clear()
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    yield tmp_path
    get_settings.cache_clear()


def test_bad_rows_exit_2_and_print_file_line_field_reason(cli_env: Path) -> None:
    folder = write(
        cli_env / "bad", tutors=TUTORS, students=STUDENTS, sessions=BAD_SESSIONS, events=EVENTS
    )
    result = runner.invoke(app, ["import", str(folder)])
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert any(line.startswith("sessions.csv:7 student_rating") for line in lines)
    assert any(line.startswith("sessions.csv:9 scheduled_start") for line in lines)
    assert "nothing imported" in result.output


def test_skip_invalid_writes_rejects_and_reports(cli_env: Path) -> None:
    folder = write(
        cli_env / "bad", tutors=TUTORS, students=STUDENTS, sessions=BAD_SESSIONS, events=EVENTS
    )
    rejects = cli_env / "rejects.csv"
    result = runner.invoke(
        app, ["import", str(folder), "--skip-invalid", "--rejects", str(rejects)]
    )
    assert result.exit_code == 0, result.output
    assert rejects.read_text().splitlines()[0] == "file,line,field,reason"
    assert len(rejects.read_text().splitlines()) == 1 + 5
    assert "5 row(s) skipped" in result.output


def test_valid_import_then_reimport_reports_unchanged(cli_env: Path) -> None:
    folder = write(
        cli_env / "ok", tutors=TUTORS, students=STUDENTS, sessions=SESSIONS, events=EVENTS
    )
    first = runner.invoke(app, ["import", str(folder)])
    assert first.exit_code == 0, first.output
    second = runner.invoke(app, ["import", str(folder)])
    assert second.exit_code == 0, second.output
    # The report table's row (the progress bar's line also starts with "sessions").
    rows = [
        line.split() for line in second.output.splitlines() if line.strip().startswith("sessions")
    ]
    cells = rows[-1]
    # file, rows, inserted, updated, unchanged, rejected …
    assert cells[1:6] == ["5", "0", "0", "5", "0"]


def test_missing_folder_is_a_clear_error(cli_env: Path) -> None:
    result = runner.invoke(app, ["import", str(cli_env / "nope")])
    assert result.exit_code == 2
    # The console wraps long temporary paths at its width; compare the words.
    assert "is not a directory" in " ".join(result.output.split())
