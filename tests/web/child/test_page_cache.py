"""The school page kept rendered in each worker (issue 17): the same page as rendered afresh, a
new single-use token in each load, and a school read at every request, so a rotated code stops
at once on every instance and the new one shows its own page."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from flask import Flask, render_template, template_rendered
from sqlalchemy import select

from portal import create_app
from portal.config import RateLimits
from portal.enums import Priority
from portal.models import Inbox, School
from portal.services import registry, reports
from portal.web.child import pages
from portal.web.context import engine_of, get_config, get_session
from tests.worlds import TEXT, Site, World, receipt_of

TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


@contextmanager
def renders(app: Flask) -> Iterator[list[str]]:
    """The templates rendered meanwhile, by name."""
    names: list[str] = []

    def seen(_app: Flask, template: object, **_: object) -> None:
        names.append(str(getattr(template, "name", "")))

    template_rendered.connect(seen, app)
    try:
        yield names
    finally:
        template_rendered.disconnect(seen, app)


def token_in(body: str) -> str:
    found = TOKEN.search(body)
    assert found, "no form token on the page"
    return found.group(1)


def without_token(body: str) -> str:
    return TOKEN.sub('name="csrf_token" type="hidden" value="-"', body)


@contextmanager
def another_instance(site: Site) -> Iterator[Flask]:
    """A second app on the same database (and Redis prefix): another worker or server."""
    with site.app.app_context():
        config = get_config()
    other = create_app(config)
    try:
        yield other
    finally:
        engine_of(other).dispose()


def test_the_page_is_rendered_once_and_each_load_gets_a_new_token(site: Site) -> None:
    with renders(site.app) as rendered:
        first = site.client.get(site.page)
        second = site.client.get(site.page)
    assert rendered.count("child/school.html") == 1
    one, two = first.get_data(as_text=True), second.get_data(as_text=True)
    assert token_in(one) != token_in(two)
    assert without_token(one) == without_token(two)
    assert second.headers["Cache-Control"] == "no-store" and "Set-Cookie" not in second.headers
    assert second.mimetype == "text/html"


def test_the_kept_page_is_the_page_rendered_afresh(site: Site) -> None:
    """Each language, /s/ and /S/, the code as typed: the kept page is the one the template
    gives with its templates reloading (nothing kept)."""
    paths = [site.page, f"/S/{site.code}", f"/s/{site.code.lower()}"]
    kept = {}
    for path in paths:
        for language in ("kk", "ru", "en"):
            headers = {"Accept-Language": language}
            site.client.get(path, headers=headers)
            kept[path, language] = site.client.get(path, headers=headers).get_data(as_text=True)
    site.app.jinja_env.auto_reload = True  # what development does: nothing kept
    for (path, language), body in kept.items():
        fresh = site.client.get(path, headers={"Accept-Language": language})
        assert without_token(fresh.get_data(as_text=True)) == without_token(body)
    assert len({without_token(body) for body in kept.values()}) == len(kept)


def test_a_token_of_a_kept_page_sends_once(site: Site) -> None:
    site.client.get(site.page)
    token = token_in(site.client.get(site.page).get_data(as_text=True))
    data = {"csrf_token": token, "message": TEXT, "danger": "no"}
    assert receipt_of(site.client.post(site.page, data=data))
    assert site.client.post(site.page, data=data).status_code == 409
    assert len(site.reports()) == 1


def test_a_token_of_a_kept_page_is_bound_to_its_school_and_language(site: Site) -> None:
    for _ in range(2):
        ru_page = site.client.get(site.page, headers={"Accept-Language": "ru"})
    token = token_in(ru_page.get_data(as_text=True))
    data = {"csrf_token": token, "message": TEXT, "danger": "no"}
    with site.app.app_context():
        other = get_session().scalar(select(School.code).where(School.code != site.code))
    assert site.client.post(f"/s/{other}?lang=ru", data=data).status_code == 400
    assert site.client.post(site.page + "?lang=kk", data=data).status_code == 400
    assert receipt_of(site.client.post(site.page + "?lang=ru", data=data))


def test_a_code_rotated_on_another_instance_stops_here_at_once(site: Site) -> None:
    old = site.page
    for _ in range(2):
        kept = site.client.get(old).get_data(as_text=True)
    with another_instance(site) as other, other.app_context():
        session = get_session()
        school = session.scalars(select(School).where(School.code == site.code)).one()
        rotated = registry.rotate_code(
            session, school.school_id, actor=None, server_secret=get_config().secret_key
        )
        new_code, new_word = rotated.code, rotated.check_word
    assert site.client.get(old).status_code == 404
    sent = site.client.post(old, data={"csrf_token": token_in(kept), "message": TEXT})
    assert sent.status_code == 404
    assert site.reports() == []
    page = site.client.get(f"/s/{new_code}").get_data(as_text=True)
    assert new_word in page and f"/s/{new_code}?lang=" in page and site.code not in page
    data = {"csrf_token": token_in(page), "message": TEXT, "danger": "no"}
    assert receipt_of(site.client.post(f"/s/{new_code}", data=data))


def test_a_school_renamed_on_another_instance_shows_its_new_name(site: Site) -> None:
    for _ in range(2):
        site.client.get(site.page, headers={"Accept-Language": "ru"})
    with another_instance(site) as other, other.app_context():
        session = get_session()
        school = session.scalars(select(School).where(School.code == site.code)).one()
        school.name_ru = "Школа имени переименования"
        session.commit()
    page = site.client.get(site.page, headers={"Accept-Language": "ru"})
    assert "Школа имени переименования" in page.get_data(as_text=True)


def test_a_deactivated_school_is_gone_at_once(site: Site) -> None:
    for _ in range(2):
        site.client.get(site.page)
    with another_instance(site) as other, other.app_context():
        session = get_session()
        school = session.scalars(select(School).where(School.code == site.code)).one()
        registry.set_active(
            session, school.school_id, False, actor=None, server_secret=get_config().secret_key
        )
    assert site.client.get(site.page).status_code == 404


def test_the_kept_pages_are_bounded_and_the_least_recently_used_go_first() -> None:
    kept = pages.RenderedPages(size=2)
    assert kept.keep("a", b"<a>TOKEN</a>", b"TOKEN")
    assert kept.keep("b", b"<b>TOKEN</b>", b"TOKEN")
    assert kept.get("a") == (b"<a>", b"</a>")  # a is now the most recent
    assert kept.keep("c", b"<c>TOKEN</c>", b"TOKEN")
    assert len(kept) == 2 and kept.get("b") is None and kept.get("a") is not None


def test_a_page_without_its_token_once_exactly_is_not_kept() -> None:
    kept = pages.RenderedPages()
    assert not kept.keep("none", b"<p></p>", b"TOKEN")
    assert not kept.keep("twice", b"TOKEN TOKEN", b"TOKEN")
    assert len(kept) == 0


def test_the_pages_read_of_a_school_agrees_with_the_reports_one(world: World) -> None:
    """The page reads its columns (reports.school_for_page), the POST its own (school_and_inbox):
    the same school, shown the same, open exactly when an inbox receives its reports."""
    session = world.session
    for school in (world.regional_school, world.national_school):
        for typed in (school.code, school.code.lower()):
            page, posted = (
                reports.school_for_page(session, typed),
                reports.school_and_inbox(session, typed),
            )
            assert page is not None and posted is not None
            shown, receiving = page
            assert (shown.id, shown.code, shown.check_word) == (
                posted[0].id,
                posted[0].code,
                posted[0].check_word,
            )
            assert shown.name_for("ru") == posted[0].name_for("ru")
            assert shown.name_for("kk") == posted[0].name_for("kk")
            assert receiving is (posted[1] is not None)
            assert shown not in session  # never written back by a flush
    for typed in ("not a code", "ZZZZZZZZ"):
        assert reports.school_for_page(session, typed) is None


def test_a_school_page_without_an_inbox_has_no_form(site: Site) -> None:
    with site.app.app_context():
        session = get_session()
        for inbox in session.scalars(select(Inbox)):
            session.delete(inbox)
        session.commit()
    for _ in range(2):
        page = site.client.get(site.page)
        assert page.status_code == 200 and "csrf_token" not in page.get_data(as_text=True)


# ---- the thank-you page, kept with marks where the receipt goes ---------------------------


# One client sends a dozen reports here.
# One client sends a dozen reports at once: over its own count, and over the share of the
# service's count that clients which sent before may take (ratelimit.REPEAT_SHARE).
MANY = RateLimits(client_messages="100/minute", all_messages="400/second")


def receipt_groups(receipt: str) -> list[str]:
    return [receipt[start : start + 4] for start in range(0, 16, 4)]


def test_the_thanks_page_is_rendered_once_per_language_and_kind(site: Site) -> None:
    with renders(site.app) as rendered:
        for danger in ("no", "yes", "no", "yes"):
            assert receipt_of(site.send(danger=danger))
    assert rendered.count("child/thanks.html") == 2
    with site.app.app_context():
        kept = pages.receipt_pages()
        assert kept is not None and len(kept) == 2


def test_the_kept_thanks_page_never_holds_a_receipt(
    make_site: Callable[[RateLimits], Site],
) -> None:
    """Only the marked page is kept: no receipt shown, nor any group of one, is in it."""
    site = make_site(MANY)
    shown = []
    for language in ("kk", "ru", "en"):
        for danger in ("no", "yes", "no"):
            token = site.token(f"{site.page}?lang={language}")
            data = {"csrf_token": token, "message": TEXT, "danger": danger}
            response = site.client.post(f"{site.page}?lang={language}", data=data)
            shown.append(receipt_of(response))
            assert not any(mark in response.get_data(as_text=True) for mark in pages.RECEIPT_MARKS)
    with site.app.app_context():
        kept = pages.receipt_pages()
        assert kept is not None and len(kept) == 6
        for page in kept.pages():
            assert all(page.count(mark) == 2 for mark in pages.RECEIPT_MARKS)
            for receipt in shown:
                assert not any(group in page for group in receipt_groups(receipt)), receipt


def test_the_kept_thanks_page_filled_in_is_the_page_rendered_afresh(
    make_site: Callable[[RateLimits], Site],
) -> None:
    """Byte for byte, padding included (its size must not tell whether 'in danger' was ticked,
    issue 20), in each language and kind: the filled page is what the template gives with the
    templates reloading (nothing kept) for the same receipt."""
    from portal.services.intake import SentReport
    from portal.web.child import views

    site = make_site(MANY)
    for language in ("kk", "ru", "en"):
        for danger in ("no", "yes"):
            path = f"{site.page}?lang={language}"
            for _ in range(2):  # the second is filled in from the kept page
                data = {"csrf_token": site.token(path), "message": TEXT, "danger": danger}
                response = site.client.post(path, data=data)
            body = response.get_data(as_text=True)
            sent = SentReport(receipt_of(response), Priority.P3, in_danger=danger == "yes")
            with site.app.test_request_context(path, method="POST"):
                site.app.jinja_env.auto_reload = True
                try:
                    fresh = render_template("child/thanks.html", sent=sent)
                finally:
                    site.app.jinja_env.auto_reload = False
                assert body == views._padded(fresh, views.THANKS_PAGE_BYTES)
            assert len(body.encode()) == views.THANKS_PAGE_BYTES


def test_a_page_without_every_mark_is_not_kept() -> None:
    kept = pages.ReceiptPages()
    assert not kept.keep("key", "<p>1234 5678 9012 3456</p>")
    assert len(kept) == 0 and kept.get("key") is None
    with pytest.raises(ValueError, match="4 groups"):
        pages.fill(" ".join(pages.RECEIPT_MARKS), ["1234", "5678"])
