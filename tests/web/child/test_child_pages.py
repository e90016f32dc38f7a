"""What the child's pages give away and how they read (issues 16 and 20): one title, no
autocomplete, the thank-you page's size, the danger page's order, the pages of their own."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import render_template

from portal.config import RateLimits
from portal.web.child.forms import CheckForm
from portal.web.child.views import THANKS_PAGE_BYTES
from portal.web.i18n import LANGUAGES
from portal.web.security import CONTENT_SECURITY_POLICY
from tests.web.child.test_child_form import assert_problem_first
from tests.worlds import TEXT, Site, receipt_of


def title_of(body: str) -> str:
    """The page's <title>."""
    found = re.search(r"<title>(.*?)</title>", body, re.S)
    assert found, "no title"
    return found.group(1)


def check(site: Site, receipt: str, **fields: str) -> str:
    """The page /check answers for this receipt (and a follow-up, if given)."""
    data = {"csrf_token": site.token("/check"), "receipt": receipt, **fields}
    return site.client.post("/check", data=data).get_data(as_text=True)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_thank_you_page_has_one_size_whether_or_not_the_child_is_in_danger(
    site: Site, language: str
) -> None:
    """A log's byte count or a network reader's must not tell the danger answer (issue 20)."""
    answers = {}
    for danger in ("no", "yes"):
        page = f"{site.page}?lang={language}"  # the token is bound to the page's language
        data = {"csrf_token": site.token(page), "message": TEXT, "danger": danger}
        response = site.client.post(page, data=data)
        assert receipt_of(response)
        answers[danger] = response
    assert "tel:112" in answers["yes"].get_data(as_text=True)[:3000]  # the pages do differ
    sizes = {danger: len(response.get_data()) for danger, response in answers.items()}
    assert sizes["no"] == sizes["yes"] == THANKS_PAGE_BYTES, sizes
    lengths = {response.headers["Content-Length"] for response in answers.values()}
    assert lengths == {str(sizes["no"])}


def test_every_child_page_has_one_neutral_title(site: Site) -> None:
    """A phone's history shows the same title for the form, the receipt and the conversation."""
    school = site.client.get(site.page).get_data(as_text=True)
    thanks = site.send().get_data(as_text=True)
    receipt = receipt_of(site.client.post(site.page, data=dict(fresh(site))))
    pages = [
        school,
        thanks,
        site.client.get("/").get_data(as_text=True),
        site.client.get("/check").get_data(as_text=True),
        check(site, receipt),
        check(site, receipt, message="Ещё одно"),
    ]
    assert len({title_of(body) for body in pages}) == 1
    assert title_of(school) == "QR 111: help for children"


def fresh(site: Site) -> dict[str, str]:
    """The fields of a report from a freshly loaded page."""
    return {"csrf_token": site.token(), "message": TEXT, "danger": "no"}


def test_no_form_lets_the_browser_remember_what_was_typed(site: Site) -> None:
    receipt = receipt_of(site.send())
    pages = [
        site.client.get(site.page).get_data(as_text=True),
        site.client.get("/check").get_data(as_text=True),
        check(site, receipt),
    ]
    for body in pages:
        forms = re.findall(r"<form [^>]*>", body)
        assert forms and all('autocomplete="off"' in form for form in forms), forms


def test_the_danger_thanks_page_has_the_numbers_first_one_h1_and_asks_nothing_again(
    site: Site,
) -> None:
    body = site.send(danger="yes").get_data(as_text=True)
    assert body.count("<h1") == 1
    assert body.index("<h1") < body.index('href="tel:112"') < body.index("Thank you.")
    assert "In danger right now?" not in body
    ordinary = site.send().get_data(as_text=True)
    assert ordinary.count("<h1") == 1 and "In danger right now?" in ordinary


def test_the_form_says_what_the_school_wifi_sees_and_has_a_way_down(site: Site) -> None:
    body = site.client.get(site.page).get_data(as_text=True)
    assert "On mobile data, the school can't see it." in body
    assert body.index('<a href="#write">') < body.index('<form class="report" id="write"')


def test_a_wrong_code_is_a_problem_at_the_top(site: Site) -> None:
    body = check(site, "0000 0000 0000 0000")
    assert "We could not find this code." in body
    assert_problem_first(body)


def test_too_many_wrong_codes_has_a_page_of_its_own(
    make_site: Callable[[RateLimits], Site],
) -> None:
    """Not "too many messages, press Send": there is nothing to send."""
    site = make_site(RateLimits(receipt_failures="1/hour", receipt_retries="1/hour"))
    check(site, "0000 0000 0000 0000")
    check(site, "0000 0000 0000 0000")  # the retry shared by everyone over their limit
    data = {"csrf_token": site.token("/check"), "receipt": "1111 1111 1111 1111"}
    refused = site.client.post("/check", data=data)
    body = refused.get_data(as_text=True)
    assert refused.status_code == 429
    assert "You typed a wrong code too many times." in body
    assert "Too many messages" not in body and "<form" not in body  # no empty box, no Send
    assert "There is a problem" in title_of(body)


def test_the_check_page_names_the_button_it_has(site: Site) -> None:
    """On /check the button says "Open": a problem there never says "press Send"."""
    with site.app.test_request_context("/check?lang=en"):
        for problem in ("limited", "server"):
            body = render_template("child/check.html", form=CheckForm(), problem=problem)
            assert "press Open again" in body or "Press Open again" in body
            assert "Send again" not in body


def test_the_icon_is_allowed_and_robots_are_told_to_stay_away(site: Site) -> None:
    assert "img-src 'self' data:" in CONTENT_SECURITY_POLICY
    robots = site.client.get("/robots.txt")
    assert robots.status_code == 200 and robots.mimetype == "text/plain"
    assert robots.get_data(as_text=True) == "User-agent: *\nDisallow: /\n"
