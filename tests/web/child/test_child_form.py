"""The child's form, receipt and conversation over HTTP: every path keeps the typed text."""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Callable

import pytest

from portal.config import RateLimits
from portal.enums import Category, Priority
from portal.services import intake
from tests.worlds import TEXT, Site, receipt_of, typed_back


def test_the_page_has_the_numbers_first_then_the_form_and_sets_no_cookie(site: Site) -> None:
    response = site.client.get(site.page)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"
    assert body.index('href="tel:112"') < body.index("<form")
    for number in ("112", "102", "103", "111"):
        assert f'href="tel:{number}"' in body
    for category in Category:
        assert f'value="{category.value}"' in body
    assert 'class="quick-exit"' in body and 'name="homepage"' in body
    assert "<script>" not in body  # only our own external script, as the CSP demands


def test_a_report_gets_a_receipt_that_opens_its_conversation(site: Site) -> None:
    response = site.send(category="bullying")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers
    receipt = receipt_of(response)
    assert site.reports() == [(Category.BULLYING, Priority.P3, 1)]
    spaced = " ".join(receipt[i : i + 4] for i in range(0, 16, 4))
    opened = site.client.post(
        "/check", data={"csrf_token": site.token("/check"), "receipt": spaced}
    )
    assert opened.status_code == 200
    assert opened.headers["Cache-Control"] == "no-store"
    assert typed_back(opened)


def test_the_child_writes_more_and_sees_it_in_order(site: Site) -> None:
    receipt = receipt_of(site.send())
    follow_up = "Ещё хочу сказать: это было вчера."
    data = {"csrf_token": site.token("/check"), "receipt": receipt, "message": follow_up}
    response = site.client.post("/check", data=data)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.index(html.escape(TEXT, quote=False)) < body.index(follow_up)
    assert site.reports()[0][2] == 2


@pytest.mark.parametrize(
    ("fields", "priority"),
    [
        ({"danger": "yes"}, Priority.P1),
        ({"message": "я больше не хочу жить, у меня есть таблетки"}, Priority.P1),
        ({"category": "home"}, Priority.P2),
        ({"category": "online"}, Priority.P3),
        ({}, Priority.P3),
    ],
)
def test_priority_is_set_at_intake(site: Site, fields: dict[str, str], priority: Priority) -> None:
    assert site.send(**fields).status_code == 200
    assert site.reports()[0][1] is priority


def test_a_danger_report_shows_the_emergency_numbers_first(site: Site) -> None:
    body = site.send(danger="yes").get_data(as_text=True)
    assert body.index('href="tel:112"') < body.index('class="receipt"')


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({"message": "   "}, ""),  # empty: a message asks for a few words
        ({"message": "я" * 5001}, "я" * 5001),  # too long: the text comes back to shorten
        ({"csrf_token": ""}, TEXT),  # missing token
        ({"csrf_token": "forged.token.value"}, TEXT),
        ({"category": "astrology"}, TEXT),  # not one of ours
        ({"grade": "12"}, TEXT),
        ({"danger": "maybe"}, TEXT),
    ],
)
def test_bad_input_brings_the_form_back_with_the_text(
    site: Site, fields: dict[str, str], text: str
) -> None:
    response = site.send(**fields)
    assert response.status_code == 400
    assert typed_back(response, text)
    assert_problem_first(response.get_data(as_text=True))
    assert site.reports() == []


def assert_problem_first(body: str) -> None:
    """The page says there is a problem in its title and, before anything else, in a summary
    that the browser focuses when it opens (autofocus: no script needed)."""
    title = body[body.index("<title>") : body.index("</title>")]
    assert "There is a problem" in title
    summary = body.index('<section class="summary" tabindex="-1" autofocus')
    assert summary < body.index('href="tel:112"') and summary < body.index("<h1")


def test_an_expired_token_keeps_the_text_and_says_so(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("portal.web.child.forms.TOKEN_LIFETIME_SECONDS", -1)
    response = site.send()
    assert response.status_code == 400
    assert typed_back(response)
    assert "press Send again" in response.get_data(as_text=True)


def test_enter_brings_the_form_back_with_everything_and_sends_nothing(site: Site) -> None:
    """Without JavaScript, Enter in the form presses its first submit button, the hidden one:
    the page comes back with every answer in it and says to press Send; the token still sends."""
    page = site.client.get(site.page).get_data(as_text=True)
    assert page.index('name="enter"') < page.index('class="send"')  # the default button
    fields = {"csrf_token": site.token(), "message": TEXT, "danger": "yes", "grade": "7"}
    fields["category"] = "bullying"
    response = site.client.post(site.page, data={**fields, "enter": "1"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and site.reports() == []
    assert "Your message is not sent yet. Check it, then press Send." in body
    assert_problem_first(body)
    assert typed_back(response)
    assert re.search(r'value="bullying"\s+checked', body) and re.search(
        r'value="yes"\s+checked', body
    )
    assert 'selected value="7"' in body
    assert receipt_of(site.client.post(site.page, data=fields))  # the same page's token sends
    assert [report[:2] for report in site.reports()] == [(Category.BULLYING, Priority.P1)]


def test_a_filled_honeypot_stores_nothing_and_keeps_the_text(site: Site) -> None:
    response = site.send(homepage="http://spam.example")
    assert response.status_code == 400
    assert typed_back(response)
    assert site.reports() == []


def test_a_failure_of_ours_keeps_the_text(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(intake, "send_report", broken)
    response = site.send()
    assert response.status_code == 500
    assert typed_back(response)
    assert "call 111" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "text",
    [
        "emoji 🆘🔪🙂 and RTL مرحبا and ZWJ 👩‍👧 and combining й",
        "null\x00 bytes\x07 and \ufeff BOM and \u202e override",
        "\U0010fffd private use and 𝕄𝕒𝕥𝕙",
    ],
)
def test_any_unicode_is_stored_and_read_back(site: Site, text: str) -> None:
    receipt = receipt_of(site.send(message=text))
    opened = site.client.post(
        "/check", data={"csrf_token": site.token("/check"), "receipt": receipt}
    )
    assert opened.status_code == 200
    assert "\x00" not in opened.get_data(as_text=True)


def test_a_huge_body_gets_the_413_page(site: Site) -> None:
    response = site.send(message="x" * 400_000)
    assert response.status_code == 413
    assert 'href="tel:111"' in response.get_data(as_text=True)


def test_an_unknown_code_on_send_is_404_with_the_text(site: Site) -> None:
    data = {"csrf_token": site.token(), "message": TEXT}
    response = site.client.post("/s/ZZZZZZZZ", data=data)
    assert response.status_code == 404
    assert typed_back(response)


def test_a_wrong_receipt_is_404_and_keeps_what_was_typed(site: Site) -> None:
    site.send()
    data = {"csrf_token": site.token("/check"), "receipt": "1111 2222 3333 4444", "message": TEXT}
    response = site.client.post("/check", data=data)
    assert response.status_code == 404
    assert "1111 2222 3333 4444" in response.get_data(as_text=True)
    assert typed_back(response)
    assert site.reports()[0][2] == 1


def test_too_many_reports_from_one_client_get_a_calm_429(
    make_site: Callable[[RateLimits], Site],
) -> None:
    site = make_site(RateLimits(client_messages="2/minute"))
    assert site.send().status_code == 200
    assert site.send(message="   ").status_code == 400  # refused input does not count
    assert site.send().status_code == 200
    response = site.send()
    assert response.status_code == 429
    assert typed_back(response)
    assert 'href="tel:111"' in response.get_data(as_text=True)
    assert len(site.reports()) == 2


def test_the_school_limit_refuses_only_clients_that_sent_before(
    make_site: Callable[[RateLimits], Site],
) -> None:
    """Junk to a school cannot silence it (issue 14): over the school's count, a child at an
    address that sent nothing yet still gets a receipt; a second message from it is refused."""
    site = make_site(RateLimits(school_messages="1/hour"))
    assert site.send().status_code == 200
    assert site.send().status_code == 429  # the same client again: over the school's count
    other = dataclasses.replace(site, client=site.app.test_client())
    other.client.environ_base.update(REMOTE_ADDR="198.51.100.9", HTTP_ACCEPT_LANGUAGE="en")
    assert receipt_of(other.send())  # same school, a new client
    assert other.send().status_code == 429
    assert len(site.reports()) == 2


def test_the_global_limit_applies_to_everyone(make_site: Callable[[RateLimits], Site]) -> None:
    site = make_site(RateLimits(all_messages="1/minute"))
    assert site.send().status_code == 200
    other = dataclasses.replace(site, client=site.app.test_client())
    other.client.environ_base.update(REMOTE_ADDR="198.51.100.9", HTTP_ACCEPT_LANGUAGE="en")
    assert other.send().status_code == 429


def test_repeat_messages_leave_room_in_the_global_count_for_first_ones(
    make_site: Callable[[RateLimits], Site],
) -> None:
    """Clients that sent before take at most a quarter of the whole service's count: past it
    they are refused while a child at a new address still gets a receipt, until the count
    itself is full (issue 14, bench/flood.py (e))."""
    site = make_site(RateLimits(all_messages="8/minute"))  # repeats: 2 a minute
    assert site.send().status_code == 200  # a first message, counted in both
    assert site.send().status_code == 200  # a repeat: the repeats' share is full
    refused = site.send()
    assert refused.status_code == 429 and typed_back(refused)
    newcomers = [dataclasses.replace(site, client=site.app.test_client()) for _ in range(7)]
    answers = []
    for number, newcomer in enumerate(newcomers):
        newcomer.client.environ_base.update(REMOTE_ADDR=f"198.51.100.{number + 1}")
        answers.append(newcomer.send().status_code)
    assert answers == [200] * 6 + [429]  # the whole count (8) is full
    assert newcomers[0].send().status_code == 429  # its second: a repeat
    assert len(site.reports()) == 8


def test_wrong_receipts_are_limited_hard(make_site: Callable[[RateLimits], Site]) -> None:
    """Past its own limit a client's checks share the retries of everyone over theirs: a right
    code from the same address (a classmate behind the school's NAT) still opens (issue 14)
    while they last; only wrong codes spend them."""
    site = make_site(RateLimits(receipt_failures="2/hour", receipt_retries="2/hour"))
    receipt = receipt_of(site.send())
    wrong = "0000 0000 0000 0000"
    tries = [(wrong, 404), (wrong, 404), (receipt, 200), (wrong, 404), (wrong, 404), (receipt, 429)]
    for typed, status in tries:
        data = {"csrf_token": site.token("/check"), "receipt": typed}
        assert site.client.post("/check", data=data).status_code == status
