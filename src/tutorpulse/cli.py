"""The ``tutorpulse`` command line. Each domain contributes its commands."""

from __future__ import annotations

import importlib
import importlib.util

import typer
from rich.console import Console

from tutorpulse.core import migrate
from tutorpulse.core.db import create_db_engine
from tutorpulse.core.jobs_cli import jobs_app
from tutorpulse.core.settings import get_settings
from tutorpulse.demo import demo
from tutorpulse.tutors.cli import import_command
from tutorpulse.web import cli as web_cli
from tutorpulse.world import cli as world_cli

console = Console()
app = typer.Typer(
    name="tutorpulse",
    help="TutorPulse: keep a tutoring marketplace's tutors engaged and performing.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
db_app = typer.Typer(help="Database schema management.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Create or migrate the schema to the latest (or given) revision."""
    settings = get_settings()
    engine = create_db_engine(settings.resolved_database_url())
    migrate.upgrade(engine, revision)
    console.print(f"[green]Database at revision {migrate.current_revision(engine)}[/green]")


@db_app.command("downgrade")
def db_downgrade(revision: str = typer.Argument(..., help="Target revision, e.g. base.")) -> None:
    """Revert the schema to an earlier revision."""
    engine = create_db_engine(get_settings().resolved_database_url())
    migrate.downgrade(engine, revision)
    console.print(f"Database at revision {migrate.current_revision(engine) or 'base'}")


@db_app.command("current")
def db_current() -> None:
    """Show the database's revision and whether it is up to date."""
    engine = create_db_engine(get_settings().resolved_database_url())
    current = migrate.current_revision(engine)
    head = migrate.head_revision()
    state = "up to date" if current == head else f"behind (head is {head})"
    console.print(f"revision {current or 'none'}: {state}")


app.command("generate", help="Generate a synthetic marketplace (data contract + truth.json).")(
    world_cli.generate
)
app.command("import")(import_command)
app.command("demo")(demo)
app.add_typer(jobs_app, name="jobs")
app.add_typer(web_cli.users_app, name="users")
app.add_typer(web_cli.keys_app, name="keys")
app.command("serve")(web_cli.serve)

# Domain command groups: ``tutorpulse.<domain>.cli`` exporting ``app`` (a Typer) and ``NAME``.
CLI_DOMAINS = ("engagement", "analytics", "risk", "alerts", "email", "interventions", "insights")
for _domain in CLI_DOMAINS:
    if importlib.util.find_spec(f"tutorpulse.{_domain}.cli") is None:
        continue
    _module = importlib.import_module(f"tutorpulse.{_domain}.cli")
    app.add_typer(_module.app, name=_module.NAME)


def main() -> None:
    app()
