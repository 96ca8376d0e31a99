"""The planted and null perf worlds, imported once per engine for every module using them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.integration.analytics import perf_world as pw


@pytest.fixture(scope="session")
def planted(database_url: str, database_backend: str) -> Iterator[tuple[Any, Engine]]:
    """The world with planted effects, in a database of its own (analyses only read it)."""
    w, folder = pw.world(True)
    for eng in pw.load(database_url, database_backend, folder, "perf_planted"):
        yield w, eng


@pytest.fixture(scope="session")
def null(database_url: str, database_backend: str) -> Iterator[tuple[Any, Engine]]:
    """The same world with planted effects switched off."""
    w, folder = pw.world(False)
    for eng in pw.load(database_url, database_backend, folder, "perf_null"):
        yield w, eng
