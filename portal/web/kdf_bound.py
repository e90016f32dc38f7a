"""At most a configured number of key derivations at once per worker; beyond it, a 503.

Argon2id costs ~15-22 ms of one core and 19 MiB per derivation (it releases the GIL meanwhile):
a flood of reports must not make a worker hold many of them in memory and make every page slow.
The views that derive a key for someone not logged in are decorated with `bounded`, beneath
their rate limits (a request the limits refuse never waits for a slot); they wait a moment for
a slot, and only a few may wait at once, so that waiting requests never take all of a worker's
threads from the staff pages. When no slot frees up, or too many wait already, the kind error
page comes (held back a moment, see WAITING_PER_SLOT), with the typed text and a Retry-After.

The view runs in the request's thread; each Argon2id it computes runs in a thread of a small
per-worker pool whose threads lower their own priority (NICENESS) when they start, and the
request's thread waits for it. Under a flood the derivations then take only the CPU the staff
pages and the cheap refusals leave, instead of sharing it equally (bench/flood.py (c)). Only the
derivation: it releases the GIL, while a niced thread running the rest of the view in Python
would hold the GIL whenever the scheduler left it off the CPU, and every page thread of the
worker would wait for it (priority inversion; it made the staff pages of (c) slower).
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import ServiceUnavailable

from portal.crypto import derivations_run_by
from portal.web.ratelimit import slow_lane_of

P = ParamSpec("P")
R = TypeVar("R")
# How long a request waits for a slot: the derivations queued before it on a busy machine;
# then a quick 503 with the text, rather than a proxy's timeout page that loses it.
WAIT_SECONDS = 2.0
# What the 503 asks browsers and clients to wait before sending again.
RETRY_AFTER_SECONDS = 10
# Requests waiting for a slot, per slot. A waiting request holds one of the worker's threads
# (gunicorn.conf.py: 24): unbounded, a flood of reports parks every thread and the staff pages
# queue behind them (bench/flood.py). Six, with one slot, leave most threads to the pages; fewer
# refuse ordinary bursts of children (tests/prod/test_crash.py sends six at once to two workers).
# A refused request is answered after ratelimit.SLOW_REFUSAL_SECONDS (when a place is free), so
# a client resending at once cannot spin on quick 503s and take the CPU from the slot.
WAITING_PER_SLOT = 6
# How much nicer than the worker a derivation thread makes itself (Linux: per thread). At 10 a
# runnable page thread gets ~9 times a derivation's share of a core (CFS weights 1024 vs 110),
# while a derivation alone still gets a whole idle core. An unprivileged thread may raise its
# nice value but never lower it back: hence threads of their own that do nothing else.
NICENESS = 10
# Receipt checks (reading answers, no message) have places of their own in the queue, fewer,
# and wait less: under a flood of receipts they are refused quickly with the kind 'try again
# in a minute' page (it keeps nothing: no receipt is echoed), while reports and follow-ups keep
# all of WAITING_PER_SLOT and wait WAIT_SECONDS. Before, checks filled the queue's six places
# and new reports behind them got 503s (bench/flood.py (f): 6 of 14, (g): 2 of 14).
CHECKS_WAITING_PER_SLOT = 2
CHECK_WAIT_SECONDS = 0.5
_EXTENSION = "portal.web.kdf_bound"
_log = logging.getLogger(__name__)


class KdfBound:
    """A per-process semaphore of key derivation slots, taken with a short, bounded wait."""

    def __init__(
        self,
        limit: int,
        wait_seconds: float = WAIT_SECONDS,
        max_waiting: int | None = None,
        check_wait_seconds: float = CHECK_WAIT_SECONDS,
        max_waiting_checks: int | None = None,
    ) -> None:
        self.limit = limit
        self.wait_seconds = wait_seconds
        self.max_waiting = WAITING_PER_SLOT * limit if max_waiting is None else max_waiting
        self.check_wait_seconds = check_wait_seconds
        self.max_waiting_checks = (
            CHECKS_WAITING_PER_SLOT * limit if max_waiting_checks is None else max_waiting_checks
        )
        self._free = limit
        self._waiting = 0
        self._urgent_waiting = 0
        self._turns = threading.Condition()
        # One thread per slot, started on first use (so after gunicorn's fork), idle meanwhile.
        self._pool = ThreadPoolExecutor(
            max_workers=limit, thread_name_prefix="kdf", initializer=_be_nice
        )

    def acquire(self, urgent: bool = True) -> bool:
        """Take a slot, waiting at most wait_seconds; False when none became free, or when
        max_waiting requests wait already.

        A request that is not urgent (a receipt check) takes a slot only while no urgent one
        (a new report, a follow-up) waits for it: checks, right or wrong, never keep a report
        waiting longer than the derivation already running (bench/flood.py (f), (g)). Checks
        wait in places of their own (max_waiting_checks, at most check_wait_seconds), so a
        flood of them never takes a report's place in the queue either.
        """

        def mine() -> bool:
            return self._free > 0 and (urgent or self._urgent_waiting == 0)

        with self._turns:
            if not mine():
                if urgent:
                    full, wait = self._urgent_waiting >= self.max_waiting, self.wait_seconds
                else:
                    checks = self._waiting - self._urgent_waiting
                    full, wait = checks >= self.max_waiting_checks, self.check_wait_seconds
                if full:
                    return False
                self._waiting += 1
                self._urgent_waiting += urgent
                try:
                    if not self._turns.wait_for(mine, timeout=wait):
                        return False
                finally:
                    self._waiting -= 1
                    self._urgent_waiting -= urgent
                    self._turns.notify_all()  # a check waiting behind this one may go now
            self._free -= 1
            return True

    @property
    def waiting(self) -> int:
        """Requests waiting for a slot now."""
        return self._waiting

    def release(self) -> None:
        """Give a slot back."""
        with self._turns:
            if self._free >= self.limit:
                raise ValueError("a slot released more often than taken")
            self._free += 1
            self._turns.notify_all()

    def run(self, work: Callable[[], R]) -> R:
        """Run work (a key derivation) in a low-priority thread of the pool; its result or
        exception."""
        return self._pool.submit(work).result()


def _be_nice() -> None:
    """Lower the priority of the calling pool thread (its own nice value only, on Linux)."""
    if not sys.platform.startswith("linux"):
        return  # elsewhere PRIO_PROCESS names the whole process: leave it alone
    thread = threading.get_native_id()
    try:
        now = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(now + NICENESS, 19))
    except OSError as exc:  # a sandbox that forbids it: derivations merely keep their share
        _log.warning("key derivations keep the normal CPU priority: %s", exc)


def bound_of(app: Flask) -> KdfBound:
    """The app's bound (one per worker process: each builds its own app)."""
    bound: KdfBound = app.extensions[_EXTENSION]
    return bound


def _always() -> bool:
    return True


def bounded(view: Callable[P, R], urgent: Callable[[], bool] = _always) -> Callable[P, R]:
    """Run a view's POST holding a key derivation slot, its derivations in a niced pool thread
    (the request's thread waits for each), or refuse it with a quick 503. A POST that is not
    `urgent` gives way to urgent ones waiting for a slot (KdfBound.acquire).

    Put it beneath the view's rate limits (the decorator nearest the function): Flask-Limiter
    checks decorated limits when the view is called, so a request they refuse is answered
    before it takes, or waits for, a slot.
    """

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if request.method != "POST":
            return view(*args, **kwargs)
        bound = bound_of(current_app)
        if not bound.acquire(urgent()):
            g.kdf_refused = True
            # Held back a moment: a client that resends at once would keep the CPU busy.
            slow_lane_of(current_app).hold()
            # The child's blueprint and the app's error pages render it with the typed text.
            raise ServiceUnavailable()
        try:
            with derivations_run_by(bound.run):
                return view(*args, **kwargs)
        finally:
            bound.release()  # whatever happened in the view: a failure never leaks a slot

    return wrapper


def giving_way(urgent: Callable[[], bool]) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """`bounded`, with the POSTs for which `urgent` is false giving way to the urgent ones."""

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        return bounded(view, urgent)

    return decorate


def _mark_refusal(response: Response) -> Response:
    if g.get("kdf_refused", False):
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        response.headers["Cache-Control"] = "no-store"  # the page carries the typed text
    return response


def init_app(app: Flask, limit: int) -> None:
    """Bound the key derivations of this app's process to `limit` at once."""
    app.extensions[_EXTENSION] = KdfBound(limit)
    app.after_request(_mark_refusal)
