"""`tutorpulse generate` as a Typer command: writes the files and prints the calibration."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from tutorpulse.world.cli import generate

app = typer.Typer()
app.command("generate")(generate)


@app.command("version")
def _version() -> None:  # a second command keeps "generate" a named subcommand
    typer.echo("test")


def test_generate_writes_files_and_prints_calibration(tmp_path: Path) -> None:
    out = tmp_path / "world"
    args = ["generate", "--tutors", "300", "--days", "30", "--seed", "9"]
    args += ["--now", "2026-04-01", "--out", str(out), "--fmt", "csv"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    for name in ("tutors", "students", "sessions", "events"):
        assert (out / f"{name}.csv").stat().st_size > 0
    truth = json.loads((out / "truth.json").read_text())
    assert truth["config"]["now"] == "2026-04-01T00:00:00+00:00"
    assert truth["effects_enabled"] is True
    assert "Calibration" in result.output
    assert "Reschedules initiated by the tutor" in result.output
    assert "98.2%" in result.output
    assert "Timings" in result.output


def test_no_effects_flag_switches_the_planted_effects_off(tmp_path: Path) -> None:
    args = ["generate", "--tutors", "200", "--days", "30", "--now", "2026-04-01"]
    args += ["--out", str(tmp_path), "--no-effects"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert truth["effects_enabled"] is False
    assert truth["anomaly"] is None
    assert (tmp_path / "sessions.parquet").exists()


def test_bad_arguments_are_rejected(tmp_path: Path) -> None:
    runner = CliRunner()
    bad_fmt = runner.invoke(app, ["generate", "--out", str(tmp_path), "--fmt", "xlsx"])
    assert bad_fmt.exit_code == 2
    bad_now = runner.invoke(app, ["generate", "--out", str(tmp_path), "--now", "yesterday"])
    assert bad_now.exit_code == 2
    too_few = runner.invoke(app, ["generate", "--out", str(tmp_path), "--tutors", "3"])
    assert too_few.exit_code == 2
    assert not list(tmp_path.iterdir())
