"""The child's limits: counted atomically, given back where a request must not count, refused
cheaply (a small page with the text) and slowly (a closed loop cannot spin on refusals)."""

from __future__ import annotations

import ast
import re
import runpy
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, cast

import pytest
from limits import parse
from limits.storage import Storage
from limits.strategies import MovingWindowRateLimiter
from werkzeug.test import TestResponse

from portal.config import DEFAULT_MAX_KDF_CONCURRENCY, RateLimits
from portal.services import registry
from portal.web import ratelimit
from portal.web.kdf_bound import CHECKS_WAITING_PER_SLOT, WAITING_PER_SLOT, bound_of
from portal.web.ratelimit import (
    KEY_PREFIX,
    SLOW_REFUSALS_PER_WORKER,
    GivingBack,
    MemoryWindows,
    SlowLane,
    Taken,
    Window,
    limiter,
    slow_lane_of,
)
from tests.web.test_kdf_bound import all_slots_taken, held_reports
from tests.web.test_kdf_bound_order import wait_until
from tests.worlds import TEXT, Site, receipt_of, typed_back

if TYPE_CHECKING:
    from limits.storage.base import MovingWindowSupport

CONCURRENT = 5
REPO = Path(__file__).resolve().parents[2]
# Threads of a worker left for pages when refusals and derivations take all theirs.
PAGE_THREADS = 16


def test_concurrent_messages_of_one_client_cannot_slip_past_its_limit(
    make_site: Callable[[RateLimits], Site], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five at once against a limit of two: two stored, three refused (a check made before
    the response and a hit made after it let all five through)."""
    site = make_site(RateLimits(client_messages="2/minute"))
    bound = bound_of(site.app)
    bound.wait_seconds = 10.0  # the others queue for the slot rather than get a 503
    inside, go = held_reports(monkeypatch)
    answers: list[TestResponse] = []

    def post(token: str) -> None:
        form = {"csrf_token": token, "message": TEXT, "category": "bullying"}
        answers.append(site.client.post(site.page, data=form))

    # Five pages (a token is good once), sent at once.
    tokens = [site.token() for _ in range(CONCURRENT)]
    threads = [threading.Thread(target=post, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    try:
        assert inside.wait(10)
        # One is storing; every other one is either answered or waiting for the slot.
        wait_until(lambda: len(answers) + bound.waiting == CONCURRENT - 1)
    finally:
        go.set()
        for thread in threads:
            thread.join(10)
    assert sorted(answer.status_code for answer in answers) == [200, 200, 429, 429, 429]
    assert len(site.reports()) == 2
    assert all(typed_back(answer) for answer in answers if answer.status_code == 429)


def test_requests_that_store_nothing_give_their_hits_back(
    make_site: Callable[[RateLimits], Site],
) -> None:
    """Refused input, a busy server and a failure of ours do not use up a child's messages,
    nor the school's, nor the service's."""
    site = make_site(
        RateLimits(client_messages="1/hour", school_messages="1/hour", all_messages="1/hour")
    )
    assert site.send(message="   ").status_code == 400
    assert site.send(csrf_token="forged").status_code == 400
    with all_slots_taken(site.app):
        assert site.send().status_code == 503
    assert receipt_of(site.send())
    assert site.send().status_code == 429, "the one stored report does count"


def test_a_right_receipt_gives_its_failure_hit_back(
    make_site: Callable[[RateLimits], Site],
) -> None:
    site = make_site(RateLimits(receipt_failures="1/hour", receipt_retries="1/hour"))
    receipt = receipt_of(site.send())
    for _ in range(3):
        data = {"csrf_token": site.token("/check"), "receipt": receipt}
        assert site.client.post("/check", data=data).status_code == 200
    for status in (404, 404, 429):  # the client's own one, the shared retry, then no more
        data = {"csrf_token": site.token("/check"), "receipt": "0000 0000 0000 0000"}
        assert site.client.post("/check", data=data).status_code == status


def test_the_refusal_is_a_small_page_with_the_text_in_a_form_that_sends_it_again(
    make_site: Callable[[RateLimits], Site], monkeypatch: pytest.MonkeyPatch
) -> None:
    site = make_site(RateLimits(client_messages="1/hour"))
    assert receipt_of(site.send())

    def no_database(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a refusal must not look the school up")

    monkeypatch.setattr(registry, "find_by_code", no_database)
    token = site.token()
    fields = {"csrf_token": token, "message": TEXT, "category": "home", "danger": "yes"}
    refused = site.client.post(site.page + "?lang=en", data=fields)
    monkeypatch.undo()
    assert refused.status_code == 429
    assert refused.headers["Cache-Control"] == "no-store"
    body = refused.get_data(as_text=True)
    assert typed_back(refused)
    assert "Too many messages came in a short time" in body
    assert 'href="tel:111"' in body and "Leave quickly" in body
    assert "hreflang" not in body, "a language link would open the form without the text"
    form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', body))
    assert form == {"csrf_token": token, "category": "home", "danger": "yes"}
    action = re.search(r'<form class="report" method="post" action="([^"]+)"', body)
    assert action and action.group(1) == site.page + "?lang=en"

    # Later, the limit gone, the refusal page's own form stores the report.
    limiter.reset()
    sent = site.client.post(action.group(1), data={**form, "message": TEXT})
    assert receipt_of(sent)
    assert site.reports()[-1][1].name == "P1", "the danger answer came back with the form"


def test_a_follow_up_refusal_does_not_show_the_receipt(
    make_site: Callable[[RateLimits], Site],
) -> None:
    site = make_site(RateLimits(client_messages="1/hour"))
    receipt = receipt_of(site.send())
    data = {"csrf_token": site.token("/check"), "receipt": receipt, "message": TEXT}
    refused = site.client.post("/check", data=data)
    assert refused.status_code == 429
    assert typed_back(refused)
    assert receipt not in refused.get_data(as_text=True)


def answered_after(seconds: float, send: Callable[[], TestResponse], status: int) -> None:
    """`send` is refused with `status`, no sooner than `seconds` after it left."""
    started = time.monotonic()
    assert send().status_code == status
    assert time.monotonic() - started >= seconds


@pytest.mark.parametrize(
    ("limits", "same_client", "status"),
    [
        (RateLimits(client_messages="1/hour"), True, 429),  # the client's own count
        (RateLimits(school_messages="1/hour"), True, 429),  # the school's (a new client: 200)
        (RateLimits(all_messages="1/hour"), False, 429),  # the whole service's
        (RateLimits(), False, 503),  # no key derivation slot free
    ],
    ids=["client", "school", "service", "busy"],
)
def test_every_refusal_is_answered_late(
    make_site: Callable[[RateLimits], Site], limits: RateLimits, same_client: bool, status: int
) -> None:
    """Whoever is over: a spread of addresses (which no client count sees) that got its
    refusals at once would spin on them and take the CPU from the pages (bench/flood.py (c))."""
    site = make_site(limits)
    slow_lane_of(site.app).seconds = 0.3
    assert receipt_of(site.send())
    form = {"csrf_token": site.token(), "message": TEXT}
    environ = {} if same_client else {"REMOTE_ADDR": "198.51.100.7"}

    def send() -> TestResponse:
        return site.client.post(site.page, data=form, environ_base=environ)

    if status == 503:
        with all_slots_taken(site.app):
            answered_after(0.3, send, status)
    else:
        answered_after(0.3, send, status)


def test_the_slow_lane_and_the_derivation_queue_leave_gunicorn_threads_for_pages() -> None:
    """gunicorn.conf.py's threads cover the refusals held back and the requests waiting for a
    key derivation slot, with threads to spare for pages even when both are full."""
    settings = runpy.run_path(str(REPO / "gunicorn.conf.py"))
    waiting = (WAITING_PER_SLOT + CHECKS_WAITING_PER_SLOT + 1) * DEFAULT_MAX_KDF_CONCURRENCY
    assert settings["threads"] - SLOW_REFUSALS_PER_WORKER - waiting >= PAGE_THREADS


def test_the_slow_lane_holds_only_a_few_at_once() -> None:
    lane = SlowLane(1, seconds=0.5)
    held: list[bool] = []
    first = threading.Thread(target=lambda: held.append(lane.hold()))
    first.start()
    wait_until(lambda: lane.holding == 1)
    started = time.monotonic()
    assert lane.hold() is False, "the one place is taken: answered at once"
    assert time.monotonic() - started < 0.2
    first.join(5)
    assert held == [True]


def gives_back_the_newest(storage: Storage) -> None:
    """The storage's give_back removes the newest entry of a moving window and leaves the rest,
    as the public counts of the installed limits show (its layout is what give_back relies on)."""
    assert isinstance(storage, GivingBack)
    window = MovingWindowRateLimiter(storage)
    item = parse("3/minute")
    ids = (KEY_PREFIX, "give-back-test", "scope")
    key = item.key_for(*ids)
    storage.give_back(key)  # nothing to give back yet: no error, nothing counted
    assert window.get_window_stats(item, *ids).remaining == 3
    assert window.hit(item, *ids)
    first_reset = window.get_window_stats(item, *ids).reset_time
    time.sleep(0.05)
    assert window.hit(item, *ids)
    assert window.get_window_stats(item, *ids).remaining == 1
    storage.give_back(key)
    stats = window.get_window_stats(item, *ids)
    assert stats.remaining == 2
    assert stats.reset_time == pytest.approx(first_reset, abs=0.02), "the older hit stays"


def test_the_memory_storage_gives_back_the_newest_hit() -> None:
    gives_back_the_newest(MemoryWindows())


def counted(storage: GivingBack, window: Window) -> int:
    """Entries in the window now, as limits' own get_moving_window counts them."""
    return cast("MovingWindowSupport", storage).get_moving_window(
        window.key, window.amount, window.expiry
    )[1]


def takes_all_or_nothing(storage: GivingBack, name: str) -> None:
    """take_all takes one entry in each window in order; a full window refuses them all (those
    taken are given back) unless spared, when it is passed over uncounted; a window spared if
    untouched is spared only while the probes, asked before any hit, hold nothing."""
    wide, narrow = (Window(f"{name}:wide", 3, 60), Window(f"{name}:narrow", 1, 60))
    assert storage.untouched([wide, narrow])
    assert storage.take_all([wide, narrow]) == Taken(None, [0, 1], True)
    assert not storage.untouched([wide]) and not storage.untouched([narrow])
    assert storage.take_all([wide, narrow]) == Taken(1, [], True), "narrow full: nothing taken"
    spared = Window(narrow.key, 1, 60, spared=True)
    assert storage.take_all([wide, spared]) == Taken(None, [0], True), "spared: uncounted"
    # The count as limits itself reads it: wide holds 2 (the refused take gave its one back).
    assert counted(storage, wide) == 2
    # Spared while the probe (another count, asked before the hits) is untouched.
    probe = Window(f"{name}:probe", 5, 60)
    if_untouched = Window(narrow.key, 1, 60, spared_if_untouched=True)
    assert storage.take_all([probe, if_untouched], [probe]) == Taken(None, [0], True)
    assert storage.take_all([if_untouched], [probe]) == Taken(0, [], False)
    assert counted(storage, probe) == 1 and counted(storage, narrow) == 1
    assert storage.untouched([Window(f"{name}:elsewhere", 3, 60)])
    assert storage.take_all([]) == Taken(None, [], True)
    assert storage.take_all([], [probe]) == Taken(None, [], False)
    assert storage.untouched([])


def test_the_memory_storage_takes_all_or_nothing() -> None:
    takes_all_or_nothing(MemoryWindows(), "memory")


def test_the_app_counts_in_a_storage_that_gives_hits_back(
    make_site: Callable[[RateLimits], Site],
) -> None:
    make_site(RateLimits())
    assert isinstance(limiter.storage, GivingBack)


def is_private(name: str) -> bool:
    """`_name` or `__name`, but not a dunder of Python's own (`__name__`), save `__wrapped__`."""
    dunder = name.startswith("__") and name.endswith("__")
    return (name.startswith("_") and not dunder) or name == "__wrapped__"


def private_uses(source: str) -> list[str]:
    """Private names a module takes from others: `x._name` other than `self._name` in a class
    of its own (no library base), and imports of private modules or names."""
    tree = ast.parse(source)
    own_classes = {node.name for node in tree.body if isinstance(node, ast.ClassDef)}
    allowed: set[int] = set()  # self._name nodes inside classes of the module's own making
    for cls in tree.body:
        if isinstance(cls, ast.ClassDef) and all(
            isinstance(base, ast.Name) and base.id in own_classes for base in cls.bases
        ):
            allowed.update(
                id(sub)
                for sub in ast.walk(cls)
                if isinstance(sub, ast.Attribute)
                and isinstance(sub.value, ast.Name)
                and sub.value.id == "self"
            )
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and id(node) not in allowed and is_private(node.attr):
            found.append(f"line {node.lineno}: .{node.attr}")
        elif isinstance(node, ast.ImportFrom):
            modules = [node.module or ""]
            names = [alias.name for alias in node.names]
            found += [f"line {node.lineno}: import {name}" for name in names if is_private(name)]
        elif isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        else:
            continue
        found += [
            f"line {node.lineno}: from {module}"
            for module in modules
            if any(is_private(part) for part in module.split("."))
        ]
    return found


def test_the_rate_limits_use_no_private_part_of_limits_or_flask_limiter() -> None:
    """Only the libraries' public API: their private parts change without notice."""
    assert private_uses(Path(ratelimit.__file__).read_text(encoding="utf-8")) == []


def test_the_private_use_check_finds_what_it_looks_for() -> None:
    source = (
        "from flask_limiter._extension import Limiter\n"
        "from limits import _private\n"
        "storage._events.clear()\n"
        "qr_matrix.__wrapped__(text)\n"
        "class Storage(MemoryStorage):\n"
        "    def f(self):\n"
        "        return self._lock\n"
        "class Lane:\n"
        "    def f(self):\n"
        "        return self._lock, type(self).__name__\n"
    )
    assert len(private_uses(source)) == 5
