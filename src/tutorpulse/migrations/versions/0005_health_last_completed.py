"""tutor health: the last local day with a completed session

Revision ID: 0005_health_last_completed
Revises: 0004_session_risk_student
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_health_last_completed"
down_revision: str | None = "0004_session_risk_student"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tutor_health", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_completed_on", sa.Date(), nullable=True))
    # Existing snapshots get the value from the daily rollups the refresh computes it from.
    op.execute(
        "UPDATE tutor_health SET last_completed_on = ("
        " SELECT max(d.day) FROM tutor_daily d"
        " WHERE d.tutor_id = tutor_health.tutor_id AND d.sessions_completed > 0"
        " AND (tutor_health.local_day IS NULL OR d.day <= tutor_health.local_day))"
    )


def downgrade() -> None:
    with op.batch_alter_table("tutor_health", schema=None) as batch_op:
        batch_op.drop_column("last_completed_on")
