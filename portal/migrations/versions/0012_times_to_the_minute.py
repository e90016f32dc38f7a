"""Times stored before issue 20 cut as they are cut now: to the minute, an erased report's to
its month, and an erased report's message rows gone.

Since then a report's times, its messages' and its P1 notification's are stored to the minute
(models.MINUTE), and erasure deletes the message rows and keeps only the month of what the
report keeps (reports.erase_report). Rows written before kept the microsecond: a database
reader could match one to a log line or a school network's record of a device. Down keeps the
rows as they are: the seconds are gone for good, which every revision before reads the same.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 16:50:00
"""

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from portal.clock import KAZAKHSTAN

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The columns models.MINUTE stores to the minute, as they are at this revision (a migration
# keeps its own list: the models change, it must not).
MINUTE_COLUMNS = {
    "reports": ("created_at", "updated_at", "answered_at", "closed_at", "erased_at"),
    "report_entries": ("created_at",),
    "notification_events": ("created_at", "fanned_out_at"),
    "notification_deliveries": ("sent_at", "created_at"),
}
ERASED_TIMES = MINUTE_COLUMNS["reports"]
BATCH = 1000


def _utc(value: datetime) -> datetime:
    """A stored time as an aware UTC instant (SQLite hands back naive UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _minute(value: datetime) -> datetime:
    return _utc(value).replace(second=0, microsecond=0)


def _month(value: datetime) -> datetime:
    """The first instant of the value's calendar month in Kazakhstan, in UTC."""
    local = _utc(value).astimezone(KAZAKHSTAN)
    return datetime(local.year, local.month, 1, tzinfo=KAZAKHSTAN).astimezone(UTC)


def _cut(
    table: str, names: Sequence[str], cut: Callable[[datetime], datetime], where: str = ""
) -> None:
    """Write cut(time) into each of the columns `names` of the rows of `table` where it differs."""
    times = sa.table(
        table, sa.column("id"), *(sa.column(n, sa.DateTime(timezone=True)) for n in names)
    )
    query = sa.select(times.c.id, *(times.c[name] for name in names)).order_by(times.c.id)
    if where:
        query = query.where(sa.text(where))
    connection = op.get_bind()
    changed = []
    for row in connection.execute(query):
        values = {name: row._mapping[name] for name in names}
        new = {name: None if value is None else cut(value) for name, value in values.items()}
        if any(value is not None and new[name] != _utc(value) for name, value in values.items()):
            changed.append({"row_id": row.id, **{f"new_{name}": new[name] for name in names}})
    update = (
        sa.update(times)
        .where(times.c.id == sa.bindparam("row_id"))
        .values(
            {name: sa.bindparam(f"new_{name}", type_=sa.DateTime(timezone=True)) for name in names}
        )
    )
    for start in range(0, len(changed), BATCH):
        connection.execute(update, changed[start : start + BATCH])


def upgrade() -> None:
    # An erased report: its message rows go, its times keep their month (as erasure does now).
    op.execute(
        "DELETE FROM report_entries WHERE report_id IN "
        "(SELECT id FROM reports WHERE erased_at IS NOT NULL)"
    )
    _cut("reports", ERASED_TIMES, _month, "erased_at IS NOT NULL")
    for table, names in MINUTE_COLUMNS.items():
        _cut(table, names, _minute)


def downgrade() -> None:
    """Nothing to undo: the rows are valid at 0011 as they are; the seconds stay gone."""
