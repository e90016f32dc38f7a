"""Time from a stored P1 report to its notification received by an SMTP server, under a flood.

Run by hand (`make bench` runs it on the defaults):
    python bench/notify.py [--seconds 40] [--p1-every 2] [--ordinary 20] [--pace 3]
It serves the portal with gunicorn (gunicorn.conf.py, production Argon2id) on SQLite, as
bench/flood.py does, starts an SMTP server on 127.0.0.1 (aiosmtpd, tests/mail.py) and one
notification worker (`flask --app portal notify run`, its default 2 s poll), and for `--seconds`
runs bench/flood.py's scenario (b): its ordinary children at a human pace plus one client
hammering the form from one address, while a child in danger sends a P1 report every
`--p1-every` seconds, each from an address of its own. The per-school limit is raised (the
children all come to a few demo schools; the limits are bench/flood.py's subject, not this).
The latency of a notification is the SMTP server's clock at its arrival minus the probe's clock
when its report was answered (stored), matched by the receipt (one machine, one clock; the
report's own times are kept to the minute only). Prints n, p50/p95/max, the goal (p95 <= 60 s),
the worker's CPU seconds, and the machine's load (/proc/loadavg) before and after.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import child as child_bench
import crypto as crypto_bench
import flood

sys.path.insert(0, str(child_bench.REPO))
from tests.mail import MailCatcher

GOAL_P95_SECONDS = 60.0
HAMMER = flood.address(255, 0, 1)
MESSAGE_ID = re.compile(r"<qr111-(\d+)-")
DIGITS = re.compile(rb"<span>(\d{4})</span>")


class NotifyingBackend(flood.Backend):
    """bench/flood.py's embedded backend, sending mail to our SMTP server."""

    def __init__(self, instance: Path, smtp_url: str) -> None:
        super().__init__("SQLite + memory limits", instance)
        self.smtp_url = smtp_url

    def env(self, port: int = 5000) -> dict[str, str]:
        """flood's environment, plus the SMTP server and a per-school limit out of the way."""
        env = super().env(port)
        env.update(PORTAL_SMTP_URL=self.smtp_url, PORTAL_LIMIT_SCHOOL="100000/hour")
        return env


def p1_child(
    port: int, paths: list[str], every: float, deadline: float, sent: list[tuple[str, float]]
) -> None:
    """A child in danger every `every` seconds, each from an address of its own."""
    browser = child_bench.Browser(port)
    try:
        for number in range(flood.MAX_REQUESTS_PER_CONNECTION):
            started = time.perf_counter()
            if started >= deadline:
                break
            client = flood.address(250, number // 256, number)
            try:
                token, action = flood.load_form(browser, paths[number % len(paths)], client)
                body = urlencode(
                    {
                        "csrf_token": token,
                        "category": "home",
                        "message": "Мені үйде ұрады, қауіпті. Меня бьют дома.",
                        "danger": "yes",
                        "grade": "",
                        "homepage": "",
                    }
                ).encode()
                reply = flood.post_form(browser, action, body, client)
                digits = DIGITS.findall(reply.body.split(b'class="digits"', 1)[-1])[:4]
                if reply.status == 200 and len(digits) == 4:
                    # Answered: stored (and committed) before the thank-you page was sent.
                    sent.append((b"".join(digits).decode(), time.time()))
            except (OSError, child_bench.WrongReply):
                pass
            time.sleep(max(0.0, every - (time.perf_counter() - started)))
    finally:
        browser.close()


def waiting(database_url: str) -> int:
    """Deliveries not sent yet (and events not fanned out)."""
    from sqlalchemy import create_engine, func, select

    from portal.enums import DeliveryStatus
    from portal.models import NotificationDelivery, NotificationEvent

    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            pending = connection.scalar(
                select(func.count()).where(NotificationDelivery.status == DeliveryStatus.PENDING)
            )
            unfanned = connection.scalar(
                select(func.count()).where(NotificationEvent.fanned_out_at.is_(None))
            )
    finally:
        engine.dispose()
    return (pending or 0) + (unfanned or 0)


def deliveries_of(database_url: str, sent: list[tuple[str, float]]) -> dict[int, float]:
    """Each e-mail delivery of the probes' reports, with the instant its report was answered.

    A report's stored times are to the minute (privacy): the probe's own clock at the answer
    is the instant it was stored, its receipt (one Argon2id each, after the run) finds it."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from portal.database import make_engine
    from portal.models import NotificationDelivery, NotificationEvent
    from portal.services import reports

    engine = make_engine(database_url)
    found: dict[int, float] = {}
    try:
        with Session(engine) as session:
            for receipt, answered in sent:
                stretched = reports.stretch_receipt(receipt, flood.SECRET_KEY)
                report = None if stretched is None else reports.find_by_receipt(session, stretched)
                if report is None:
                    continue
                for delivery in session.scalars(
                    select(NotificationDelivery.id)
                    .join(NotificationEvent, NotificationEvent.id == NotificationDelivery.event_id)
                    .where(NotificationEvent.key == f"p1:{report.public_id}")
                ):
                    found[delivery] = answered
    finally:
        engine.dispose()
    return found


def loadavg() -> str:
    """The machine's 1-minute load and core count: other engineers share it."""
    try:
        one = Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "load unknown"
    return f"load {one} on {os.cpu_count()} cores"


def main(argv: list[str] | None = None) -> int:
    """Run the flood with P1 reports among it; print the notification latencies."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=40.0, help="the flood's length (40)")
    parser.add_argument("--p1-every", type=float, default=2.0, help="seconds between P1s (2)")
    parser.add_argument("--ordinary", type=int, default=20, help="ordinary children (20)")
    parser.add_argument("--pace", type=float, default=3.0, help="their seconds between sends (3)")
    parser.add_argument("--hammer-connections", type=int, default=4, help="the hammer's (4)")
    args = parser.parse_args(argv)
    catcher = MailCatcher()
    catcher.start()
    load_before = loadavg()
    with tempfile.TemporaryDirectory(prefix="qr111-notify-bench-") as folder:
        instance = Path(folder) / "instance"
        instance.mkdir()
        backend = NotifyingBackend(instance, catcher.url)
        codes, _totp = flood.prepare(backend)
        paths = [child_bench.poster_path(code) for code in codes]
        log = Path(folder) / "gunicorn.log"
        with flood.gunicorn(backend, log) as server:
            worker = subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "portal", "notify", "run"],
                cwd=child_bench.REPO,
                env=backend.env(server.port),
                stderr=subprocess.DEVNULL,
            )
            try:
                sent = run_flood(server, paths, args)
                deadline = time.monotonic() + 180
                while waiting(backend.database_url) and time.monotonic() < deadline:
                    time.sleep(0.5)
                worker_cpu = child_bench.tree_cpu(worker.pid)
            finally:
                worker.send_signal(signal.SIGTERM)
                worker.wait(timeout=60)
        stored = deliveries_of(backend.database_url, sent)
    catcher.stop()
    latencies = []
    for mail in catcher.received:
        found = MESSAGE_ID.search(mail.message["Message-ID"] or "")
        if found and int(found.group(1)) in stored:
            latencies.append(mail.wall - stored[int(found.group(1))])
    print_figures(latencies, len(stored), len(sent), worker_cpu, args, load_before)
    print(
        f"  messages the SMTP server took in all (the children's P1s too): {len(catcher.received)}"
    )
    return 0 if latencies and crypto_bench.Timing("n", latencies).p95 <= GOAL_P95_SECONDS else 1


def hammer(port: int, path: str, connections: int, seconds: float) -> None:
    """One address sending the form as fast as the server answers, over `connections`
    connections (bench/flood.py's (b) attacker), in a process of its own."""

    def connection(seed: int, deadline: float) -> None:
        browser, rng, client = child_bench.Browser(port), random.Random(seed), HAMMER
        try:
            token, action = flood.load_form(browser, path, client)
            body = flood.form_fields(token, rng)
            while time.perf_counter() < deadline:
                try:
                    flood.post_form(browser, action, body, client)
                except OSError:
                    time.sleep(0.05)  # a refused connection must not become a busy loop
        except (OSError, child_bench.WrongReply):
            pass
        finally:
            browser.close()

    deadline = time.perf_counter() + seconds
    threads = [threading.Thread(target=connection, args=(n, deadline)) for n in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def run_flood(
    server: child_bench.Server, paths: list[str], args: argparse.Namespace
) -> list[tuple[str, float]]:
    """bench/flood.py's (b): ordinary children and a hammer, with P1 reports among them."""
    spawn = multiprocessing.get_context("spawn")
    attacker = spawn.Process(
        target=hammer, args=(server.port, paths[-1], args.hammer_connections, args.seconds)
    )
    attacker.start()
    time.sleep(1.0)  # it starts up (imports) before the measured clients do
    deadline = time.perf_counter() + args.seconds
    sent: list[tuple[str, float]] = []
    tallies = [flood.Tally() for _ in range(args.ordinary)]
    threads = [
        threading.Thread(
            target=flood.ordinary_child,
            args=(server.port, n, paths[:-1], args.pace, deadline, tallies[n]),
        )
        for n in range(args.ordinary)
    ]
    threads.append(
        threading.Thread(
            target=p1_child, args=(server.port, paths[:-1], args.p1_every, deadline, sent)
        )
    )
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    attacker.join()
    return sent


def print_figures(
    latencies: list[float],
    expected: int,
    danger: int,
    worker_cpu: float | None,
    args: argparse.Namespace,
    load_before: str,
) -> None:
    """The table: n, p50/p95/max, the goal, the worker's CPU, the machine's load."""
    print(
        f"\nNotifications under bench/flood.py's (b) for {args.seconds:.0f} s "
        f"({args.ordinary} children, a hammer of {args.hammer_connections} connections)"
    )
    print(
        f"  probes (a child in danger every {args.p1_every:.0f} s): {danger} stored, "
        f"{expected} notifications due, {len(latencies)} received"
    )
    if latencies:
        timing = crypto_bench.Timing("notify", latencies)
        verdict = "met" if timing.p95 <= GOAL_P95_SECONDS else "NOT met"
        print(
            f"  stored -> received: p50 {timing.median:.2f} s, p95 {timing.p95:.2f} s, "
            f"max {max(latencies):.2f} s; goal p95 <= {GOAL_P95_SECONDS:.0f} s: {verdict}"
        )
    cpu = "unknown" if worker_cpu is None else f"{worker_cpu:.2f} s"
    print(f"  the worker's CPU: {cpu} (start-up included)")
    print(f"  machine: before {load_before}; after {loadavg()}")


if __name__ == "__main__":
    sys.exit(main())
