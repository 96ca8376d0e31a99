"""``tutorpulse alerts …``: generate alerts now, or backtest the rules on past days."""

from __future__ import annotations

import json
from datetime import date, datetime

import typer
from rich.console import Console
from rich.table import Table

from tutorpulse.alerts import service
from tutorpulse.core.clock import SystemClock
from tutorpulse.core.db import create_db_engine, make_session_factory, unit_of_work
from tutorpulse.core.settings import get_settings

NAME = "alerts"
app = typer.Typer(help="Alert rules: evaluate now, or backtest them against history.")
console = Console()


def _date(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)", param_hint=name) from None


@app.command("generate")
def generate_command() -> None:
    """Evaluate every active tutor now (a full pass) and print the counts."""
    settings = get_settings()
    factory = make_session_factory(create_db_engine(settings.resolved_database_url()))
    with unit_of_work(factory, write=True) as db:
        result = service.generate(db, now=SystemClock().now(), settings=settings)
    console.print_json(json.dumps(result.as_dict()))


def _fmt(value: object, pct: bool = False) -> str:
    if value is None:
        return "—"
    if pct and isinstance(value, float):
        return f"{value * 100:.1f}%"
    return f"{value:,}" if isinstance(value, int) else str(value)


@app.command("backtest")
def backtest_command(
    start: str = typer.Option(..., "--from", help="First day to evaluate (YYYY-MM-DD)."),
    end: str = typer.Option(..., "--to", help="Last day to evaluate (YYYY-MM-DD)."),
    step: int = typer.Option(1, min=1, max=31, help="Evaluate every STEP days."),
    coaches: int | None = typer.Option(
        None, min=1, help="Coaches sharing the alerts (default: active coach users, at least 1)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Evaluate the stored rules as of each past day with only the data known then."""
    settings = get_settings()
    first, last = _date(start, "--from"), _date(end, "--to")
    factory = make_session_factory(create_db_engine(settings.resolved_database_url()))
    if last < first:
        raise typer.BadParameter("must not be before --from", param_hint="--to")
    began = datetime.now()
    with unit_of_work(factory) as db, console.status("backtesting…") as status:
        report = service.backtest(
            db,
            start=first,
            end=last,
            settings=settings,
            step_days=step,
            coaches=coaches,
            progress=lambda d: status.update(f"backtesting… {d.isoformat()}"),
        )
    report["seconds"] = round((datetime.now() - began).total_seconds(), 1)
    if as_json:
        print(json.dumps(report, indent=2))
        return
    table = Table(
        title=f"Backtest {report['from']} → {report['to']} (every {step} d); "
        f"{report['churnersInWindow']:,} churners in scope; {report['coaches']} coach(es)"
    )
    for col in ("rule", "alerts", "tutors", "caught ≥14d", "share", "median lead d",
                "precision 60d", "per coach-week"):  # fmt: skip
        table.add_column(col, justify="left" if col == "rule" else "right", no_wrap=True)
    for key, f in report["rules"].items():
        table.add_row(
            key, _fmt(f["alerts"]), _fmt(f["tutorsAlerted"]), _fmt(f["caught"]),
            _fmt(f["caughtShare"], True), _fmt(f["medianLeadDays"]),
            _fmt(f["precision"], True), _fmt(f["alertsPerCoachWeek"]),
        )  # fmt: skip
    Console(width=max(console.width, 120)).print(table)
    console.print(
        f"churn scores stored for {report['daysWithChurnScores']} of {report['evaluatedDays']} "
        "evaluated days (churn_risk_high fires only on those; upcoming_noshow_risk has no "
        "history)"
    )
    console.print(f"took {report['seconds']} s")
