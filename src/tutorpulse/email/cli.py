"""``tutorpulse email …``: send the due outbox messages, queue one, preview a template.

Exit codes: 0 done, 1 some messages failed (send-pending) or the database has
no schema, 2 bad input (unknown tutor/template, missing variable).
"""

from __future__ import annotations

import json
import time
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from tutorpulse.core import migrate
from tutorpulse.core.audit import Actor
from tutorpulse.core.clock import SystemClock
from tutorpulse.core.db import create_db_engine, make_session_factory, unit_of_work
from tutorpulse.core.errors import AppError
from tutorpulse.core.settings import Settings, get_settings
from tutorpulse.email import service
from tutorpulse.email.catalog import TEMPLATES
from tutorpulse.email.outbox import send_pending

NAME = "email"
EXIT_FAILED = 1
EXIT_INVALID = 2

app = typer.Typer(
    help="Email: send the outbox, queue a message, preview templates.", no_args_is_help=True
)
console = Console()
err_console = Console(stderr=True)


def _open() -> tuple[Settings, sessionmaker[Session]]:
    settings = get_settings()
    engine = create_db_engine(settings.resolved_database_url(), echo=settings.database_echo)
    if migrate.current_revision(engine) is None:
        err_console.print(
            "[red]The database has no schema yet.[/red] Run [bold]tutorpulse db upgrade[/bold]."
        )
        raise typer.Exit(EXIT_FAILED)
    return settings, make_session_factory(engine)


def _fail(exc: AppError) -> typer.Exit:
    err_console.print(f"[red]{exc.message}[/red]")
    for detail in exc.details:
        err_console.print(f"  {detail.field}: {detail.message}")
    return typer.Exit(EXIT_INVALID)


@app.command("send-pending")
def send_pending_command(
    limit: int | None = typer.Option(None, min=1, help="Send at most this many messages."),
) -> None:
    """Send every due message through the configured transport (EMAIL_TRANSPORT)."""
    settings, factory = _open()
    started = time.monotonic()
    report = send_pending(factory, settings=settings, clock=SystemClock(), limit=limit)
    elapsed = time.monotonic() - started
    console.print(
        f"sent {report.sent}, failed {report.failed}, deferred {report.deferred}, "
        f"skipped {report.skipped} in {elapsed:.1f} s via {settings.email_transport}"
    )
    for error in report.errors:
        err_console.print(f"  {error}")
    if report.failed:
        raise typer.Exit(EXIT_FAILED)


def _variables(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name:
            raise typer.BadParameter(f"{pair!r}: use NAME=VALUE", param_hint="--var")
        try:
            out[name] = json.loads(raw)  # numbers stay numbers
        except ValueError:
            out[name] = raw
    return out


@app.command("queue")
def queue_command(
    tutor: str = typer.Option(..., "--tutor", help="The tutor's id, e.g. T0001."),
    template: str = typer.Option(..., "--template", help="Template key (see `email templates`)."),
    var: list[str] = typer.Option([], "--var", help="NAME=VALUE; repeat. Others come from data."),
) -> None:
    """Queue one email for a tutor; variables not given are filled from the tutor's data."""
    settings, factory = _open()
    try:
        with unit_of_work(factory) as db:
            queued = service.queue_email(
                db,
                tutor_id=tutor,
                template_key=template,
                variables=_variables(var),
                now=SystemClock().now(),
                settings=settings,
                actor=Actor(kind="system", id=None, name="cli"),
            )
            row = queued.intervention
            console.print(f"queued intervention {row.id} to {row.to_email}: {row.subject}")
    except AppError as exc:
        raise _fail(exc) from None


@app.command("preview")
def preview_command(
    template: str = typer.Argument(..., help="Template key or original preview name."),
    html: bool = typer.Option(False, "--html", help="Print the HTML part instead of the text."),
    variant: str | None = typer.Option(None, help="Engagement alert variant."),
) -> None:
    """Render a template with its sample data."""
    try:
        key, rendered = service.preview_email(template, settings=get_settings(), variant=variant)
    except AppError as exc:
        raise _fail(exc) from None
    console.print(f"[bold]Subject:[/bold] {rendered.subject}  [dim]({key.key}, sample data)[/dim]")
    print(rendered.html if html else rendered.text)


@app.command("templates")
def templates_command() -> None:
    """The email templates and the variables each needs."""
    table = Table(title="Email templates")
    for column in ("Key", "Original name", "Type", "Required variables"):
        table.add_column(column, overflow="fold")
    for t in TEMPLATES.values():
        table.add_row(t.key, t.original_name, t.intervention_type, ", ".join(t.required))
    console.print(table)
