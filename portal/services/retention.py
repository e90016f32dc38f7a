"""Retention (design flow 6): closed reports are erased after a configurable period.

Erasure destroys a report's wrapped keys, its receipt lookup and its message rows, and
coarsens its times to their month (`reports.erase_report`); the triage metadata stays for the
figures. Meant for cron:
`flask --app portal reports purge`, as often as you like: a second run finds nothing to do.

Backups made before the erasure still hold the keys: keep them no longer than the retention
period (docs/crypto.md, "Limits"). On PostgreSQL run VACUUM after a large purge. On SQLite the
job ends with a checkpoint that empties the write-ahead log: until then the WAL file holds the
pages as they were before the erasure, keys and all (tests/test_at_rest_scenario.py).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from portal import clock
from portal.enums import AuditAction, Status
from portal.models import Report
from portal.services import audit, reports

logger = logging.getLogger(__name__)
BATCH = 500  # reports erased per transaction: short locks, bounded memory


def purge_closed_reports(
    session: Session,
    *,
    older_than: timedelta,
    now: datetime | None = None,
    server_secret: str,
    batch: int = BATCH,
) -> int:
    """Erase every report closed more than `older_than` ago and not erased yet; the count.

    Commits every `batch` reports, then puts one PURGE record with the count on the audit log
    (never which reports: their ids would outlive them there). A run that stops half-way has
    committed the batches before; the next run erases the rest and records its own count.
    """
    if older_than <= timedelta(0):
        raise ValueError("the retention period must be positive")
    cutoff = (now or clock.now()) - older_than
    due = (
        select(Report)
        .where(
            Report.status == Status.CLOSED,
            Report.closed_at < cutoff,
            Report.erased_at.is_(None),
        )
        .order_by(Report.id)
        .limit(batch)
        .options(selectinload(Report.entries))
        # PostgreSQL: lock the rows, so a report reopened meanwhile waits or is not taken.
        .with_for_update(of=Report)
    )
    erased = 0
    while True:
        found = session.scalars(due).all()
        if not found:
            break
        for report in found:
            reports.erase_report(session, report, commit=False)
        session.commit()  # erased reports leave the query: the next batch is the next ones
        erased += len(found)
    audit.record_and_commit(
        session,
        AuditAction.PURGE,
        # To the minute, as every time staff read (issue 20).
        detail={"count": erased, "closed_before": cutoff.isoformat(timespec="minutes")},
        server_secret=server_secret,
    )
    if erased:
        empty_sqlite_wal(session)
    return erased


def empty_sqlite_wal(session: Session) -> None:
    """On SQLite, copy the write-ahead log into the database and truncate it to nothing.

    The erased pages, overwritten in the database file (secure_delete), are otherwise still
    whole in the WAL's older frames. It waits for readers (the busy timeout); if some still
    read, the next purge (or SQLite's own checkpoints) finishes the job.
    """
    engine = session.get_bind().engine
    if engine.dialect.name != "sqlite":
        return
    # A connection of its own, outside any transaction (a checkpoint is no change to commit).
    with engine.connect() as connection:
        busy, _frames, _moved = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
    if busy:
        logger.warning("the WAL could not be emptied after a purge: readers were busy")
