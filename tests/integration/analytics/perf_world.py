"""Generated worlds for the performer / first-session / reliability truth tests.

Each world is generated once per test process (``world``) and imported into a database
of its own per engine (``load``). 6,000 tutors × 180 days, seed 5, ``now`` 2026-06-01:
enough churn events after failed first sessions for a Cox CI of useful width.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from tempfile import mkdtemp

from sqlalchemy import Engine

from tests.scratch import scratch_engine
from tutorpulse.core import migrate
from tutorpulse.core.settings import Settings
from tutorpulse.tutors.importer import import_directory
from tutorpulse.world.config import WorldConfig
from tutorpulse.world.generator import World, generate_world
from tutorpulse.world.writer import write_world

NOW = datetime(2026, 6, 1, tzinfo=UTC)
TUTORS, DAYS, SEED = 6000, 180, 5


@lru_cache(maxsize=2)
def world(effects: bool) -> tuple[World, Path]:
    """The world and a folder holding its files (generated once per process)."""
    w = generate_world(WorldConfig(tutors=TUTORS, days=DAYS, seed=SEED, now=NOW, effects=effects))
    folder = Path(mkdtemp(prefix=f"tp-perf-world-{int(effects)}-"))
    write_world(w, folder, fmt="parquet")
    return w, folder


def settings(database_url: str) -> Settings:
    """Analyses over the whole simulated window, no cache."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        analytics_cache_seconds=0,
        analytics_window_days=DAYS,
        analytics_first_session_days=DAYS,
    )


def load(database_url: str, backend: str, folder: Path, name: str) -> Iterator[Engine]:
    """An engine on a new database holding the world in ``folder``; dropped afterwards."""
    for eng in scratch_engine(database_url, backend, folder, name):
        migrate.upgrade(eng)
        report = import_directory(eng, directory=folder, now=NOW)
        assert report.error_count == 0
        yield eng
