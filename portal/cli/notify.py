"""The notification worker: `flask --app portal notify run` (long-running; systemd unit in
deploy/systemd/qr111-notify.service) and `notify once`."""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable
from datetime import timedelta
from types import FrameType
from typing import IO, Any, TypeVar

import click
from flask.cli import AppGroup

from portal.services import notify
from portal.web.context import get_config, get_session

notify_cli = AppGroup("notify", help="Tell staff of new and unopened P1 reports (e-mail, webhook).")

LOCK_FILE = "notify-worker.lock"
F = TypeVar("F", bound=Callable[..., None])


def _policy(retry_seconds: float, lease_seconds: float) -> notify.RetryPolicy:
    return notify.RetryPolicy(
        first_delay=timedelta(seconds=retry_seconds), lease=timedelta(seconds=lease_seconds)
    )


_options = [
    click.option(
        "--retry-seconds",
        type=click.FloatRange(min=0.1),
        default=30.0,
        show_default=True,
        help="First wait after a failed send; it doubles up to 30 minutes.",
    ),
    click.option(
        "--lease-seconds",
        type=click.FloatRange(min=1),
        default=notify.LEASE.total_seconds(),
        show_default=True,
        help="How long a claimed message is a worker's own; then a killed worker's lapses.",
    ),
]


def _with_options(command: F) -> F:
    for option in reversed(_options):
        command = option(command)
    return command


@notify_cli.command("run")
@click.option(
    "--poll-seconds",
    type=click.FloatRange(min=0.05),
    default=2.0,
    show_default=True,
    help="Pause when nothing is due (a P1 leaves within this much of being stored).",
)
@_with_options
def run_command(poll_seconds: float, retry_seconds: float, lease_seconds: float) -> None:
    """Send notifications until stopped (SIGTERM or Ctrl-C end it after the current message)."""
    config = get_config()
    if config.notifications.smtp is None and config.notifications.webhook_url is None:
        click.echo("nothing to send with: set PORTAL_SMTP_URL and/or PORTAL_WEBHOOK_URL", err=True)
        sys.exit(2)
    lock = _one_worker_on_sqlite(config.database_url, config.instance_path)
    stopped = _stop_signal()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    worker = f"{socket.gethostname()}:{os.getpid()}"
    click.echo(f"notify worker {worker} running", err=True)
    try:
        notify.run(
            get_session(),
            config,
            worker,
            poll_seconds=poll_seconds,
            policy=_policy(retry_seconds, lease_seconds),
            keep_going=lambda: not stopped.is_set(),
            sleep=stopped.wait,  # a pause (a poll, an outage's backoff) ends at SIGTERM
        )
    finally:
        if lock is not None:
            lock.close()


@notify_cli.command("once")
@_with_options
def once_command(retry_seconds: float, lease_seconds: float) -> None:
    """One round: add what is due, send it, print what was done."""
    config = get_config()
    worker = f"{socket.gethostname()}:{os.getpid()}"
    with notify.senders_for(config) as senders:
        tick = notify.run_once(
            get_session(), config, worker, senders, _policy(retry_seconds, lease_seconds)
        )
    click.echo(
        f"events {tick.events}, deliveries {tick.deliveries}, sent {tick.sent}, "
        f"failed {tick.failed}, dropped {tick.dropped}"
    )


def _stop_signal() -> threading.Event:
    """Set by the first SIGTERM or Ctrl-C: the loop ends after its current step."""
    stopped = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return stopped


def _one_worker_on_sqlite(database_url: str, instance: os.PathLike[str]) -> IO[str] | None:
    """SQLite has no row locks to share work by: a second worker there is refused."""
    if not database_url.startswith("sqlite"):
        return None
    handle = open(os.path.join(instance, LOCK_FILE), "w")  # noqa: SIM115
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        click.echo("another notify worker runs on this SQLite database: one only", err=True)
        sys.exit(2)
    return handle


@notify_cli.command("catch")
@click.option("--port", type=click.IntRange(1, 65535), default=8025, show_default=True)
def catch_command(port: int) -> None:
    """A mail catcher on 127.0.0.1 for the demo and development: prints each message
    received (decoded), keeps none. Point PORTAL_SMTP_URL at smtp+plain://127.0.0.1:PORT."""
    # aiosmtpd comes with the test extra (make demo installs it), never with production.
    import email
    from email.policy import default

    from aiosmtpd.controller import Controller

    class Printer:
        async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
            mail = email.message_from_bytes(envelope.original_content or b"", policy=default)
            body = mail.get_body(preferencelist=("plain",))
            click.echo(
                f"\n--- mail to {mail['To']} ---\nSubject: {mail['Subject']}\n"
                f"{body.get_content() if body is not None else ''}---",
                err=True,
            )
            return "250 OK"

    controller = Controller(Printer(), hostname="127.0.0.1", port=port)
    controller.start()
    click.echo(f"mail catcher on 127.0.0.1:{port}: staff notifications appear here", err=True)
    _stop_signal().wait()
    controller.stop()
