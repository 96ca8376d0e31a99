"""Scratch databases for tests that need one of their own, on the engine under test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from tutorpulse.core.db import create_db_engine


@contextmanager
def postgres_database(url: str, suffix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database named ``<url's database>_<suffix>``; dropped after."""
    base = make_url(url)
    name = f"{base.database}_{suffix}"
    admin = create_db_engine(base.set(database="postgres").render_as_string(False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(False)
    finally:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def scratch_engine(database_url: str, backend: str, folder: Path, name: str) -> Iterator[Engine]:
    """An engine on a brand-new, empty database (a file in ``folder`` on SQLite)."""
    if backend == "sqlite":
        eng = create_db_engine(f"sqlite:///{folder / (name + '.db')}")
        try:
            yield eng
        finally:
            eng.dispose()
            (folder / (name + ".db")).unlink(missing_ok=True)
        return
    with postgres_database(database_url, name) as url:
        eng = create_db_engine(url)
        try:
            yield eng
        finally:
            eng.dispose()
