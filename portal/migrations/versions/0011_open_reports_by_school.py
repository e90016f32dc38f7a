"""The open reports by time: the inbox finds bursts to one school among the last days' (issue 14).

The inbox lists a burst (many reports to one school close together) as one group. Finding
them counts the open reports of the last days per school: a range of this index alone, not
every open report (bench/inbox.py measures it).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 16:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As portal.models.OPEN_REPORT (a migration keeps its own copy: models change, it must not).
OPEN_REPORT = "status <> 'closed' AND erased_at IS NULL"


def upgrade() -> None:
    op.create_index(
        "ix_reports_open_school",
        "reports",
        [
            "created_at",
            "school_pk",
            "priority",
            "id",
            "inbox_id",
            "status",
            "category",
            "assignee_id",
        ],
        sqlite_where=sa.text(OPEN_REPORT),
        postgresql_where=sa.text(OPEN_REPORT),
    )


def downgrade() -> None:
    op.drop_index("ix_reports_open_school", table_name="reports")
