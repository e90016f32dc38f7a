"""Indexes of the inbox queue: the open queue, each status's list, a school's reports.

The inbox lists reports in priority, then age order, a page at a time. With an index in that
order the database walks it and stops after a page, instead of sorting every matching report;
the counts come from indexes alone. Measured by bench/inbox.py (100,000 reports).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 10:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As portal.models.OPEN_REPORT (a migration keeps its own copy: models change, it must not).
OPEN_REPORT = "status <> 'closed' AND erased_at IS NULL"


def upgrade() -> None:
    # 0002's queue index led with inbox_id: no order to walk for a member of several inboxes.
    op.drop_index("ix_reports_queue", table_name="reports")
    # Its school and assignee indexes lead the wider ones below now.
    op.drop_index("ix_reports_school_pk", table_name="reports")
    op.drop_index("ix_reports_assignee_id", table_name="reports")
    op.create_index(
        "ix_reports_open_queue",
        "reports",
        ["priority", "created_at", "id", "inbox_id", "status", "category", "assignee_id"],
        sqlite_where=sa.text(OPEN_REPORT),
        postgresql_where=sa.text(OPEN_REPORT),
    )
    op.create_index(
        "ix_reports_queue",
        "reports",
        ["status", "erased_at", "priority", "created_at", "id", "inbox_id"],
    )
    op.create_index(
        "ix_reports_school",
        "reports",
        ["school_pk", "status", "erased_at", "inbox_id", "priority", "created_at", "id"],
    )
    op.create_index(
        "ix_reports_assignee",
        "reports",
        [
            "assignee_id",
            "erased_at",
            "status",
            "inbox_id",
            "category",
            "priority",
            "created_at",
            "id",
        ],
    )


def downgrade() -> None:
    op.drop_index("ix_reports_assignee", table_name="reports")
    op.drop_index("ix_reports_school", table_name="reports")
    op.drop_index("ix_reports_queue", table_name="reports")
    op.drop_index("ix_reports_open_queue", table_name="reports")
    op.create_index("ix_reports_school_pk", "reports", ["school_pk"])
    op.create_index("ix_reports_assignee_id", "reports", ["assignee_id"])
    op.create_index("ix_reports_queue", "reports", ["inbox_id", "status", "priority", "created_at"])
