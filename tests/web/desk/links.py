"""Enrolment links over real HTTP, and what a reader of the access logs can do with them.

Shared by the development server's test (tests/web/test_logs.py) and gunicorn's
(tests/prod/test_gunicorn.py): an admin invites and resets, the members open their links, and
someone who read every access log line tries every path and word of it (security review,
issue 13): they must neither enrol, nor reset, nor see a TOTP secret.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import pyotp

from tests.prod.servers import Browser, Reply

ENROL = "/staff/people/enrol"
# The log reader's address, as the trusted proxy of a server that has one reports it.
LOG_READER = "10.0.111.1"
LINK = re.compile(r'id="link" class="link" type="text" readonly value="https?://[^/"]+([^"]+)"')
SECRET = re.compile(r'<p class="secret" id="secret">([A-Z2-7 ]+)</p>')
# A request line's target; the development server may colour the line (ANSI escapes).
TARGET = re.compile(r"\b(?:GET|POST|HEAD) (\S+) HTTP/")
PERSON = r'<a href="/staff/people/(\d+)">{email}</a>'


def post_form(browser: Browser, url: str, **fields: str) -> Reply:
    """Load the page at url, then post its form with these fields and its form token."""
    return browser.open(url, {"csrf_token": browser.open(url).token(), **fields})


def log_in(base: str, email: str, password: str, totp_secret: str) -> Browser:
    """A browser logged in to the desk."""
    browser = Browser()
    done = post_form(
        browser,
        f"{base}/staff/login",
        email=email,
        password=password,
        code=pyotp.TOTP(totp_secret).now(),
    )
    assert "/staff/login" not in done.url, done.body
    return browser


@dataclass(frozen=True)
class Links:
    """The links an admin's pages showed: an invitation and a TOTP reset."""

    invitation: str
    reset: str


def make_links(base: str, admin: Browser, invitee: str, member: str) -> Links:
    """Invite invitee and reset member's TOTP through the admin's pages."""
    token = admin.open(f"{base}/staff/people/").token()
    invited = admin.open(
        f"{base}/staff/people/invite", {"csrf_token": token, "email": invitee, "role": "triage"}
    )
    people = admin.open(f"{base}/staff/people/").body
    found = re.search(PERSON.format(email=re.escape(member)), people)
    assert found, people
    person = f"{base}/staff/people/{found.group(1)}"
    reset = admin.open(f"{person}/reset-totp", {"csrf_token": admin.open(person).token()})
    return Links(_link_of(invited), _link_of(reset))


def _link_of(page: Reply) -> str:
    found = LINK.search(page.body)
    assert found, page.body
    return html.unescape(found.group(1))


def open_link(base: str, browser: Browser, link: str) -> Reply:
    """What a browser does with the link: it requests the part before '#' and the page (its
    script, or the member pasting) posts the whole link."""
    path, _hash, _token = link.partition("#")
    page = browser.open(base + path)
    return browser.open(
        base + ENROL, {"csrf_token": page.token(), "step": "open", "link": base + link}
    )


def finish(base: str, browser: Browser, password: str) -> str:
    """The password step, then the code of the secret shown; returns the secret."""
    shown = post_form(
        browser, base + ENROL, step="password", password=password, password_again=password
    )
    found = SECRET.search(shown.body)
    assert found, (shown.status, shown.body)
    secret = found.group(1).replace(" ", "")
    done = browser.open(
        base + ENROL,
        {"csrf_token": shown.token(), "step": "code", "code": pyotp.TOTP(secret).now()},
    )
    assert done.url.endswith("/staff/login") and "authenticator is set up" in done.body, done.body
    return secret


def try_the_log(base: str, log: str, links: Links, passwords: list[str]) -> None:
    """Everything a log reader can try: every path logged, and every word of it that could be a
    link; even knowing the members' passwords they get no password step and no secret."""
    for link in (links.invitation, links.reset):
        assert re.split(r"[#/]", link)[-1] not in log, "a link token is in the log"
    targets = set(TARGET.findall(log))
    assert any(target.startswith(ENROL) for target in targets), log  # the log saw the pages
    words = {
        word
        for target in targets
        for word in [target, *re.split(r"[/?&=#]", target)]
        if "enrol" in word or (len(word) >= 20 and "/" not in word)
    }
    # The reader is not the members: on a server behind a trusted proxy, another client, whose
    # tries (as many as the log has words) never count against the members' enrolment limit.
    for target in sorted(targets):
        page = Browser(client=LOG_READER).open(base + target)
        assert SECRET.search(page.body) is None and "otpauth" not in page.body, target
    for word in sorted(words):
        reader = Browser(client=LOG_READER)
        page = reader.open(base + ENROL)
        opened = reader.open(
            base + ENROL, {"csrf_token": page.token(), "step": "open", "link": word}
        )
        assert opened.status in (200, 404, 410), (word, opened.status)
        assert 'name="step" value="password"' not in opened.body, word
        for password in passwords:
            tried = post_form(
                reader, base + ENROL, step="password", password=password, password_again=password
            )
            assert tried.status in (200, 404, 410), (word, tried.status)
            assert SECRET.search(tried.body) is None and 'value="code"' not in tried.body, word
