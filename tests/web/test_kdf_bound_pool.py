"""A bounded view's key derivations run in a niced thread of the worker's pool; the view
itself stays in the request's thread at the worker's priority."""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import has_request_context

from portal.crypto import envelope
from portal.services import intake, login
from portal.web.kdf_bound import NICENESS, KdfBound, bound_of
from tests.worlds import Desk, Site, receipt_of

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice")


@dataclass(frozen=True)
class Seen:
    """Where a piece of work ran: its thread, that thread's nice value, a Flask request?"""

    thread: int
    nice: int
    in_request: bool

    @classmethod
    def here(cls) -> Seen:
        """The calling thread, as the kernel and Flask see it."""
        thread = threading.get_native_id()
        return cls(thread, nice_of(thread), has_request_context())


def nice_of(thread: int) -> int:
    """A thread's nice value as the kernel reports it (field 19 of /proc/.../stat)."""
    with open(f"/proc/self/task/{thread}/stat") as stat:
        after_name = stat.read().rsplit(")", 1)[1].split()
    return int(after_name[16])  # fields counted from 3 (state) after the command name


def worker_nice() -> int:
    """The nice value of the test's thread: the worker's, as a request thread has it."""
    return nice_of(threading.get_native_id())


def expected_nice() -> int:
    """The nice value a pool thread takes: the test thread's, raised by NICENESS."""
    return min(worker_nice() + NICENESS, 19)


def spy_on(monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> list[Seen]:
    """Record where module.name is called from, then call the real function."""
    real: Callable[..., Any] = getattr(module, name)
    seen: list[Seen] = []

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(Seen.here())
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)
    return seen


def spy_on_derivations(monkeypatch: pytest.MonkeyPatch) -> list[Seen]:
    """Record where each Argon2id is computed (envelope._argon2id, the one call into
    libargon2, is replaced by a wrapper)."""
    return spy_on(monkeypatch, envelope, "_argon2id")


@linux_only
def test_a_reports_derivations_run_niced_and_the_view_does_not(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    views = spy_on(monkeypatch, intake, "send_report")
    derivations = spy_on_derivations(monkeypatch)
    for _ in range(3):
        assert receipt_of(site.send(category="bullying"))
    assert len(views) == 3 and len(derivations) == 3, "one Argon2id each: lookup and key"
    # The derivations: one dedicated thread (one slot), niced exactly once at its start, and
    # holding no request (it only computes).
    assert {s.thread for s in derivations}.isdisjoint({threading.get_native_id()})
    assert len({s.thread for s in derivations}) == 1
    assert [s.nice for s in derivations] == [expected_nice()] * 3
    assert expected_nice() > worker_nice()
    assert not any(s.in_request for s in derivations)
    # The view's Python (and its hold on the GIL) stays at the worker's priority.
    assert [(s.thread, s.nice) for s in views] == [(threading.get_native_id(), worker_nice())] * 3


@linux_only
def test_a_follow_up_and_a_staff_login_derive_niced_too(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = desk.site
    receipt = receipt_of(site.send(category="home"))
    opened = spy_on_derivations(monkeypatch)
    token = site.token("/check")
    response = site.client.post(
        "/check", data={"csrf_token": token, "receipt": receipt, "message": "Ещё"}
    )
    assert response.status_code == 200
    assert opened and {s.nice for s in opened} == {expected_nice()}
    logged = spy_on(monkeypatch, login, "log_in")
    derived = len(opened)
    assert desk.post_login(desk.client(), desk.triage).status_code == 303
    assert len(opened) > derived, "the login derived its password key"
    assert {s.nice for s in opened[derived:]} == {expected_nice()}
    assert [s.nice for s in logged] == [worker_nice()]


def test_derivations_outside_a_bounded_view_run_where_they_are_called(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commands and tests derive keys in their own thread: the runner is the request's alone."""
    derivations = spy_on_derivations(monkeypatch)
    assert receipt_of(site.send(category="bullying"))
    envelope.derive_argon2(b"secret", b"s" * 16, envelope.PRODUCTION_KDF, b"test")
    assert derivations[-1].thread == threading.get_native_id()
    assert derivations[0].thread != threading.get_native_id()


def test_results_and_exceptions_come_back_intact() -> None:
    bound = KdfBound(1)
    result = object()
    assert bound.run(lambda: result) is result

    failure = LookupError("the database went away")

    def fail() -> None:
        raise failure

    with pytest.raises(LookupError) as raised:
        bound.run(fail)
    assert raised.value is failure


def test_an_abort_in_the_work_is_the_same_http_error(site: Site) -> None:
    token = site.token()
    response = site.client.post(
        "/s/NO-SUCH-SCHOOL", data={"csrf_token": token, "message": "x", "category": "home"}
    )
    assert response.status_code == 404


def test_a_failing_derivation_is_a_500_and_frees_the_slot(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any) -> bytes:
        raise MemoryError("no room for 19 MiB")

    monkeypatch.setattr(envelope, "_argon2id", broken)
    for _ in range(2):  # the second would be a 503 if the first kept its slot
        assert site.send(category="bullying").status_code == 500
    monkeypatch.undo()
    assert receipt_of(site.send(category="bullying")), "the pool thread survived the failure"
    assert bound_of(site.app).run(has_request_context) is False


def test_a_refused_nice_keeps_the_derivations_working(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def forbidden(*_args: object) -> None:
        raise PermissionError("setpriority not allowed here")

    monkeypatch.setattr(os, "setpriority", forbidden)
    monkeypatch.setattr(sys, "platform", "linux")
    with caplog.at_level(logging.WARNING, logger="portal.web.kdf_bound"):
        assert KdfBound(1).run(lambda: 42) == 42
    assert "normal CPU priority" in caplog.text


def test_the_pool_has_a_thread_for_each_slot() -> None:
    bound = KdfBound(2)
    inside = threading.Barrier(3, timeout=10)
    threads: set[int] = set()

    def work() -> None:
        threads.add(threading.get_native_id())
        inside.wait()

    waiting = [threading.Thread(target=bound.run, args=(work,)) for _ in range(2)]
    for waiter in waiting:
        waiter.start()
    inside.wait()  # both ran at once: the pool has a thread for each slot
    for waiter in waiting:
        waiter.join(10)
    assert len(threads) == 2
