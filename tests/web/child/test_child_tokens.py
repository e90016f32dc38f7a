"""The child's form tokens: bound to the school and the language of the page, good once; a page
sent again shows nothing of the first time, one never used comes back to be sent (issues 14, 20)."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import time_machine
from sqlalchemy import select

from portal import clock
from portal.models import Entry, School
from portal.web.child.forms import TOKEN_LIFETIME_SECONDS
from portal.web.context import get_session
from tests.worlds import TEXT, Site, receipt_of, typed_back

RECEIPT_DIGITS = re.compile(r"\d{4}\D{0,40}\d{4}\D{0,40}\d{4}\D{0,40}\d{4}")
ALREADY_SENT = "This page was already sent. Nothing was sent again."
PLACEHOLDER = 'placeholder="0000 0000 0000 0000"'  # the receipt box's, not a receipt


def other_school_page(site: Site) -> str:
    with site.app.app_context():
        codes = get_session().scalars(select(School.code).where(School.code != site.code))
        return f"/s/{next(iter(codes))}"


def shows_nothing_of(body: str, *words: str) -> bool:
    return not RECEIPT_DIGITS.search(body) and not any(word in body for word in words)


def test_a_report_page_sent_again_stores_nothing_and_shows_no_receipt_or_words(site: Site) -> None:
    data = {"csrf_token": site.token(), "message": TEXT, "danger": "no"}
    first = site.client.post(site.page, data=data)
    receipt = receipt_of(first)
    again = site.client.post(site.page, data=data)
    body = again.get_data(as_text=True)
    assert again.status_code == 409
    assert ALREADY_SENT in body and "<form" not in body
    assert shows_nothing_of(body, TEXT, receipt, receipt[:4])
    assert again.headers["Cache-Control"] == "no-store"
    assert len(site.reports()) == 1


def test_a_check_sent_again_shows_no_conversation_and_stores_no_follow_up(site: Site) -> None:
    receipt = receipt_of(site.send())
    data = {"csrf_token": site.token("/check"), "receipt": receipt, "message": "ещё раз"}
    assert site.client.post("/check", data=data).status_code == 200
    again = site.client.post("/check", data=data)
    body = again.get_data(as_text=True)
    assert again.status_code == 409
    assert shows_nothing_of(body, TEXT, "ещё раз", receipt, receipt[-4:])
    with site.app.app_context():
        assert len(get_session().scalars(select(Entry)).all()) == 2  # the report, one follow-up


def test_two_sends_of_one_page_at_once_store_one_report(site: Site) -> None:
    data = {"csrf_token": site.token(), "message": TEXT, "danger": "no"}
    statuses: list[int] = []

    def post() -> None:
        client = site.app.test_client()
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"  # the token's language
        statuses.append(client.post(site.page, data=data).status_code)

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert sorted(statuses) == [200, 409, 409, 409]
    assert len(site.reports()) == 1


def test_a_token_of_another_school_or_language_sends_nothing_and_gives_the_text_back(
    site: Site,
) -> None:
    """Issue 14: one token from one school's page was accepted twice by another's form."""
    token = site.token()
    for page in (other_school_page(site), site.page + "?lang=ru"):
        refused = site.client.post(page, data={"csrf_token": token, "message": TEXT})
        assert refused.status_code == 400 and typed_back(refused)
    assert site.reports() == []
    sent = site.client.post(site.page, data={"csrf_token": token, "message": TEXT})
    assert receipt_of(sent), "refused elsewhere, the token was never used"


def test_a_refused_form_keeps_its_token_so_the_page_can_be_sent_again(site: Site) -> None:
    token = site.token()
    assert site.client.post(site.page, data={"csrf_token": token, "message": ""}).status_code == 400
    assert receipt_of(site.client.post(site.page, data={"csrf_token": token, "message": TEXT}))


def test_an_expired_token_never_used_brings_the_text_back_in_a_form_that_sends(
    site: Site,
) -> None:
    token = site.token()
    later = clock.now() + timedelta(seconds=TOKEN_LIFETIME_SECONDS + 1)
    with time_machine.travel(later, tick=False):
        refused = site.client.post(site.page, data={"csrf_token": token, "message": TEXT})
        assert refused.status_code == 400 and typed_back(refused)
        fresh = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', refused.text)
        assert fresh and fresh.group(1) != token
        sent = site.client.post(site.page, data={"csrf_token": fresh.group(1), "message": TEXT})
        assert receipt_of(sent)


def test_a_page_sent_again_after_its_token_expired_still_shows_nothing(site: Site) -> None:
    """Back and Resend days later (issue 20): a used token is remembered past its life, so the
    page still shows no receipt, conversation or words, and stores nothing."""
    report = {"csrf_token": site.token(), "message": TEXT, "danger": "no"}
    receipt = receipt_of(site.client.post(site.page, data=report))
    check = {"csrf_token": site.token("/check"), "receipt": receipt, "message": "ещё раз"}
    assert site.client.post("/check", data=check).status_code == 200
    later = clock.now() + timedelta(seconds=TOKEN_LIFETIME_SECONDS, days=6)
    with time_machine.travel(later, tick=False):
        for page, data in ((site.page, report), ("/check", check)):
            again = site.client.post(page, data=data)
            body = again.get_data(as_text=True)
            assert again.status_code == 409 and ALREADY_SENT in body
            assert shows_nothing_of(body, TEXT, "ещё раз", receipt, receipt[:4], receipt[-4:])
    assert [entries for *_, entries in site.reports()] == [2]


def test_a_check_refused_for_its_token_never_gives_the_receipt_back(site: Site) -> None:
    """An expired (never used) or broken token on /check: the words come back, the receipt not;
    such a page sent again is refused again, and would show it each time."""
    receipt = receipt_of(site.send())
    token = site.token("/check")
    later = clock.now() + timedelta(seconds=TOKEN_LIFETIME_SECONDS + 1)
    with time_machine.travel(later, tick=False):
        for csrf in (token, "broken"):
            data = {"csrf_token": csrf, "receipt": receipt, "message": "ещё раз"}
            refused = site.client.post("/check", data=data)
            body = refused.get_data(as_text=True).replace(PLACEHOLDER, "")
            assert refused.status_code == 400 and typed_back(refused, "ещё раз")
            assert shows_nothing_of(body, receipt, receipt[:4], receipt[-4:])
