"""analytics: the trend and heatmap cubes (stored aggregates behind trends and heatmap)

Revision ID: 0007_trend_cube
Revises: 0006_churn_score_daily
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_trend_cube"
down_revision: str | None = "0006_churn_score_daily"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COUNTERS = (
    "eng_sum",
    "eng_n",
    "eng_sq",
    "emp_sum",
    "emp_n",
    "emp_sq",
    "clar_sum",
    "clar_n",
    "clar_sq",
    "sat_sum",
    "sat_n",
    "sat_sq",
    "rat_sum",
    "rat_n",
    "rat_sq",
    "done_n",
    "due_n",
    "tutor_ns_n",
    "student_ns_n",
    "tutor_rs_n",
    "tech_hit_n",
    "tech_base_n",
    "login_n",
    "event_n",
)


def upgrade() -> None:
    op.create_table(
        "trend_cube",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("field", sa.String(length=20), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("hour", sa.SmallInteger(), nullable=True),
        sa.Column("subject", sa.String(length=64), nullable=True),
        sa.Column("cohort", sa.String(length=64), nullable=True),
        *(sa.Column(name, sa.Float(), nullable=True) for name in _COUNTERS),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trend_cube")),
    )
    op.create_index(
        "ix_trend_cube_field_source_day", "trend_cube", ["field", "source", "day"], unique=False
    )
    op.create_table(
        "heatmap_cube",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("utc_hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("hour", sa.SmallInteger(), nullable=False),
        *(
            sa.Column(f"{metric}_{part}", sa.Float(), nullable=True)
            for metric in ("engagement", "quality", "technical", "no_show")
            for part in ("sum", "n")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_heatmap_cube")),
    )
    op.create_index(op.f("ix_heatmap_cube_utc_hour"), "heatmap_cube", ["utc_hour"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_heatmap_cube_utc_hour"), table_name="heatmap_cube")
    op.drop_table("heatmap_cube")
    op.drop_index("ix_trend_cube_field_source_day", table_name="trend_cube")
    op.drop_table("trend_cube")
