"""A crash under load loses no acknowledged report: every receipt shown opens its report (P4)."""

from __future__ import annotations

import http.client
import threading
import time
from pathlib import Path

import pytest

from tests.prod.servers import (
    Browser,
    Server,
    database,
    gunicorn,
    portal_env,
    prepare,
)

CLIENTS = 6
RECEIPTS_BEFORE_KILL = 24
LOAD_SECONDS = 20  # at most: the kill comes as soon as enough receipts were shown


def load_then_kill(server: Server, code: str) -> tuple[dict[str, str], list[str]]:
    """Children send reports from CLIENTS threads; the server is killed under that load.

    Returns the receipts shown before the kill (receipt -> text) and what went wrong before
    it (nothing should: after it, every kind of failure is expected)."""
    shown: dict[str, str] = {}
    wrong: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def child(number: int) -> None:
        browser = Browser()
        for attempt in range(10_000):
            if stop.is_set():
                return
            text = f"Меня бьют на перемене, отчёт {number}-{attempt}. Мені ұрады."
            try:
                reply = browser.send_report(server.url, code, text)
                receipt = reply.receipt()
            except (OSError, http.client.HTTPException, AssertionError) as exc:
                receipt, reply_text = None, f"{type(exc).__name__}: {exc}"
            else:
                reply_text = f"{reply.status} without a receipt"
            with lock:
                if receipt:
                    shown[receipt] = text  # only once the whole page has arrived
                elif not stop.is_set():
                    wrong.append(reply_text)
            if not receipt:
                time.sleep(0.05)  # the server is gone: no busy loop until told to stop

    threads = [threading.Thread(target=child, args=(n,), daemon=True) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + LOAD_SECONDS
    while len(shown) < RECEIPTS_BEFORE_KILL and time.monotonic() < deadline:
        time.sleep(0.02)
    with lock:
        before_kill = dict(shown)
        errors_before_kill = list(wrong)
        stop.set()  # what fails from now on is the crash's doing
    # Killed while the children keep sending: some requests are in flight right now.
    server.kill_hard()
    for thread in threads:
        thread.join(30)
    return before_kill, errors_before_kill


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_every_receipt_shown_before_a_kill_opens_its_report(tmp_path: Path, kind: str) -> None:
    with database(kind, tmp_path / "db") as url:
        prepared = prepare(url, tmp_path)
        env = portal_env(url, tmp_path / "instance")
        with gunicorn(env, tmp_path / "first") as server:
            shown, wrong = load_then_kill(server, prepared.code)
            assert server.process.returncode is not None, "the server was killed"
        assert wrong == [], "sends failed before the crash"
        assert len(shown) >= RECEIPTS_BEFORE_KILL, f"the load was too slow: {len(shown)}"
        # The same database, served again after the crash.
        with gunicorn(env, tmp_path / "second") as restarted:
            browser = Browser()
            lost = [
                receipt
                for receipt, text in shown.items()
                if not browser.check(restarted.url, receipt).shows(text)
            ]
        assert lost == [], f"{len(lost)} of {len(shown)} acknowledged reports lost"
