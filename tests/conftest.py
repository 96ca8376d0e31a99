"""Shared fixtures: a migrated database on SQLite (default) or PostgreSQL.

Set ``TUTORPULSE_TEST_DATABASE_URL`` (e.g. ``postgresql://postgres@127.0.0.1/tp_test``)
and every database test runs on that server instead. The schema is created once
per test session through Alembic; each test runs inside a transaction that is
rolled back, so tests never see each other's rows.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests.scratch import postgres_database, scratch_engine
from tutorpulse.core import migrate
from tutorpulse.core.db import create_db_engine
from tutorpulse.core.settings import normalise_database_url

TEST_DATABASE_URL = os.environ.get("TUTORPULSE_TEST_DATABASE_URL", "")


# SQLite always; PostgreSQL too when the variable is set (CI sets it).
BACKENDS = ["sqlite"] + (["postgresql"] if TEST_DATABASE_URL.startswith("postgres") else [])


def pytest_report_header() -> str:
    return f"tutorpulse test databases: {', '.join(BACKENDS)}"


@pytest.fixture(scope="session", params=BACKENDS)
def database_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def database_url(database_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if database_backend == "postgresql":
        url = normalise_database_url(TEST_DATABASE_URL)
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        if worker:  # pytest-xdist: a database of its own per worker
            with postgres_database(url, worker) as own:
                yield own
        else:
            yield url
        return
    path: Path = tmp_path_factory.mktemp("db") / "test.db"
    yield f"sqlite:///{path}"


@pytest.fixture(scope="session")
def engine(database_url: str, database_backend: str) -> Iterator[Engine]:
    eng = create_db_engine(database_url)
    if database_backend == "postgresql":
        # A clean schema per test session, whatever an earlier run left behind.
        with eng.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
    migrate.upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """A session bound to an outer transaction that is rolled back after the test.

    Code under test may call ``commit()``: it releases a SAVEPOINT, not the outer
    transaction, so nothing leaks between tests.
    """
    connection = engine.connect()
    outer = connection.begin()
    session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def fresh_engine(database_url: str, database_backend: str, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a brand-new, empty database of the engine under test."""
    yield from scratch_engine(database_url, database_backend, tmp_path, "fresh")
