"""``tutorpulse jobs …`` (the Typer app): output, exit codes 0/1/2/3, schedule edits."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from tutorpulse.core import jobs, jobs_cli
from tutorpulse.core.clock import SystemClock
from tutorpulse.core.db import unit_of_work
from tutorpulse.core.jobs_cli import jobs_app
from tutorpulse.core.models import JobLock, JobRun, JobSchedule
from tutorpulse.core.settings import get_settings


@pytest.fixture
def cli(
    database_url: str, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Any]]:
    monkeypatch.setenv("TUTORPULSE_DATABASE_URL", database_url)
    monkeypatch.setenv("TUTORPULSE_DISPLAY_TIMEZONE", "UTC")
    monkeypatch.setenv("COLUMNS", "220")
    # The module console may have been created (at 80 columns) before COLUMNS was set.
    monkeypatch.setattr(jobs_cli.console, "width", 220)
    get_settings.cache_clear()
    runner = CliRunner()

    def invoke(*args: str) -> Any:
        return runner.invoke(jobs_app, list(args), catch_exceptions=False)

    yield invoke
    get_settings.cache_clear()


@pytest.fixture
def cli_jobs(register_job: Callable[..., Any]) -> None:
    @register_job("test.cli_ok", default_cron="0 * * * *")
    def ok(context: jobs.JobContext) -> dict[str, Any]:
        return {"processed": 12345, "trigger": context.trigger}

    @register_job("test.cli_fail")
    def fail(context: jobs.JobContext) -> dict[str, Any]:
        raise ConnectionError("smtp.example.invalid refused the connection")


def test_run_success_exits_0_and_prints_counts(
    cli: Callable[..., Any], cli_jobs: None, session_factory: sessionmaker[Session]
) -> None:
    result = cli("run", "test.cli_ok")
    assert result.exit_code == 0, result.output
    assert "test.cli_ok succeeded" in result.output
    assert "12,345" in result.output
    with session_factory() as db:
        (run,) = db.query(JobRun).filter_by(job_name="test.cli_ok").all()
    assert (run.trigger, run.status) == ("cli", "succeeded")


def test_run_failure_exits_1_with_the_error(cli: Callable[..., Any], cli_jobs: None) -> None:
    result = cli("run", "test.cli_fail")
    assert result.exit_code == 1
    assert "ConnectionError: smtp.example.invalid refused the connection" in result.output


def test_run_of_a_locked_job_exits_3_naming_the_holder(
    cli: Callable[..., Any], cli_jobs: None, session_factory: sessionmaker[Session]
) -> None:
    now = SystemClock().now()
    with unit_of_work(session_factory) as db:
        db.add(
            JobLock(
                job_name="test.cli_ok",
                holder="sched-host:321 run 9",
                acquired_at=now,
                expires_at=now + timedelta(minutes=5),
            )
        )
    result = cli("run", "test.cli_ok")
    assert result.exit_code == 3
    assert "already running" in result.output
    assert "sched-host:321 run 9" in result.output


def test_run_of_an_unknown_job_exits_2(cli: Callable[..., Any], cli_jobs: None) -> None:
    result = cli("run", "test.missing")
    assert result.exit_code == 2
    assert "Unknown job 'test.missing'" in result.output
    assert "test.cli_ok" in result.output


def test_list_and_history_show_jobs_and_runs(cli: Callable[..., Any], cli_jobs: None) -> None:
    assert cli("run", "test.cli_ok").exit_code == 0
    assert cli("run", "test.cli_fail").exit_code == 1

    listing = cli("list")
    assert listing.exit_code == 0
    line = next(row for row in listing.output.splitlines() if "test.cli_ok" in row)
    assert "succeeded" in line
    fail_line = next(row for row in listing.output.splitlines() if "test.cli_fail" in row)
    assert "failed" in fail_line
    assert "manual only" in fail_line
    assert "core.prune" in listing.output

    history = cli("history", "--job", "test.cli_fail", "--limit", "5")
    assert history.exit_code == 0
    assert "of 1 " in history.output
    assert "ConnectionError" in history.output
    assert "test.cli_ok" not in history.output


def test_schedule_edits_the_table(
    cli: Callable[..., Any], cli_jobs: None, session_factory: sessionmaker[Session]
) -> None:
    result = cli("schedule", "test.cli_ok", "--cron", "5 4 * * 1", "--disable")
    assert result.exit_code == 0, result.output
    with session_factory() as db:
        row = db.get_one(JobSchedule, "test.cli_ok")
    assert (row.cron, row.enabled) == ("5 4 * * 1", False)
    assert row.updated_by is not None
    assert row.updated_by.startswith("cli")

    bad = cli("schedule", "test.cli_ok", "--cron", "5 4 * *")
    assert bad.exit_code == 2
    assert "five fields" in bad.output
    manual = cli("schedule", "test.cli_fail", "--enable")
    assert manual.exit_code == 2
    assert "no default schedule" in manual.output
