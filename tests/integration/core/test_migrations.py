"""The migrations build exactly the schema the models describe, both ways."""

from __future__ import annotations

from datetime import date

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, MetaData, Table, insert, inspect, text

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


def test_last_completed_day_is_backfilled_from_the_daily_rollups(fresh_engine: Engine) -> None:
    """0005 adds ``tutor_health.last_completed_on`` and fills it for existing snapshots:
    the last day with a completed session up to the snapshot's local day."""
    engine = fresh_engine
    migrate.upgrade(engine, "0004_session_risk_student")
    now = "2025-03-01 12:00:00"
    with engine.begin() as conn:
        for tutor_id in (1, 2):
            conn.execute(
                text(
                    "INSERT INTO tutor (id, external_id, name, email, timezone, status, subjects, joined_on, "
                    "created_at, updated_at) VALUES (:id, :ext, 'T', :email, 'UTC', 'active', '[]', '2025-01-01', "
                    ":now, :now)"
                ),
                {"id": tutor_id, "ext": f"t{tutor_id}", "email": f"t{tutor_id}@x.test", "now": now},
            )
            conn.execute(
                text(
                    "INSERT INTO tutor_health (tutor_id, as_of, computed_at, local_day, "
                    "sessions_7d, sessions_30d, first_session_count, poor_first_session_flag, "
                    "current_login_streak, longest_login_streak, logins_7d, logins_30d, "
                    "active_days_7d, active_days_30d, risk_drivers, sessions_total) "
                    "VALUES (:id, :now, :now, '2025-03-01', 0, 0, 0, false, 0, 0, 0, 0, 0, 0, "
                    "'[]', 0)"
                ),
                {"id": tutor_id, "now": now},
            )
        # The 0004 daily table as the database has it: every counter NOT NULL, zero here.
        daily = Table("tutor_daily", MetaData(), autoload_with=conn)
        zeros = {c.name: 0 for c in daily.columns if c.name not in ("tutor_id", "day")}
        for day, completed in (
            (date(2025, 2, 10), 1),
            (date(2025, 2, 20), 0),
            (date(2025, 3, 2), 1),
        ):
            values = {**zeros, "tutor_id": 1, "day": day, "sessions_completed": completed}
            conn.execute(insert(daily).values(values))
    migrate.upgrade(engine)
    with engine.connect() as conn:
        rows = dict(
            conn.execute(text("SELECT tutor_id, last_completed_on FROM tutor_health")).all()
        )
    # 2025-03-02 is after the snapshot's local day; tutor 2 never completed a session.
    assert {k: None if v is None else str(v)[:10] for k, v in rows.items()} == {
        1: "2025-02-10",
        2: None,
    }
