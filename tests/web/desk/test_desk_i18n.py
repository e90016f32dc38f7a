"""The staff side in Kazakh, Russian and English: every page in the staff member's language,
WTForms' own messages too, a language switcher whose choice only the staff pages remember."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import timedelta
from http.cookies import SimpleCookie

import pytest
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse
from wtforms.i18n import get_translations

from portal.enums import Agency, AuditAction, Category, Status
from portal.models import AuditEvent, School
from portal.services import labels
from portal.web import i18n
from portal.web.access import COOKIE_PATH
from portal.web.context import get_session
from portal.web.desk.views import label, waited
from portal.web.i18n import LANGUAGES, STAFF_COOKIE, TRANSLATIONS
from tests.web.test_i18n import source_messages
from tests.worlds import Desk, form_token, report_id

# The words each page must show in each language (one per page is enough: the catalog tests
# check that every string has a translation; these check that the pages use them).
WORDS = {
    "login": {"kk": "Қызметкерлердің кіруі", "ru": "Вход для сотрудников", "en": "Staff login"},
    "inbox": {"kk": "Күтуде", "ru": "Ожидает", "en": "Waiting"},
    "report": {"kk": "Жауап жіберу", "ru": "Отправить ответ", "en": "Send reply"},
    "people": {"kk": "Қызметкерді шақыру", "ru": "Пригласить сотрудника", "en": "Invite someone"},
    "inboxes": {"kk": "Жаңа кезек", "ru": "Новая очередь", "en": "New inbox"},
    "schools": {"kk": "Мектеп ID-і", "ru": "ID школы", "en": "School id"},
    "figures": {"kk": "Санаттар бойынша", "ru": "По категориям", "en": "By category"},
    "audit": {"kk": "Аудит журналы", "ru": "Журнал аудита", "en": "Audit log"},
}
REQUIRED = "This field is required."  # WTForms' own message, in its own catalogs


def text_of(response: TestResponse) -> str:
    """What a reader sees of a page: its text without tags, entities decoded."""
    body = response.get_data(as_text=True)
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def lang_of(response: TestResponse) -> str:
    """The page's html lang attribute."""
    found = re.search(r'<html lang="([^"]+)"', response.get_data(as_text=True))
    assert found, "no html lang"
    return found.group(1)


def english_staff_phrases(language: str) -> set[str]:
    """English phrases of the catalog (two words or more) that read otherwise in `language`:
    none of them may be left on a page in that language."""
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as stream:
        catalog = read_po(stream, locale=language)
    phrases = set()
    for message in catalog:
        if not isinstance(message.id, str) or not message.id or message.string == message.id:
            continue
        # The fixed part before any placeholder: what would show if the string were untranslated.
        head = re.split(r"%\(\w+\)\d*[sd]", message.id)[0].strip(" :(")
        if len(head) >= 10 and " " in head:
            phrases.add(head)
    return phrases


def assert_in_language(response: TestResponse, language: str, page: str) -> None:
    """The page is in `language`: its words, its lang attribute, no English left over."""
    assert response.status_code == 200, page
    shown = text_of(response)
    assert WORDS[page][language] in shown, (page, language)
    assert lang_of(response) == language
    if language != "en":
        leftover = {phrase for phrase in english_staff_phrases(language) if phrase in shown}
        assert not leftover, (page, language, leftover)
        for other in set(LANGUAGES) - {language}:
            assert WORDS[page][other] not in shown, (page, language, other)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_staff_page_speaks_the_staff_language(desk: Desk, language: str) -> None:
    desk.site.send(category="home", danger="yes")
    assert_in_language(desk.client(language).get("/staff/login"), language, "login")
    triage = desk.log_in(desk.triage, language=language)
    inbox = triage.get("/staff/inbox")
    assert_in_language(inbox, language, "inbox")
    home = labels.CATEGORY[Category.HOME]
    with desk.site.app.test_request_context(f"/staff/?lang={language}"):
        assert str(home) in text_of(inbox)  # the category's label, not its value
        new = str(labels.STATUS[Status.NEW])
    report = triage.get(f"/staff/reports/{report_id(desk)}")
    assert_in_language(report, language, "report")
    assert new in text_of(report)
    admin = desk.log_in(desk.admin, language=language)
    for page, path in (
        ("people", "/staff/people/"),
        ("inboxes", "/staff/people/inboxes"),
        ("schools", "/staff/schools/"),
        ("figures", "/staff/figures/"),
        ("audit", "/staff/audit/"),
    ):
        assert_in_language(admin.get(path), language, page)
    with desk.site.app.test_request_context(f"/staff/?lang={language}"):
        opened = labels.label(AuditAction.REPORT_OPENED)
    assert opened in text_of(admin.get("/staff/audit/"))


@pytest.mark.parametrize("language", LANGUAGES)
def test_wtforms_messages_come_in_the_staff_language_only(desk: Desk, language: str) -> None:
    browser = desk.client(language)
    token = form_token(browser, "/staff/login")
    empty = browser.post("/staff/login", data={"csrf_token": token})
    assert empty.status_code == 200
    shown = text_of(empty)
    messages = {code: get_translations([code]).gettext(REQUIRED) for code in LANGUAGES}
    assert len(set(messages.values())) == 3  # WTForms has its own words for each of ours
    assert messages[language] in shown
    for other in set(LANGUAGES) - {language}:
        assert messages[other] not in shown, (language, other)


def test_our_own_form_messages_and_flashes_follow_the_language(desk: Desk) -> None:
    admin = desk.log_in(desk.admin, language="kk")
    token = form_token(admin, "/staff/people/")
    bad_role = admin.post(
        "/staff/people/invite", data={"csrf_token": token, "email": "x@111.kz", "role": "boss"}
    )
    assert "Рөлді таңдаңыз: әкімші, оператор немесе мектеп." in text_of(bad_role)
    expired = admin.post("/staff/people/invite", data={"email": "x@111.kz", "role": "triage"})
    assert "Беттің мерзімі өтіп кеткен" in text_of(expired)  # no English CSRF message
    assert "CSRF" not in text_of(expired)
    made = admin.post(
        "/staff/people/inboxes?lang=ru",
        data={"csrf_token": token, "name": "национальная", "region": ""},
    )
    assert "Название очереди — от 1 до 64 строчных латинских букв" in text_of(made)


def test_the_switcher_remembers_the_choice_for_staff_pages_only(desk: Desk) -> None:
    browser = desk.client("en")
    chosen = browser.get("/staff/login?lang=kk")
    cookie = chosen.headers["Set-Cookie"]
    assert cookie.startswith(f"{STAFF_COOKIE}=kk;")
    parsed = SimpleCookie(cookie)[STAFF_COOKIE]
    assert parsed["path"] == COOKIE_PATH == i18n.STAFF_PATH
    assert parsed["samesite"] == "Strict" and parsed["httponly"]
    assert int(parsed["max-age"]) > 30 * 24 * 3600
    # Remembered: the browser asks for English, the staff pages stay Kazakh.
    again = browser.get("/staff/login")
    assert lang_of(again) == "kk" and "Set-Cookie" not in again.headers
    # The child's pages neither see it nor set one, whatever ?lang= says.
    school = browser.get(f"/s/{desk.site.code}?lang=ru")
    assert lang_of(school) == "ru" and "Set-Cookie" not in school.headers
    assert lang_of(browser.get(f"/s/{desk.site.code}")) == "en"
    assert "Set-Cookie" not in browser.get("/check?lang=kk").headers
    # Switched back: a new value.
    assert (
        browser.get("/staff/login?lang=en").headers["Set-Cookie"].startswith(f"{STAFF_COOKIE}=en;")
    )
    # Something else than a language is ignored: no cookie, no error.
    odd = browser.get("/staff/login?lang=de")
    assert odd.status_code == 200 and "Set-Cookie" not in odd.headers


@pytest.mark.parametrize(
    ("accept", "expected"),
    [("kk-KZ,kk;q=0.9", "kk"), ("en-GB,en;q=0.8", "en"), ("de-DE,de", "ru"), (None, "ru")],
)
def test_without_a_choice_the_browser_decides_then_russian(
    desk: Desk, accept: str | None, expected: str
) -> None:
    browser = desk.site.app.test_client()
    headers = {"Accept-Language": accept} if accept else {}
    assert lang_of(browser.get("/staff/login", headers=headers)) == expected
    # The child's side keeps its own rule: Kazakh when the browser asks for none of ours.
    child = lang_of(browser.get(f"/s/{desk.site.code}", headers=headers))
    assert child == (expected if accept and expected != "ru" else "kk")


def test_switcher_links_keep_the_page_and_its_filters(desk: Desk) -> None:
    triage = desk.log_in(desk.triage, language="ru")
    page = triage.get("/staff/inbox?status=new&priority=p1").get_data(as_text=True)
    found = re.findall(r'<a href="([^"]+)" lang="(kk|en)" hreflang', page)
    links = {html.unescape(url): code for url, code in found}
    assert set(links.values()) == {"kk", "en"}
    for url in links:
        assert url.startswith("/staff/inbox?") and "status=new" in url and "priority=p1" in url
    assert '<span class="current" lang="ru"' in page
    switched = triage.get(next(url for url, code in links.items() if code == "kk"))
    assert lang_of(switched) == "kk" and "Күтуде" in text_of(switched)
    assert lang_of(triage.get("/staff/inbox")) == "kk"  # remembered


def test_a_page_answering_a_post_switches_on_the_first_page(desk: Desk) -> None:
    admin = desk.log_in(desk.admin, language="ru")
    token = form_token(admin, "/staff/people/")
    answered = admin.post("/staff/people/invite", data={"csrf_token": token, "email": ""})
    links = re.findall(r'<a href="([^"]+)" lang="(?:kk|en)"', answered.get_data(as_text=True))
    assert links == ["/staff/?lang=kk", "/staff/?lang=en"]
    assert admin.get(links[0]).status_code == 303  # to the admin's first page, now in Kazakh


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", ["12 min", "3 h", "2 d"]),
        ("ru", ["12 мин", "3 ч", "2 дн"]),
        ("kk", ["12 мин", "3 сағ", "2 күн"]),
    ],
)
def test_waiting_times_read_in_the_staff_language(
    app: Flask, language: str, expected: list[str]
) -> None:
    spans = [timedelta(minutes=12), timedelta(hours=3, minutes=5), timedelta(days=2, hours=4)]
    with app.test_request_context(f"/staff/inbox?lang={language}"):
        assert [waited(span) for span in spans] == expected


def test_labels_kept_for_a_request_follow_each_request_s_language(app: Flask) -> None:
    """The label and waited filters keep each text for the rest of a request: the next request
    translates anew in its own language, and two enums' members of one value keep their own
    labels."""
    shown = {}
    for language in ("kk", "ru", "en"):
        with app.test_request_context(f"/staff/inbox?lang={language}"):
            shown[language] = (label(Status.NEW), label(Category.OTHER), label(Agency.OTHER))
            assert waited(timedelta(minutes=3)) == waited(timedelta(minutes=3, seconds=30))
    assert shown["en"] == ("New", "Other", "Another agency")
    assert len({labelled[0] for labelled in shown.values()}) == 3
    assert {labelled[1] != labelled[2] for labelled in shown.values()} == {True}


def test_what_is_stored_and_exported_stays_english(desk: Desk) -> None:
    admin = desk.log_in(desk.admin, language="kk")
    token = form_token(admin, "/staff/people/")
    made = admin.post(
        "/staff/people/invite",
        data={"csrf_token": token, "email": "new@111.kz", "role": "triage"},
    )
    assert made.status_code == 200 and "new@111.kz" in text_of(made)
    exported = admin.get("/staff/figures/figures.csv")
    lines = list(csv.reader(io.StringIO(exported.data.decode("utf-8-sig"))))
    assert ["By category"] in lines and ["Санаттар бойынша"] not in lines
    with desk.site.app.app_context():
        records = get_session().scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
    invite = next(r for r in records if '"op":"invite"' in r.detail.replace(" ", ""))
    assert json.loads(invite.detail)["role"] == "triage"
    assert {record.action for record in records} <= set(AuditAction)


def test_every_label_table_covers_its_enum_and_is_translated() -> None:
    found = source_messages()
    for enum, table in labels.TABLES.items():
        assert set(table) == set(enum), enum
        for text in table.values():
            assert text.string in found, text.string  # extracted, so in every catalog


def test_browsers_keep_their_languages_apart(desk: Desk) -> None:
    """One browser's choice is its own: another browser still gets its own language."""
    first: FlaskClient = desk.client("en")
    first.get("/staff/login?lang=kk")
    second = desk.client("en")
    assert lang_of(second.get("/staff/login")) == "en"


def test_a_refused_triage_action_says_why_in_the_staff_language(desk: Desk) -> None:
    desk.site.send()
    triage = desk.log_in(desk.triage, language="ru")
    path = f"/staff/reports/{report_id(desk)}"
    token = form_token(triage, path)
    refused = triage.post(
        f"{path}/status", data={"csrf_token": token, "status": "referred", "agency": ""}
    )
    assert refused.status_code == 303
    assert "укажите, куда передано обращение" in text_of(triage.get(path))


@pytest.mark.parametrize("language", ["kk", "ru"])
def test_the_inbox_names_the_school_in_the_staff_language(desk: Desk, language: str) -> None:
    desk.site.send()
    with desk.site.app.app_context():
        school = get_session().scalars(select(School).where(School.code == desk.site.code)).one()
        names = {"kk": school.name_kk, "ru": school.name_ru}
    assert names["kk"] != names["ru"]
    page = html.unescape(text_of(desk.log_in(desk.triage, language=language).get("/staff/inbox")))
    other = "ru" if language == "kk" else "kk"
    assert names[language] in page and names[other] not in page
