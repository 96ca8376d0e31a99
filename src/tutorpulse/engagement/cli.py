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
    """Bring every marked tutor and the platform totals up to date (used after an import):
    incremental passes, or a rebuild when most tutors are marked (``refresh.catch_up``)."""
    engine = create_db_engine(settings.resolved_database_url())
    factory = make_session_factory(engine)
    done = 0
    with console.status("refreshing tutor health…") as status:

        def on_pass(step: refresh.RefreshResult) -> None:
            nonlocal done
            done += step.tutors_rolled_up + step.tutors_day_rollover
            status.update(
                f"refreshing tutor health… {done:,} tutors, {step.remaining_dirty:,} left"
            )

        mode, result = refresh.catch_up(
            factory, settings=settings, now_fn=SystemClock().now, on_pass=on_pass
        )
    total = result.tutors_rolled_up + result.tutors_day_rollover
    how = "rebuilt (most tutors were marked)" if mode == "rebuild" else "refreshed"
    console.print(f"tutor health {how}: {total:,} tutor(s) recomputed")


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
