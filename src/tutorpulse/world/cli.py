"""`tutorpulse generate`: build a synthetic world and write it to disk.

Register with `app.command("generate")(generate)`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any, Literal, cast

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tutorpulse.world.config import DEFAULT_DAYS, DEFAULT_TUTORS, WorldConfig, parse_now
from tutorpulse.world.generator import generate_world
from tutorpulse.world.writer import FORMATS, write_world

# (key in calibration, label, kind)
CALIBRATION_ROWS: tuple[tuple[str, str, str], ...] = (
    ("sessions_per_day", "Sessions per day (past statuses)", "count"),
    ("churned_failed_first_share", "Churned tutors who failed their first session", "share"),
    ("tutor_reschedule_share", "Reschedules initiated by the tutor", "share"),
    ("no_show_replacement_share", "Tutor replacements caused by a no-show", "share"),
)


def _fmt(value: Any, kind: str) -> str:
    if value is None:
        return "n/a"
    if kind == "share":
        return f"{100 * float(value):.1f}%"
    return f"{float(value):,.0f}"


def calibration_table(calibration: dict[str, Any], *, effects: bool) -> Table:
    """Rich table of achieved calibration figures against the brief's targets."""
    targets, achieved = calibration["targets"], calibration["achieved"]
    table = Table(title="Calibration (achieved vs target)")
    table.add_column("Figure")
    table.add_column("Target", justify="right")
    table.add_column("Achieved", justify="right")
    table.add_column("Difference", justify="right")
    for key, label, kind in CALIBRATION_ROWS:
        target, value = targets.get(key), achieved.get(key)
        if value is None or target is None:
            diff = "n/a"
        elif kind == "share":
            diff = f"{100 * (float(value) - float(target)):+.1f} pts"
        else:
            diff = f"{100 * (float(value) / float(target) - 1):+.1f}%"
        table.add_row(label, _fmt(target, kind), _fmt(value, kind), diff)
    if not effects:
        table.caption = "Planted effects are off (--no-effects): targets that rely on them differ."
    return table


def _summary_table(calibration: dict[str, Any]) -> Table:
    achieved = calibration["achieved"]
    table = Table(title="World")
    table.add_column("Item")
    table.add_column("Value", justify="right")
    for key in ("sessions", "events", "students", "churned_tutors", "paused_tutors"):
        table.add_row(key.replace("_", " "), f"{int(achieved[key]):,}")
    for key in ("completion_rate", "tutor_no_show_rate", "first_session_failure_rate"):
        table.add_row(key.replace("_", " "), _fmt(achieved[key], "share"))
    table.add_row("tutor replacements", f"{int(achieved['tutor_replacements']):,}")
    return table


def generate(
    tutors: Annotated[int, typer.Option(help="Number of tutors (rows of tutors).", min=10)] = (
        DEFAULT_TUTORS
    ),
    days: Annotated[int, typer.Option(help="Days of history before --now.", min=14)] = (
        DEFAULT_DAYS
    ),
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("var/world"),
    now: Annotated[
        str | None,
        typer.Option(help="End of history, ISO date/datetime (default: today 00:00 UTC)."),
    ] = None,
    fmt: Annotated[str, typer.Option("--fmt", "--format", help="parquet or csv.")] = "parquet",
    effects: Annotated[
        bool, typer.Option("--effects/--no-effects", help="Plant the effects in truth.json.")
    ] = True,
) -> None:
    """Generate a synthetic tutoring marketplace with planted truths (writes truth.json)."""
    if fmt not in FORMATS:
        raise typer.BadParameter(f"must be one of {', '.join(FORMATS)}", param_hint="--fmt")
    try:
        now_dt = parse_now(now)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--now") from exc
    config = WorldConfig(tutors=tutors, days=days, seed=seed, now=now_dt, effects=effects)
    console = Console()
    console.print(
        f"Generating [bold]{tutors:,}[/] tutors over [bold]{days}[/] days up to "
        f"[bold]{config.now.isoformat()}[/] (seed {seed}, effects {'on' if effects else 'off'})"
    )
    with Progress(
        TextColumn("{task.description:<12}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("population", total=1.0)

        def on_progress(stage: str, fraction: float) -> None:
            bar.update(task, description=stage, completed=fraction)

        world = generate_world(config, progress=on_progress)
        bar.update(task, description="write", completed=0.0)
        started = time.perf_counter()
        paths = write_world(world, out, fmt=cast(Literal["csv", "parquet"], fmt))
        world.timings["write"] = round(time.perf_counter() - started, 3)
        bar.update(task, completed=1.0)

    console.print(calibration_table(world.calibration, effects=effects))
    console.print(_summary_table(world.calibration))
    timings = Table(title="Timings (seconds)")
    timings.add_column("Stage")
    timings.add_column("Seconds", justify="right")
    for stage, seconds in world.timings.items():
        if stage != "total":
            timings.add_row(stage, f"{seconds:.2f}")
    total = sum(v for k, v in world.timings.items() if k != "total")
    timings.add_row("[bold]total[/]", f"[bold]{total:.2f}[/]")
    console.print(timings)
    for name, path in paths.items():
        console.print(f"  {name:<9} {path}")
