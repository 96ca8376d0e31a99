"""risk: the daily history of churn scores (for the alerts backtest)

Revision ID: 0006_churn_score_daily
Revises: 0005_health_last_completed
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_churn_score_daily"
down_revision: str | None = "0005_health_last_completed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "churn_score_daily",
        sa.Column("tutor_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("churn_probability", sa.Float(), nullable=False),
        sa.Column("churn_risk_level", sa.String(length=10), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=True),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tutor_id"],
            ["tutor.id"],
            name=op.f("fk_churn_score_daily_tutor_id_tutor"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tutor_id", "day", name=op.f("pk_churn_score_daily")),
    )
    op.create_index("ix_churn_score_daily_day", "churn_score_daily", ["day"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_churn_score_daily_day", table_name="churn_score_daily")
    op.drop_table("churn_score_daily")
