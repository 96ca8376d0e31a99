"""``tutorpulse demo``: a fresh SQLite database holding a generated world, ready to explore.

Steps: wipe and migrate the default SQLite database, generate the default
synthetic world, import it, run every registered job once (except the on-demand alert
backtest), create an admin user and an API key (printed once, also saved to
``var/demo-credentials.txt``), then serve the dashboard on port 3000 unless ``--no-serve``.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.panel import Panel

from tutorpulse.core import auth, migrate
from tutorpulse.core.clock import SystemClock
from tutorpulse.core.db import create_db_engine, make_session_factory, unit_of_work
from tutorpulse.core.errors import AppError
from tutorpulse.core.jobs import JobLocked, load_job_modules, registered_jobs, run_job
from tutorpulse.core.settings import get_settings
from tutorpulse.tutors import importer
from tutorpulse.tutors.cli import RichProgress, print_report
from tutorpulse.world.config import DEFAULT_DAYS, DEFAULT_TUTORS, WorldConfig
from tutorpulse.world.generator import generate_world
from tutorpulse.world.writer import write_world

console = Console()
ADMIN_EMAIL = "admin@tutorpulse.local"


def _remove_sqlite_files(database: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)


# Jobs whose output later jobs read run first; the rest follow by name.
FIRST_JOBS = ("engagement.rebuild", "risk.train", "risk.score", "alerts.generate")
# On-demand analyses that take minutes on the demo world: the demo leaves them to the
# admin (the rules page has a button for the alert backtest).
SKIPPED_JOBS = ("alerts.backtest",)


def _job_order(jobs: Mapping[str, object]) -> list[str]:
    first = [name for name in FIRST_JOBS if name in jobs]
    rest = sorted(name for name in jobs if name not in first and name not in SKIPPED_JOBS)
    return first + rest


def demo(
    tutors: int = typer.Option(DEFAULT_TUTORS, help="Tutors in the generated world."),
    days: int = typer.Option(DEFAULT_DAYS, help="Days of history."),
    seed: int = typer.Option(42, help="Random seed (same seed, same world)."),
    serve: bool = typer.Option(True, "--serve/--no-serve", help="Serve the dashboard afterwards."),
    host: str = typer.Option("127.0.0.1", help="Address to serve on."),
    port: int = typer.Option(3000, help="Port to serve on."),
) -> None:
    """Build a fresh demo database from a generated world, then serve it."""
    settings = get_settings()
    if settings.database_url and not settings.database_url.startswith("sqlite"):
        console.print(
            "[red]error:[/red] the demo builds a fresh SQLite database and would not wipe "
            "the configured DATABASE_URL; unset it to run the demo."
        )
        raise typer.Exit(2)
    url = settings.resolved_database_url()
    database = Path(url.removeprefix("sqlite:///"))
    _remove_sqlite_files(database)
    engine = create_db_engine(url)
    migrate.upgrade(engine)
    console.print(f"[bold]1/5[/bold] fresh database {database}")

    now = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    started = time.perf_counter()
    with console.status(f"generating {tutors:,} tutors × {days} days…"):
        world = generate_world(WorldConfig(tutors=tutors, days=days, seed=seed, now=now))
        world_dir = settings.data_dir / "demo-world"
        write_world(world, world_dir, fmt="parquet")
    console.print(
        f"[bold]2/5[/bold] generated the world in {time.perf_counter() - started:.1f}s"
        f" → {world_dir}"
    )

    clock = SystemClock()
    try:
        with RichProgress() as progress:
            report = importer.import_directory(
                engine, directory=world_dir, now=clock.now(), progress=progress
            )
    except importer.ImportRejected as rejected:
        console.print(f"[red]the generated world did not import:[/red] {rejected.message}")
        raise typer.Exit(1) from None
    print_report(report)
    console.print("[bold]3/5[/bold] imported")

    factory = make_session_factory(engine)
    load_job_modules()
    for name in _job_order(registered_jobs()):
        try:
            with console.status(f"running job {name}…"):
                run = run_job(
                    name, session_factory=factory, settings=settings, clock=clock, trigger="demo"
                )
        except JobLocked as exc:
            console.print(f"  {name}: [yellow]{exc.message}[/yellow]")
            continue
        colour = "green" if run.status == "succeeded" else "red"
        console.print(
            f"  {name}: [{colour}]{run.status}[/{colour}]"
            f" {run.duration_seconds or 0:.1f}s {run.counts}"
        )
    console.print(
        "[bold]4/5[/bold] ran every registered job once"
        f" (except {', '.join(SKIPPED_JOBS)}: on demand, from the admin pages)"
    )

    password = secrets.token_urlsafe(12)
    try:
        with unit_of_work(factory) as db:
            admin = auth.create_user(
                db, email=ADMIN_EMAIL, password=password, role="admin", name="Demo admin"
            )
            _key, api_key = auth.create_api_key(
                db, name="demo", scopes=["admin"], created_by_id=admin.id
            )
    except AppError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from None
    credentials = settings.data_dir / "demo-credentials.txt"
    credentials.write_text(
        f"url=http://localhost:{port}\nemail={ADMIN_EMAIL}\npassword={password}\napi_key={api_key}\n"
    )
    os.chmod(credentials, 0o600)
    console.print(
        Panel(
            f"Dashboard  http://localhost:{port}\n"
            f"Login      {ADMIN_EMAIL}\n"
            f"Password   {password}\n"
            f"API key    {api_key}\n\n"
            f'Try: curl -H "Authorization: Bearer {api_key}" http://localhost:{port}/api/dashboard/metrics\n'
            f"(saved to {credentials})",
            title="[bold]5/5 demo ready[/bold]",
        )
    )
    engine.dispose()
    if serve:
        from tutorpulse.web.cli import serve as serve_command

        serve_command(host=host, port=port, workers=1)
