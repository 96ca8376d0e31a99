"""analytics snapshot: stored default views of the analytics endpoints

Revision ID: 0003_analytics_snapshot
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_analytics_snapshot"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "analytics_snapshot",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("compute_seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_analytics_snapshot")),
    )


def downgrade() -> None:
    op.drop_table("analytics_snapshot")
