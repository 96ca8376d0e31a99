"""Small generated worlds shared by the world tests (generated once per session)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from tutorpulse.world.config import WorldConfig
from tutorpulse.world.generator import World, generate_world
from tutorpulse.world.writer import write_world

NOW = datetime(2026, 5, 1, tzinfo=UTC)


@pytest.fixture(scope="session")
def small_config() -> WorldConfig:
    return WorldConfig(tutors=1500, days=90, seed=7, now=NOW)


@pytest.fixture(scope="session")
def small_world(small_config: WorldConfig) -> World:
    return generate_world(small_config)


@pytest.fixture(scope="session")
def frames(small_world: World) -> dict[str, pd.DataFrame]:
    return {name: table.to_pandas() for name, table in small_world.tables().items()}


@pytest.fixture(scope="session")
def small_world_dir(small_world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world")
    write_world(small_world, out, fmt="parquet")
    return out


@pytest.fixture(scope="session")
def effects_world() -> World:
    """Large enough for the planted dependences to be unmistakable."""
    return generate_world(WorldConfig(tutors=4000, days=120, seed=11, now=NOW))


@pytest.fixture(scope="session")
def flat_world() -> World:
    """The same world with the planted effects switched off."""
    return generate_world(WorldConfig(tutors=4000, days=120, seed=11, now=NOW, effects=False))
