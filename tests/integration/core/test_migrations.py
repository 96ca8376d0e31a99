"""The migrations build exactly the schema the models describe, both ways."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from tutorpulse.all_models import metadata
from tutorpulse.core import migrate


def test_upgrade_downgrade_upgrade_leaves_no_diff(fresh_engine: Engine) -> None:
    engine = fresh_engine
    migrate.upgrade(engine)
    migrate.downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(engine)
    assert migrate.is_current(engine)
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), metadata
        )
    assert diff == []
    assert set(metadata.tables) <= set(inspect(engine).get_table_names())
