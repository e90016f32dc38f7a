"""What a flood meets first: the rate limits, then a short and bounded wait for a slot."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from portal.config import RateLimits
from portal.web.kdf_bound import (
    CHECKS_WAITING_PER_SLOT,
    REPEATS_WAITING_PER_SLOT,
    WAITING_PER_SLOT,
    KdfBound,
    Rank,
)
from tests.web.test_kdf_bound import all_slots_taken
from tests.worlds import TEXT, Site, receipt_of, typed_back


def test_a_client_over_its_limit_gets_429_without_waiting_for_a_slot(
    make_site: Callable[[RateLimits], Site],
) -> None:
    site = make_site(RateLimits(client_messages="1/hour"))
    assert receipt_of(site.send(category="bullying"))
    token = site.token()
    with all_slots_taken(site.app) as bound:
        bound.wait_seconds = 5.0  # a refusal that waited for a slot would take this long
        started = time.monotonic()
        response = site.client.post(
            site.page, data={"csrf_token": token, "message": TEXT, "category": "home"}
        )
        waited = time.monotonic() - started
        assert bound.waiting == 0
    assert response.status_code == 429, "the limit answers before the bound"
    assert typed_back(response)
    assert waited < 2.0


def test_only_a_few_requests_wait_for_a_slot_the_rest_are_refused_at_once() -> None:
    bound = KdfBound(1, wait_seconds=10.0)
    assert bound.max_waiting == WAITING_PER_SLOT
    assert bound.acquire()
    results: list[bool] = []
    waiters = [
        threading.Thread(target=lambda: results.append(bound.acquire()))
        for _ in range(bound.max_waiting)
    ]
    for waiter in waiters:
        waiter.start()
    wait_until(lambda: bound.waiting == bound.max_waiting)

    started = time.monotonic()
    assert not bound.acquire(), "one more waiter would hold another of the worker's threads"
    assert time.monotonic() - started < 1.0

    for served in range(1, bound.max_waiting + 1):
        bound.release()  # the slot passes to one waiter, whose turn ends with the next release
        wait_until(lambda: len(results) == served)  # noqa: B023 -- read before the next turn
    bound.release()
    for waiter in waiters:
        waiter.join(timeout=5)
    assert results == [True] * bound.max_waiting
    assert bound.waiting == 0


def wait_until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    """Poll until the threads reach a state (a deadline, so a bug fails instead of hanging)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the threads never got there"
        time.sleep(0.01)


def test_receipt_checks_give_way_to_reports_waiting_for_a_slot() -> None:
    """Issue 14: receipt checks cannot starve new reports of the key derivation slot. Checks
    waiting first still let a report that came later take the next free slot."""
    bound = KdfBound(1, wait_seconds=10.0, check_wait_seconds=10.0, max_waiting_checks=3)
    assert bound.acquire()
    order: list[str] = []

    def take(name: str, rank: Rank) -> None:
        if bound.acquire(rank):
            order.append(name)
            bound.release()

    checks = [threading.Thread(target=take, args=(f"check{n}", Rank.CHECK)) for n in range(3)]
    for check in checks:
        check.start()
    wait_until(lambda: bound.waiting == 3)
    report = threading.Thread(target=take, args=("report", Rank.REPEAT))
    report.start()
    wait_until(lambda: bound.waiting == 4)
    bound.release()
    for thread in [report, *checks]:
        thread.join(timeout=5)
    assert order[0] == "report" and sorted(order[1:]) == ["check0", "check1", "check2"]
    assert bound.acquire(Rank.CHECK), "with nobody waiting, a check takes a free slot"


def test_checks_filling_their_places_never_take_a_reports_place() -> None:
    """Issue 14, (f) and (g): a flood of receipt checks fills only the checks' few places; the
    next check is refused at once, the next report still waits its turn and gets the slot."""
    bound = KdfBound(1, wait_seconds=10.0, check_wait_seconds=10.0)
    assert bound.max_waiting_checks == CHECKS_WAITING_PER_SLOT < bound.max_waiting
    assert bound.acquire()
    results: list[str] = []

    def take(name: str, rank: Rank) -> None:
        results.append(name if bound.acquire(rank) else f"{name} refused")

    checks = [
        threading.Thread(target=take, args=(f"check{n}", Rank.CHECK))
        for n in range(bound.max_waiting_checks)
    ]
    for check in checks:
        check.start()
    wait_until(lambda: bound.waiting == bound.max_waiting_checks)
    started = time.monotonic()
    assert not bound.acquire(Rank.CHECK), "one more check would hold another thread"
    assert time.monotonic() - started < 1.0
    reports = [
        threading.Thread(target=take, args=(f"report{n}", Rank.FIRST))
        for n in range(bound.max_waiting)
    ]
    for report in reports:
        report.start()
    wait_until(lambda: bound.waiting == bound.max_waiting_checks + bound.max_waiting)
    for served in range(1, bound.max_waiting + 1):
        bound.release()
        wait_until(lambda: len(results) == served)  # noqa: B023 -- read before the next turn
    assert sorted(results) == [f"report{n}" for n in range(bound.max_waiting)]
    for served in range(len(results) + 1, len(results) + len(checks) + 1):
        bound.release()  # with no report waiting, the checks take their turns
        wait_until(lambda: len(results) == served)  # noqa: B023 -- read before the next turn
    bound.release()
    for thread in [*reports, *checks]:
        thread.join(timeout=5)
    assert bound.waiting == 0


def test_a_check_waits_less_than_a_report() -> None:
    """A check that finds no slot soon is refused quickly (its page asks to try again later);
    a report waits longer for its turn."""
    bound = KdfBound(1, wait_seconds=10.0, check_wait_seconds=0.2)
    assert bound.acquire()
    started = time.monotonic()
    assert not bound.acquire(Rank.CHECK)
    assert 0.15 < time.monotonic() - started < 2.0
    report: list[bool] = []
    waiter = threading.Thread(target=lambda: report.append(bound.acquire()))
    waiter.start()
    time.sleep(0.4)
    assert not report, "the report still waits past the check's wait"
    bound.release()
    waiter.join(timeout=5)
    assert report == [True]


def test_checks_start_at_most_once_an_interval_and_reports_do_not_wait_for_it() -> None:
    """A flood of receipt checks takes a bounded share of the CPU: a worker starts one at most
    every check_interval_seconds, whatever the number of addresses; a report never waits for
    the interval."""
    bound = KdfBound(1, check_wait_seconds=0.1, check_interval_seconds=0.5)
    assert bound.acquire(Rank.CHECK)
    bound.release()
    started = time.monotonic()
    assert not bound.acquire(Rank.CHECK), "the next check is refused within its short wait"
    assert time.monotonic() - started < 0.4
    assert bound.acquire(Rank.FIRST), "a report takes the free slot at once"
    bound.release()
    time.sleep(0.45)
    assert bound.acquire(Rank.CHECK), "after the interval a check runs again"
    bound.release()


def test_junk_from_senders_counted_already_never_takes_a_first_reports_place() -> None:
    """Issue 14, (e): messages of clients that sent before fill only their share of the places;
    a client's first report still waits, and goes before them."""
    bound = KdfBound(1, wait_seconds=10.0)
    assert bound.max_waiting_repeats == REPEATS_WAITING_PER_SLOT < bound.max_waiting
    assert bound.acquire()
    results: list[str] = []

    def take(name: str, rank: Rank) -> None:
        results.append(name if bound.acquire(rank) else f"{name} refused")

    repeats = [
        threading.Thread(target=take, args=(f"junk{n}", Rank.REPEAT))
        for n in range(bound.max_waiting_repeats)
    ]
    for repeat in repeats:
        repeat.start()
    wait_until(lambda: bound.waiting == bound.max_waiting_repeats)
    assert not bound.acquire(Rank.REPEAT), "junk beyond its share is refused at once"
    first = threading.Thread(target=take, args=("child", Rank.FIRST))
    first.start()
    wait_until(lambda: bound.waiting == bound.max_waiting_repeats + 1)
    for served in range(1, bound.max_waiting_repeats + 2):
        bound.release()
        wait_until(lambda: len(results) == served)  # noqa: B023 -- read before the next turn
    bound.release()
    for thread in [first, *repeats]:
        thread.join(timeout=5)
    assert results[0] == "child" and sorted(results[1:]) == ["junk0", "junk1", "junk2"]


def test_the_views_ask_for_a_slot_with_their_rank(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client's first report ranks first, its next one and its follow-up as repeats, a
    receipt check last."""
    asked: list[Rank] = []
    acquire = KdfBound.acquire

    def recording(bound: KdfBound, rank: Rank = Rank.FIRST) -> bool:
        asked.append(rank)
        return acquire(bound, rank)

    monkeypatch.setattr(KdfBound, "acquire", recording)
    receipt = receipt_of(site.send())
    assert receipt_of(site.send())
    for message in ("", "ещё"):
        data = {"csrf_token": site.token("/check"), "receipt": receipt, "message": message}
        assert site.client.post("/check", data=data).status_code == 200
    assert asked == [Rank.FIRST, Rank.REPEAT, Rank.CHECK, Rank.REPEAT]
