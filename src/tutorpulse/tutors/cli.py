"""``tutorpulse import DIR``: load the data contract files with a progress bar."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

import typer
from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from tutorpulse.core.clock import SystemClock
from tutorpulse.core.db import create_db_engine
from tutorpulse.core.errors import AppError
from tutorpulse.core.settings import get_settings
from tutorpulse.tutors import importer

console = Console()
err_console = Console(stderr=True)


class RateColumn(TextColumn):
    """Rows per second of the running stage."""

    def __init__(self) -> None:
        super().__init__("")

    def render(self, task):  # type: ignore[no-untyped-def]
        speed = task.finished_speed or task.speed
        return super().render(task) if speed is None else f"{speed:,.0f} rows/s"


class RichProgress:
    """Adapts the importer's progress callbacks to a Rich progress bar."""

    def __init__(self) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description:<9}"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> RichProgress:
        self._progress.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.__exit__(exc_type, exc, tb)

    def stage(self, name: str, total: int) -> None:
        if self._task is not None:
            self._progress.update(self._task, completed=self._progress.tasks[self._task].total)
        self._task = self._progress.add_task(name, total=max(total, 1))

    def advance(self, rows: int) -> None:
        if self._task is not None:
            self._progress.advance(self._task, rows)


def print_errors(report: importer.ImportReport, limit: int = importer.MAX_REPORTED_ERRORS) -> None:
    for row in report.errors.head(limit).itertuples():
        err_console.print(
            f"{row.file}:{row.line} [bold]{row.field}[/bold] {row.reason}", highlight=False
        )
    if report.error_count > limit:
        err_console.print(f"… and {report.error_count - limit:,} more error(s)")


def print_report(report: importer.ImportReport) -> None:
    table = Table(title="Import", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for header in (
        "file",
        "rows",
        "new",
        "updated",
        "unchanged",
        "rejected",
        "secs",
        "rows/s",
    ):
        table.add_column(header, justify="left" if header == "file" else "right", no_wrap=True)
    for f in report.files.values():
        table.add_row(
            f.name,
            f"{f.rows:,}",
            f"{f.inserted:,}",
            f"{f.updated:,}",
            f"{f.unchanged:,}",
            f"{f.rejected:,}",
            f"{f.seconds:.1f}",
            f"{f.rows_per_second:,.0f}",
        )
    console.print(table)
    console.print(
        f"validated in {report.validate_seconds:.1f}s, written in {report.write_seconds:.1f}s"
        + (
            f"; derived is_first_session for {report.derived_first_sessions:,} rows"
            if report.derived_first_sessions
            else ""
        )
    )
    for f in report.files.values():
        if f.unknown_columns:
            console.print(
                f"[yellow]warning:[/yellow] {Path(f.path).name}: "
                f"ignored unknown column(s) {', '.join(f.unknown_columns)}"
            )


def import_command(
    directory: Path = typer.Argument(
        ..., help="Folder holding tutors/students/sessions/events .csv or .parquet."
    ),
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="Load the valid rows; write rejects to a CSV."
    ),
    rejects: Path = typer.Option(
        Path("var/rejects.csv"), help="Where --skip-invalid writes rejected rows."
    ),
    refresh_health: bool = typer.Option(
        True,
        "--refresh/--no-refresh",
        help="Recompute the affected tutors' health right away (else the scheduler does it).",
    ),
) -> None:
    """Import the data contract files (idempotent upserts; nothing loads if any row is invalid)."""
    settings = get_settings()
    engine = create_db_engine(settings.resolved_database_url())
    try:
        with RichProgress() as progress:
            report = importer.import_directory(
                engine,
                directory=directory,
                now=SystemClock().now(),
                skip_invalid=skip_invalid,
                progress=progress,
            )
    except importer.ImportRejected as rejected:
        print_errors(rejected.report)
        err_console.print(
            f"[red]Import rejected:[/red] {rejected.message}. Fix the rows or use --skip-invalid."
        )
        raise typer.Exit(2) from None
    except AppError as exc:
        err_console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(2) from None
    print_report(report)
    if report.error_count:
        importer.write_rejects(report.errors, rejects)
        err_console.print(
            f"[yellow]{report.rejected_rows:,} row(s) skipped[/yellow]; reasons in {rejects}"
        )
    if refresh_health:
        from tutorpulse.engagement.cli import refresh_until_done

        refresh_until_done(settings)
