"""session risk: the student no-show score next to the tutor one

Revision ID: 0004_session_risk_student
Revises: 0003_analytics_snapshot
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_session_risk_student"
down_revision: str | None = "0003_analytics_snapshot"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("session_risk", schema=None) as batch_op:
        batch_op.add_column(sa.Column("student_no_show_probability", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("student_risk_level", sa.String(length=10), nullable=True))
        batch_op.add_column(
            sa.Column(
                "student_drivers",
                sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("student_model_version_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("session_risk", schema=None) as batch_op:
        batch_op.drop_column("student_model_version_id")
        batch_op.drop_column("student_drivers")
        batch_op.drop_column("student_risk_level")
        batch_op.drop_column("student_no_show_probability")
