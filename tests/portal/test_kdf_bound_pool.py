"""The bounded work runs in a niced thread of the worker's pool, in the request's own contexts."""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import g, has_request_context, request
from sqlalchemy.orm import Session

from portal import intake, login
from portal.db import get_session
from portal.kdf_bound import NICENESS, KdfBound, bound_of
from tests.portal.conftest import Desk, Site, receipt_of

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice")


@dataclass(frozen=True)
class Seen:
    """Where a piece of bounded work ran, as the kernel and Flask saw it."""

    thread: int
    nice: int
    g: object
    session: Session
    message: str


def nice_of(thread: int) -> int:
    """A thread's nice value as the kernel reports it (field 19 of /proc/.../stat)."""
    with open(f"/proc/self/task/{thread}/stat") as stat:
        after_name = stat.read().rsplit(")", 1)[1].split()
    return int(after_name[16])  # fields counted from 3 (state) after the command name


def expected_nice() -> int:
    """The nice value a pool thread takes: the test thread's, raised by NICENESS."""
    return min(nice_of(threading.get_native_id()) + NICENESS, 19)


def spy_on(monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> list[Seen]:
    """Record where module.name is called from, then call the real function."""
    real: Callable[..., Any] = getattr(module, name)
    seen: list[Seen] = []

    def spy(*args: Any, **kwargs: Any) -> Any:
        thread = threading.get_native_id()
        message = request.form.get("message", "")
        seen.append(Seen(thread, nice_of(thread), g._get_current_object(), get_session(), message))
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)
    return seen


@linux_only
def test_a_report_is_sealed_in_a_niced_thread_of_the_pool(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = spy_on(monkeypatch, intake, "send_report")
    for _ in range(3):
        assert receipt_of(site.send(category="bullying"))
    assert len(seen) == 3
    assert {s.thread for s in seen}.isdisjoint({threading.get_native_id()})
    assert len({s.thread for s in seen}) == 1, "one slot: one dedicated thread, reused"
    # Exactly NICENESS above the worker, each time: the thread was niced once, at its start.
    assert [s.nice for s in seen] == [expected_nice()] * 3
    assert expected_nice() > nice_of(threading.get_native_id())


@linux_only
def test_a_follow_up_and_a_staff_login_run_niced_too(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = desk.site
    receipt = receipt_of(site.send(category="home"))
    opened = spy_on(monkeypatch, intake, "open_with_receipt")
    token = site.token("/check")
    response = site.client.post(
        "/check", data={"csrf_token": token, "receipt": receipt, "message": "Ещё"}
    )
    assert response.status_code == 200
    logged = spy_on(monkeypatch, login, "log_in")
    assert desk.post_login(desk.client(), desk.triage).status_code == 303
    assert [s.nice for s in opened + logged] == [expected_nice()] * 2


def test_the_work_uses_the_requests_g_and_database_session(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = spy_on(monkeypatch, intake, "send_report")
    after: list[tuple[object, object, bool]] = []

    @site.app.after_request
    def look(response: Any) -> Any:
        # The request thread, after the view: what the rate limits and the teardown will read.
        after.append((g._get_current_object(), g.get("db_session"), g.get("message_stored")))
        return response

    assert receipt_of(site.send(category="bullying"))
    request_g, request_session, stored = after[-1]  # after the GET that gave the token
    assert seen[0].g is request_g, "one g per request, or marks like message_stored get lost"
    assert seen[0].session is request_session, "one session, closed by the request's teardown"
    assert stored is True


def test_nothing_leaks_between_requests(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = spy_on(monkeypatch, intake, "send_report")
    leftovers: list[bool] = []
    real = intake.send_report

    def mark(*args: Any, **kwargs: Any) -> Any:
        leftovers.append("planted" in g)
        g.planted = True
        return real(*args, **kwargs)

    monkeypatch.setattr(intake, "send_report", mark)
    assert receipt_of(site.send(category="bullying", message="first one"))
    assert receipt_of(site.send(category="bullying", message="second one"))
    assert leftovers == [False, False], "the second request saw the first one's g"
    assert [s.message for s in seen] == ["first one", "second one"]
    assert seen[0].g is not seen[1].g and seen[0].session is not seen[1].session
    # Between requests the pool thread holds no request: the work's context was a copy.
    assert bound_of(site.app).run(has_request_context) is False


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


def test_a_failure_inside_the_pool_is_a_500_and_frees_the_slot(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(intake, "send_report", broken)
    for _ in range(2):  # the second would be a 503 if the first kept its slot
        assert site.send(category="bullying").status_code == 500
    monkeypatch.undo()
    assert receipt_of(site.send(category="bullying")), "the pool thread survived the failure"


def test_a_refused_nice_keeps_the_derivations_working(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def forbidden(*_args: object) -> None:
        raise PermissionError("setpriority not allowed here")

    monkeypatch.setattr(os, "setpriority", forbidden)
    monkeypatch.setattr(sys, "platform", "linux")
    with caplog.at_level(logging.WARNING, logger="portal.kdf_bound"):
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
