"""What a flood meets first: the rate limits, then a short and bounded wait for a slot."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from portal.config import RateLimits
from portal.web.kdf_bound import CHECKS_WAITING_PER_SLOT, WAITING_PER_SLOT, KdfBound
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

    def take(name: str, urgent: bool) -> None:
        if bound.acquire(urgent):
            order.append(name)
            bound.release()

    checks = [threading.Thread(target=take, args=(f"check{n}", False)) for n in range(3)]
    for check in checks:
        check.start()
    wait_until(lambda: bound.waiting == 3)
    report = threading.Thread(target=take, args=("report", True))
    report.start()
    wait_until(lambda: bound.waiting == 4)
    bound.release()
    for thread in [report, *checks]:
        thread.join(timeout=5)
    assert order[0] == "report" and sorted(order[1:]) == ["check0", "check1", "check2"]
    assert bound.acquire(urgent=False), "with nobody waiting, a check takes a free slot"


def test_checks_filling_their_places_never_take_a_reports_place() -> None:
    """Issue 14, (f) and (g): a flood of receipt checks fills only the checks' few places; the
    next check is refused at once, the next report still waits its turn and gets the slot."""
    bound = KdfBound(1, wait_seconds=10.0, check_wait_seconds=10.0)
    assert bound.max_waiting_checks == CHECKS_WAITING_PER_SLOT < bound.max_waiting
    assert bound.acquire()
    results: list[str] = []

    def take(name: str, urgent: bool) -> None:
        results.append(name if bound.acquire(urgent) else f"{name} refused")

    checks = [
        threading.Thread(target=take, args=(f"check{n}", False))
        for n in range(bound.max_waiting_checks)
    ]
    for check in checks:
        check.start()
    wait_until(lambda: bound.waiting == bound.max_waiting_checks)
    started = time.monotonic()
    assert not bound.acquire(urgent=False), "one more check would hold another thread"
    assert time.monotonic() - started < 1.0
    reports = [
        threading.Thread(target=take, args=(f"report{n}", True)) for n in range(bound.max_waiting)
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
    assert not bound.acquire(urgent=False)
    assert 0.15 < time.monotonic() - started < 2.0
    report: list[bool] = []
    waiter = threading.Thread(target=lambda: report.append(bound.acquire()))
    waiter.start()
    time.sleep(0.4)
    assert not report, "the report still waits past the check's wait"
    bound.release()
    waiter.join(timeout=5)
    assert report == [True]


def test_reading_answers_gives_way_and_messages_do_not(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The views ask for a slot as what they are: a report or a follow-up urgent, a check not."""
    asked: list[bool] = []
    acquire = KdfBound.acquire

    def recording(bound: KdfBound, urgent: bool = True) -> bool:
        asked.append(urgent)
        return acquire(bound, urgent)

    monkeypatch.setattr(KdfBound, "acquire", recording)
    receipt = receipt_of(site.send())
    for message in ("", "ещё"):
        data = {"csrf_token": site.token("/check"), "receipt": receipt, "message": message}
        assert site.client.post("/check", data=data).status_code == 200
    assert asked == [True, False, True]
