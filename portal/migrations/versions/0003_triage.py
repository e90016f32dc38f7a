"""Triage: login throttling, school accounts, assignment, referrals, the audit log.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 11:24:50.155035
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "action",
            sa.Enum(
                "login",
                "login_failed",
                "logout",
                "report_opened",
                "reply",
                "note",
                "status",
                "priority",
                "assign",
                "export",
                "purge",
                "keys",
                "staff",
                "inbox",
                name="auditaction",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_email", sa.String(length=254), nullable=False),
        sa.Column("report_public_id", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.String(length=2000), nullable=False),
        sa.Column("chain", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["staff.id"],
            name=op.f("fk_audit_events_actor_id_staff"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
        sa.UniqueConstraint("chain", name=op.f("uq_audit_events_chain")),
        sa.UniqueConstraint("seq", name=op.f("uq_audit_events_seq")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_action"), ["action"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_events_report_public_id"), ["report_public_id"], unique=False
        )

    op.create_table(
        "staff_schools",
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("school_pk", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_pk"],
            ["schools.id"],
            name=op.f("fk_staff_schools_school_pk_schools"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
            name=op.f("fk_staff_schools_staff_id_staff"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("staff_id", "school_pk", name=op.f("pk_staff_schools")),
    )
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("assignee_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "referred_to",
                sa.Enum(
                    "police",
                    "social_services",
                    "school_psychologist",
                    "health",
                    "other",
                    name="agency",
                    native_enum=False,
                ),
                nullable=True,
            )
        )
        batch_op.create_index(batch_op.f("ix_reports_assignee_id"), ["assignee_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_reports_assignee_id_staff"),
            "staff",
            ["assignee_id"],
            ["id"],
            ondelete="SET NULL",
        )

    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_totp_step", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_column("last_totp_step")
        batch_op.drop_column("last_login_at")
        batch_op.drop_column("locked_until")
        batch_op.drop_column("failed_logins")

    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_reports_assignee_id_staff"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_reports_assignee_id"))
        batch_op.drop_column("referred_to")
        batch_op.drop_column("assignee_id")
        batch_op.drop_column("answered_at")

    op.drop_table("staff_schools")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_report_public_id"))
        batch_op.drop_index(batch_op.f("ix_audit_events_action"))

    op.drop_table("audit_events")
