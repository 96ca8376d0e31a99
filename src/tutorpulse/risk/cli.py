"""``tutorpulse models train|list|activate|evaluate|score``."""

from __future__ import annotations

import json
from datetime import datetime

import typer
from rich.console import Console
from rich.table import Table

from tutorpulse.core.clock import SystemClock
from tutorpulse.core.db import create_db_engine, make_session_factory, unit_of_work
from tutorpulse.core.errors import AppError
from tutorpulse.core.settings import get_settings
from tutorpulse.risk import service

NAME = "models"
app = typer.Typer(help="Risk models: train, list, activate, evaluate, score.", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)


def _factory():  # type: ignore[no-untyped-def]
    settings = get_settings()
    engine = create_db_engine(settings.resolved_database_url(), echo=settings.database_echo)
    return settings, make_session_factory(engine)


def _now(value: str | None) -> datetime:
    if not value:
        return SystemClock().now()
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        from datetime import UTC

        parsed = parsed.replace(tzinfo=UTC)
    return parsed


NowOpt = typer.Option(None, "--now", help="As-of time (ISO); default: the current time.")


@app.command("train")
def train(
    target: str | None = typer.Option(
        None, help="churn, tutor_no_show or student_no_show (default: all three)."
    ),
    now: str | None = NowOpt,
) -> None:
    """Train, register and (if not worse than the active one) activate the models."""
    settings, factory = _factory()
    targets = (target,) if target else service.TARGETS
    try:
        with unit_of_work(factory) as db:
            outcomes = service.train_models(db, now=_now(now), settings=settings, targets=targets)
            table = Table(title="Trained models (held-out period)")
            for col in (
                "Target",
                "Version",
                "Algorithm",
                "AUC",
                "PR-AUC",
                "Brier",
                "Base-rate Brier",
                "Baseline AUC",
                "Result",
                "Seconds",
            ):
                table.add_column(col)
            for o in outcomes:
                m = o.version.metrics
                h = m["heldOut"]
                table.add_row(
                    o.target,
                    str(o.version.version),
                    o.version.algorithm,
                    str(h["auc"]),
                    str(h["prAuc"]),
                    str(h["brier"]),
                    str(h["brierBaseRate"]),
                    str(m["baseline"]["auc"]),
                    o.reason,
                    str(o.seconds),
                )
    except AppError as exc:
        err_console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from None
    console.print(table)


@app.command("list")
def list_models(target: str | None = typer.Option(None, help="Only this target.")) -> None:
    """Every registered version with its held-out metrics."""
    _settings, factory = _factory()
    with factory() as db:
        rows = service.list_models(db, target=target)
        table = Table(title="Model versions")
        for col in ("Id", "Target", "Version", "Algorithm", "Active", "AUC", "Brier", "Created"):
            table.add_column(col)
        for r in rows:
            h = r.metrics.get("heldOut", {})
            table.add_row(
                str(r.id),
                r.target,
                str(r.version),
                r.algorithm,
                "yes" if r.is_active else "",
                str(h.get("auc")),
                str(h.get("brier")),
                r.created_at.isoformat(timespec="seconds"),
            )
    console.print(table)


@app.command("activate")
def activate(version_id: int = typer.Argument(..., help="Model version id (see list).")) -> None:
    """Make a version the active one of its target."""
    _settings, factory = _factory()
    try:
        with unit_of_work(factory) as db:
            row = service.activate_model(db, version_id=version_id)
            console.print(f"[green]{row.target} v{row.version} is now active[/green]")
    except AppError as exc:
        err_console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from None


@app.command("evaluate")
def evaluate(
    version_id: int = typer.Argument(..., help="Model version id."), now: str | None = NowOpt
) -> None:
    """Score a version on the latest held-out period of the current data."""
    settings, factory = _factory()
    try:
        with factory() as db:
            result = service.evaluate_model(
                db, version_id=version_id, now=_now(now), settings=settings
            )
    except AppError as exc:
        err_console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from None
    console.print_json(json.dumps(result))


@app.command("score")
def score(now: str | None = NowOpt) -> None:
    """Score every tutor and upcoming session with the active models."""
    settings, factory = _factory()
    with unit_of_work(factory) as db:
        s = service.score_all(db, now=_now(now), settings=settings)

    def version(v: int | None) -> str:
        return "none active" if v is None else f"v{v}"

    console.print(
        f"tutors scored {s.tutors_scored:,}, sessions scored {s.sessions_scored:,}; "
        f"churn model {version(s.churn_version)}, no-show model {version(s.noshow_version)}, "
        f"student no-show model {version(s.student_noshow_version)}; seconds {s.seconds}"
    )
