"""``tutorpulse jobs …``: list, run, history and schedule of the registered jobs.

Exit codes of ``run``: 0 succeeded, 1 failed, 2 unknown job, 3 already running
(locked; the message names the lock's holder).
"""

from __future__ import annotations

import getpass
from datetime import datetime
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from tutorpulse.core import migrate
from tutorpulse.core.clock import SystemClock
from tutorpulse.core.db import create_db_engine, make_session_factory, unit_of_work
from tutorpulse.core.errors import AppError, NotFound
from tutorpulse.core.jobs import JobLocked, list_runs, load_job_modules, run_job
from tutorpulse.core.jobs_schedule import job_overview, set_schedule
from tutorpulse.core.settings import Settings, get_settings

EXIT_FAILED = 1
EXIT_UNKNOWN = 2
EXIT_LOCKED = 3

console = Console()
err_console = Console(stderr=True)

jobs_app = typer.Typer(help="Registered jobs: list, run, history, schedule.", no_args_is_help=True)

STATUS_STYLE = {"succeeded": "green", "failed": "red", "locked": "yellow", "running": "cyan"}


def _open() -> tuple[Settings, sessionmaker[Session]]:
    settings = get_settings()
    engine = create_db_engine(settings.resolved_database_url(), echo=settings.database_echo)
    if migrate.current_revision(engine) is None:
        err_console.print(
            "[red]The database has no schema yet.[/red] Run [bold]tutorpulse db upgrade[/bold]."
        )
        raise typer.Exit(EXIT_FAILED)
    load_job_modules()
    return settings, make_session_factory(engine)


def _when(value: datetime | None, settings: Settings) -> str:
    if value is None:
        return "—"
    try:
        zone = ZoneInfo(settings.timezone_display)
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")


def _cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _status(status: str) -> str:
    style = STATUS_STYLE.get(status, "white")
    return f"[{style}]{status}[/{style}]"


@jobs_app.command("list")
def list_jobs() -> None:
    """Registered jobs with their schedule, next run and last run."""
    settings, factory = _open()
    with factory() as db:
        rows = job_overview(db, now=SystemClock().now())
    table = Table(title=f"Jobs (times in {settings.timezone_display})")
    # Job names and statuses stay whole on a narrow terminal; the other columns fold.
    table.add_column("Job", no_wrap=True)
    for column in ("Description", "Schedule (UTC)", "Next run", "Last run"):
        table.add_column(column, overflow="fold")
    table.add_column("Status", no_wrap=True)
    for row in rows:
        last = row.last_run
        table.add_row(
            row.name,
            row.description,
            row.schedule_label if not row.schedule_error else f"[red]{row.schedule_error}[/red]",
            _when(row.next_run_at, settings),
            _when(last.started_at if last else None, settings),
            _status(last.status) if last else "never run",
        )
    console.print(table)


@jobs_app.command("run")
def run(name: str = typer.Argument(..., help="Job name, e.g. core.prune.")) -> None:
    """Run one job now and wait for it (exit 0 ok, 1 failed, 2 unknown, 3 locked)."""
    settings, factory = _open()
    try:
        with console.status(f"Running [bold]{name}[/bold]…"):
            result = run_job(
                name, session_factory=factory, settings=settings, clock=SystemClock(), trigger="cli"
            )
    except JobLocked as exc:
        err_console.print(f"[yellow]{exc.message}[/yellow]")
        raise typer.Exit(EXIT_LOCKED) from None
    except NotFound as exc:
        err_console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(EXIT_UNKNOWN) from None
    duration = f"{result.duration_seconds or 0:.2f}s"
    if result.status != "succeeded":
        err_console.print(f"[red]{name} failed[/red] after {duration} (run {result.id})")
        err_console.print(result.error or "", markup=False, highlight=False)
        raise typer.Exit(EXIT_FAILED)
    console.print(f"[green]{name} succeeded[/green] in {duration} (run {result.id})")
    if result.counts:
        table = Table(show_header=True)
        table.add_column("Count")
        table.add_column("Value", justify="right")
        for key, value in result.counts.items():
            table.add_row(key, f"{value:,}" if isinstance(value, int) else str(value))
        console.print(table)


@jobs_app.command("history")
def history(
    job: str | None = typer.Option(None, "--job", help="Only this job."),
    limit: int = typer.Option(20, "--limit", min=1, max=500, help="Rows to show."),
    offset: int = typer.Option(0, "--offset", min=0, help="Rows to skip."),
) -> None:
    """Recent runs, newest first."""
    settings, factory = _open()
    with factory() as db:
        runs, total = list_runs(db, job_name=job, limit=limit, offset=offset)
    shown = f"{offset + 1}-{offset + len(runs)}" if runs else "none"
    table = Table(title=f"Job runs {shown} of {total:,} (times in {settings.timezone_display})")
    for column in ("Run", "Job", "Trigger", "Status", "Started", "Duration", "Counts / error"):
        table.add_column(column, overflow="fold", justify="right" if column == "Run" else "left")
    for run_row in runs:
        if run_row.error:
            detail = run_row.error.splitlines()[0]
        else:
            detail = ", ".join(f"{k}={v}" for k, v in run_row.counts.items())
        duration = run_row.duration_seconds
        table.add_row(
            str(run_row.id),
            run_row.job_name,
            run_row.trigger,
            _status(run_row.status),
            _when(run_row.started_at, settings),
            f"{duration:.2f}s" if duration is not None else "—",
            detail,
        )
    console.print(table)


@jobs_app.command("schedule")
def schedule(
    name: str = typer.Argument(..., help="Job name."),
    cron: str | None = typer.Option(None, "--cron", help="Crontab expression in UTC."),
    enabled: bool | None = typer.Option(None, "--enable/--disable", help="Turn it on or off."),
) -> None:
    """Change a job's schedule; the running scheduler follows within a minute."""
    _settings, factory = _open()
    if cron is None and enabled is None:
        err_console.print("Give --cron and/or --enable/--disable.")
        raise typer.Exit(EXIT_UNKNOWN)
    try:
        with unit_of_work(factory) as db:
            row = set_schedule(
                db,
                job_name=name,
                cron=cron,
                enabled=enabled,
                actor=_cli_actor(),
                now=SystemClock().now(),
            )
            label = row.cron if row.enabled else f"{row.cron} (disabled)"
    except AppError as exc:
        err_console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(EXIT_UNKNOWN) from None
    console.print(f"{name}: {label}")
