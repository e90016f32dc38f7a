"""At most a configured number of key derivations at once per worker; beyond it, a 503.

Argon2id costs ~11-22 ms of one core (docs/crypto.md) and 19 MiB per derivation (it releases
the GIL meanwhile): a flood of reports must not make a worker hold many of them in memory and
make every page slow.
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

import enum
import functools
import logging
import os
import sys
import threading
import time
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
# A client's first report waits this many times longer: only other first reports go before
# it, and on a machine whose CPU others take (the niced derivations get little of it) a receipt
# a few seconds late is better than a 503 (bench/flood.py (e) on a loaded machine: 2 s refused
# some children).
FIRST_WAIT_FACTOR = 3
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
# A worker starts a receipt check's derivation at most this often: a flood of receipts, from
# however many addresses, takes a bounded share of the CPU (about 15 ms in 100 ms, a sixth of
# a core per worker) and leaves the rest to reports and the staff pages. A check that finds no
# turn within CHECK_WAIT_SECONDS gets the 'try again in a minute' page, which keeps nothing.
CHECK_INTERVAL_SECONDS = 0.1
# Of the WAITING_PER_SLOT places, how many messages from clients that sent before may hold:
# the others stay for clients' first messages (bench/flood.py (e): junk from 24 addresses
# filled the six places, and 11 of 176 children writing for the first time got 503s).
REPEATS_WAITING_PER_SLOT = 3
_EXTENSION = "portal.web.kdf_bound"
_log = logging.getLogger(__name__)


class Rank(enum.IntEnum):
    """Who goes first for a free slot: a higher rank never waits behind a lower one."""

    CHECK = 0  # reading answers with a receipt, no message
    REPEAT = 1  # a report or follow-up from a client with messages counted already
    FIRST = 2  # a client's first message (and the staff's login): junk cannot hold it back


class KdfBound:
    """A per-process semaphore of key derivation slots, taken with a short, bounded wait."""

    def __init__(
        self,
        limit: int,
        wait_seconds: float = WAIT_SECONDS,
        max_waiting: int | None = None,
        check_wait_seconds: float = CHECK_WAIT_SECONDS,
        max_waiting_checks: int | None = None,
        max_waiting_repeats: int | None = None,
        check_interval_seconds: float = CHECK_INTERVAL_SECONDS,
    ) -> None:
        self.limit = limit
        self.wait_seconds = wait_seconds
        self.max_waiting = WAITING_PER_SLOT * limit if max_waiting is None else max_waiting
        self.check_wait_seconds = check_wait_seconds
        self.max_waiting_checks = (
            CHECKS_WAITING_PER_SLOT * limit if max_waiting_checks is None else max_waiting_checks
        )
        self.max_waiting_repeats = (
            REPEATS_WAITING_PER_SLOT * limit if max_waiting_repeats is None else max_waiting_repeats
        )
        self.check_interval_seconds = check_interval_seconds
        self._next_check = 0.0  # time.monotonic() from which a check may start
        self._free = limit
        self._waiting = dict.fromkeys(Rank, 0)
        self._turns = threading.Condition()
        # One thread per slot, started on first use (so after gunicorn's fork), idle meanwhile.
        self._pool = ThreadPoolExecutor(
            max_workers=limit, thread_name_prefix="kdf", initializer=_be_nice
        )

    def acquire(self, rank: Rank = Rank.FIRST) -> bool:
        """Take a slot, waiting at most wait_seconds; False when none became free, or when
        the places to wait in for this rank are taken.

        A slot goes to the highest rank waiting: a receipt check (Rank.CHECK) never keeps a
        message waiting longer than the derivation already running (bench/flood.py (f), (g)),
        nor does junk from senders already counted (Rank.REPEAT) keep a client's first report
        waiting ((e)). Checks wait in places of their own (max_waiting_checks, at most
        check_wait_seconds); repeats take at most max_waiting_repeats of the max_waiting
        places of messages, the rest stay for first messages.
        """

        def mine() -> bool:
            higher = any(self._waiting[other] for other in Rank if other > rank)
            early = rank is Rank.CHECK and time.monotonic() < self._next_check
            return self._free > 0 and not higher and not early

        with self._turns:
            if not mine():
                messages = self._waiting[Rank.REPEAT] + self._waiting[Rank.FIRST]
                if rank is Rank.CHECK:
                    full = self._waiting[Rank.CHECK] >= self.max_waiting_checks
                else:
                    full = messages >= self.max_waiting or (
                        rank is Rank.REPEAT
                        and self._waiting[Rank.REPEAT] >= self.max_waiting_repeats
                    )
                if full:
                    return False
                wait = {
                    Rank.CHECK: self.check_wait_seconds,
                    Rank.REPEAT: self.wait_seconds,
                    Rank.FIRST: self.wait_seconds * FIRST_WAIT_FACTOR,
                }[rank]
                self._waiting[rank] += 1
                try:
                    if not self._wait_for(mine, wait, rank):
                        return False
                finally:
                    self._waiting[rank] -= 1
                    self._turns.notify_all()  # a lower rank waiting behind this one may go now
            self._free -= 1
            if rank is Rank.CHECK:
                self._next_check = time.monotonic() + self.check_interval_seconds
            return True

    def _wait_for(self, mine: Callable[[], bool], seconds: float, rank: Rank) -> bool:
        """Wait (holding self._turns) until mine() or seconds pass; a check also wakes when
        its interval is over, which no release announces."""
        deadline = time.monotonic() + seconds
        while not mine():
            now = time.monotonic()
            if now >= deadline:
                return False
            pause = deadline - now
            if rank is Rank.CHECK and self._next_check > now:
                pause = min(pause, self._next_check - now)
            self._turns.wait(pause)
        return True

    @property
    def waiting(self) -> int:
        """Requests waiting for a slot now."""
        return sum(self._waiting.values())

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


def _first() -> Rank:
    return Rank.FIRST


def bounded(view: Callable[P, R], rank: Callable[[], Rank] = _first) -> Callable[P, R]:
    """Run a view's POST holding a key derivation slot, its derivations in a niced pool thread
    (the request's thread waits for each), or refuse it with a quick 503. A POST waits for a
    slot behind those of a higher `rank` (KdfBound.acquire).

    Put it beneath the view's rate limits (the decorator nearest the function): Flask-Limiter
    checks decorated limits when the view is called, so a request they refuse is answered
    before it takes, or waits for, a slot.
    """

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if request.method != "POST":
            return view(*args, **kwargs)
        bound = bound_of(current_app)
        if not bound.acquire(rank()):
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


def ranked(rank: Callable[[], Rank]) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """`bounded`, each POST waiting for a slot with the rank `rank` gives it."""

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        return bounded(view, rank)

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
