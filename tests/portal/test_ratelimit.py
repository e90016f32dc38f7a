"""The child's limits: counted atomically, given back where a request must not count, refused
cheaply (a small page with the text) and slowly (a closed loop cannot spin on refusals)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable

import pytest
from werkzeug.test import TestResponse

from portal import intake, registry
from portal.config import RateLimits
from portal.kdf_bound import bound_of
from portal.ratelimit import SlowLane, limiter, slow_lane_of
from tests.portal.conftest import TEXT, Site, receipt_of, typed_back
from tests.portal.test_kdf_bound import all_slots_taken
from tests.portal.test_kdf_bound_order import wait_until

CONCURRENT = 5


def quick_refusals(site: Site) -> Site:
    """The slow lane's wait made short: these tests look at what is refused, not when."""
    slow_lane_of(site.app).seconds = 0.01
    return site


def test_concurrent_messages_of_one_client_cannot_slip_past_its_limit(
    make_site: Callable[[RateLimits], Site], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five at once against a limit of two: two stored, three refused (a check made before
    the response and a hit made after it let all five through)."""
    site = quick_refusals(make_site(RateLimits(client_messages="2/minute")))
    bound = bound_of(site.app)
    bound.wait_seconds = 10.0  # the others queue for the slot rather than get a 503
    inside, go = threading.Event(), threading.Event()
    real = intake.send_report

    def held(*args: object, **kwargs: object) -> intake.SentReport:
        inside.set()
        assert go.wait(10)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(intake, "send_report", held)
    form = {"csrf_token": site.token(), "message": TEXT, "category": "bullying"}
    answers: list[TestResponse] = []

    def post() -> None:
        answers.append(site.app.test_client().post(site.page, data=form))

    threads = [threading.Thread(target=post) for _ in range(CONCURRENT)]
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
    site = quick_refusals(
        make_site(
            RateLimits(client_messages="1/hour", school_messages="1/hour", all_messages="1/hour")
        )
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
    site = quick_refusals(make_site(RateLimits(receipt_failures="1/hour")))
    receipt = receipt_of(site.send())
    for _ in range(3):
        data = {"csrf_token": site.token("/check"), "receipt": receipt}
        assert site.client.post("/check", data=data).status_code == 200
    data = {"csrf_token": site.token("/check"), "receipt": "0000 0000 0000 0000"}
    assert site.client.post("/check", data=data).status_code == 404
    data = {"csrf_token": site.token("/check"), "receipt": receipt}
    assert site.client.post("/check", data=data).status_code == 429


def test_the_refusal_is_a_small_page_with_the_text_in_a_form_that_sends_it_again(
    make_site: Callable[[RateLimits], Site], monkeypatch: pytest.MonkeyPatch
) -> None:
    site = quick_refusals(make_site(RateLimits(client_messages="1/hour")))
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
    assert "You have sent many messages in a short time" in body
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
    site = quick_refusals(make_site(RateLimits(client_messages="1/hour")))
    receipt = receipt_of(site.send())
    data = {"csrf_token": site.token("/check"), "receipt": receipt, "message": TEXT}
    refused = site.client.post("/check", data=data)
    assert refused.status_code == 429
    assert typed_back(refused)
    assert receipt not in refused.get_data(as_text=True)


def test_a_client_over_its_limit_is_answered_late_a_busy_service_too(
    make_site: Callable[[RateLimits], Site],
) -> None:
    site = make_site(RateLimits(client_messages="1/hour"))
    slow_lane_of(site.app).seconds = 0.3
    assert receipt_of(site.send())
    started = time.monotonic()
    assert site.send().status_code == 429
    assert time.monotonic() - started >= 0.3
    other = {"REMOTE_ADDR": "198.51.100.7"}
    form = {"csrf_token": site.token(), "message": TEXT}
    with all_slots_taken(site.app):
        started = time.monotonic()
        assert site.client.post(site.page, data=form, environ_base=other).status_code == 503
        assert time.monotonic() - started >= 0.3


def test_the_service_wide_limit_answers_at_once(make_site: Callable[[RateLimits], Site]) -> None:
    """Not the client's fault: no wait (and a spread of clients holds no threads with it)."""
    site = make_site(RateLimits(all_messages="1/hour"))
    slow_lane_of(site.app).seconds = 5.0
    assert receipt_of(site.send())
    started = time.monotonic()
    response = site.client.post(
        site.page,
        data={"csrf_token": site.token(), "message": TEXT},
        environ_base={"REMOTE_ADDR": "198.51.100.8"},
    )
    assert response.status_code == 429
    assert time.monotonic() - started < 2.0


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
