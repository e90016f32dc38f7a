"""Staff enrolment: one-time invitation links for new accounts and TOTP resets.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 10:22:50.526059
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staff_invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column(
            "role",
            sa.Enum("admin", "triage", "school", name="role", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sealed_totp_secret", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["staff.id"],
            name=op.f("fk_staff_invitations_created_by_id_staff"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
            name=op.f("fk_staff_invitations_staff_id_staff"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_staff_invitations_token_hash")),
    )
    with op.batch_alter_table("staff_invitations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_invitations_email"), ["email"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_staff_invitations_staff_id"), ["staff_id"], unique=False
        )

    op.create_table(
        "staff_invitation_schools",
        sa.Column("invitation_id", sa.Integer(), nullable=False),
        sa.Column("school_pk", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["invitation_id"],
            ["staff_invitations.id"],
            name=op.f("fk_staff_invitation_schools_invitation_id_staff_invitations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["school_pk"],
            ["schools.id"],
            name=op.f("fk_staff_invitation_schools_school_pk_schools"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "invitation_id", "school_pk", name=op.f("pk_staff_invitation_schools")
        ),
    )


def downgrade() -> None:
    op.drop_table("staff_invitation_schools")
    with op.batch_alter_table("staff_invitations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_invitations_staff_id"))
        batch_op.drop_index(batch_op.f("ix_staff_invitations_email"))

    op.drop_table("staff_invitations")
