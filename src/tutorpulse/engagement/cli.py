"""``tutorpulse engagement …``: refresh or rebuild rollups and tutor health."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from tutorpulse.core.clock import SystemClock
from tutorpulse.core.db import create_db_engine, make_session_factory
from tutorpulse.core.settings import Settings, get_settings
from tutorpulse.engagement import refresh

NAME = "engagement"
app = typer.Typer(help="Tutor health rollups: refresh what changed, or rebuild everything.")
console = Console()


def refresh_until_done(settings: Settings) -> None:
    """Run the incremental refresh until no tutor is left marked (used after an import)."""
    engine = create_db_engine(settings.resolved_database_url())
    factory = make_session_factory(engine)
    clock = SystemClock()
    total = 0
    with console.status("refreshing tutor health…") as status:
        while True:
            result = refresh.run_refresh(
                factory, settings=settings, now_fn=clock.now, force_platform=True
            )
            total += result.tutors_rolled_up + result.tutors_day_rollover
            status.update(
                f"refreshing tutor health… {total:,} tutors, {result.remaining_dirty:,} left"
            )
            if result.remaining_dirty == 0:
                break
    console.print(f"tutor health refreshed: {total:,} tutor(s) recomputed")


@app.command("refresh")
def refresh_command() -> None:
    """Recompute tutors marked by ingestion or whose local day moved on (until none are left)."""
    refresh_until_done(get_settings())


@app.command("rebuild")
def rebuild_command(
    chunk: int = typer.Option(2000, min=100, max=20000, help="Tutors per transaction."),
) -> None:
    """Recompute every tutor's rollups and health and all platform totals from raw rows."""
    settings = get_settings()
    engine = create_db_engine(settings.resolved_database_url())
    factory = make_session_factory(engine)
    with Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=console,
    ) as progress:  # fmt: skip
        task = progress.add_task("rebuilding tutors", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, total=total, advance=done)

        result = refresh.rebuild(
            factory, settings=settings, now_fn=SystemClock().now, chunk=chunk, on_progress=advance
        )
    console.print(
        f"rebuilt {result.tutors_rolled_up:,} tutors and {result.platform_days:,} platform days "
        f"in {result.seconds:.1f}s"
    )
