"""Operator commands for the record: `flask --app portal audit verify|list`, `reports purge`."""

from __future__ import annotations

import sys
from datetime import timedelta

import click
from flask.cli import AppGroup

from portal import clock
from portal.config import MAX_RETENTION_DAYS
from portal.enums import AuditAction
from portal.services import audit, retention
from portal.web.context import get_config, get_session

audit_cli = AppGroup("audit", help="The audit log: check its chain, read it.")
reports_cli = AppGroup("reports", help="Reports at rest: retention.")


@audit_cli.command("verify")
@click.option(
    "--expect-at-least",
    type=click.IntRange(min=0),
    default=0,
    help="The count an earlier run printed: a shorter log lost its newest records.",
)
def audit_verify(expect_at_least: int) -> None:
    """Walk the whole chain; exit 1 with one line per problem if anything was changed."""
    session = get_session()
    total = audit.count(session)
    found = 0
    for problem in audit.iter_problems(
        session, get_config().secret_key, expect_at_least=expect_at_least
    ):
        click.echo(str(problem))
        found += 1
    if found:
        if found >= total > 0:
            click.echo("no record verifies: is this the server secret of this database?", err=True)
        sys.exit(1)
    click.echo(f"audit log intact: {total} records")


@audit_cli.command("list")
@click.option("--limit", type=click.IntRange(1, audit.MAX_PAGE), default=50, show_default=True)
@click.option("--action", type=click.Choice([action.value for action in AuditAction]))
@click.option("--before", "before_seq", type=int, help="Only records older than this seq.")
def audit_list(limit: int, action: str | None, before_seq: int | None) -> None:
    """The newest records first: seq, Kazakhstan time to the minute, action, who, report, detail."""
    events = audit.recent(
        get_session(),
        limit=limit,
        before_seq=before_seq,
        action=AuditAction.parse(action) if action else None,
    )
    for event in events:
        click.echo(
            # To the minute, like the staff's pages: an operator needs no seconds (issue 20).
            f"{event.seq}\t{clock.kazakhstan_minute(event.at)} (Kazakhstan time)\t"
            f"{event.action.value}\t"
            f"{event.actor_email or '-'}\t{event.report_public_id or '-'}\t{event.detail}"
        )
    if len(events) == limit:
        click.echo(f"older records: --before {events[-1].seq}", err=True)


@reports_cli.command("purge")
@click.option(
    "--older-than-days",
    type=click.IntRange(1, MAX_RETENTION_DAYS),
    help="Erase reports closed longer ago than this; default PORTAL_RETENTION_DAYS (90).",
)
def reports_purge(older_than_days: int | None) -> None:
    """Erase closed reports past retention: their keys are destroyed, their text is noise."""
    config = get_config()
    days = older_than_days or config.retention_days
    erased = retention.purge_closed_reports(
        get_session(), older_than=timedelta(days=days), server_secret=config.secret_key
    )
    click.echo(f"{erased} reports erased (closed more than {days} days ago)")
