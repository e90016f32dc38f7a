"""Figures from snapshots (issue 20): each closed month counted once, never again.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 14:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "figure_months",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("month", name=op.f("pk_figure_months")),
    )
    op.create_table(
        "figure_counts",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("region", sa.String(length=200), nullable=False),
        sa.Column(
            "category",
            sa.Enum(
                "home",
                "school",
                "bullying",
                "online",
                "sexual",
                "self_harm",
                "other",
                name="category",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "priority",
            sa.Enum("p1", "p2", "p3", name="priority", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "new",
                "in_progress",
                "referred",
                "closed",
                name="status",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["month"],
            ["figure_months.month"],
            name=op.f("fk_figure_counts_month_figure_months"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "month", "region", "category", "priority", "status", name=op.f("pk_figure_counts")
        ),
    )


def downgrade() -> None:
    # The snapshots go; the next view of the figures counts the closed months again.
    op.drop_table("figure_counts")
    op.drop_table("figure_months")
