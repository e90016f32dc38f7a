"""The school landing page and the error pages a child can reach."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from portal.config import DEFAULT_EXIT_URL
from portal.models import Report
from portal.services import accounts, registry
from portal.web.child.forms import ReportForm
from portal.web.context import get_session
from portal.web.security import HEADERS
from tests.conftest import SAMPLE_SCHOOLS, add_inbox

SCHOOL_ID = "34000015"  # its names hold quotes and Kazakh letters
NAME_KK = "«Білім-Инновация» лицей-интернаты, № 291"
NAME_RU = 'КГУ "Лицей-интернат «Билим-Инновация»", № 291'


@pytest.fixture
def closed_school(app: Flask) -> tuple[str, str]:
    """The sample registry imported before any inbox exists; returns (code, check word) of one
    school, whose reports have nowhere to go yet."""
    with app.app_context():
        session = get_session()
        registry.seed_schools(session, SAMPLE_SCHOOLS.read_bytes())
        found = registry.get_school(session, SCHOOL_ID)
        return found.code, found.check_word


@pytest.fixture
def school(app: Flask, closed_school: tuple[str, str], tmp_path: Path) -> tuple[str, str]:
    """The same school once a national inbox receives its reports: its page has the form."""
    with app.app_context():
        session = get_session()
        accounts.init_recovery_key(session, tmp_path / "recovery.key")
        add_inbox(session, "national")
    return closed_school


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def get(client: FlaskClient, path: str, language: str = "ru") -> tuple[int, str]:
    response = client.get(path, headers={"Accept-Language": language})
    return response.status_code, response.get_data(as_text=True)


@pytest.mark.parametrize("prefix", ["/s/", "/S/"])
@pytest.mark.parametrize("case", [str.upper, str.lower])
def test_the_code_works_in_any_case_under_either_prefix(
    client: FlaskClient, school: tuple[str, str], prefix: str, case: object
) -> None:
    code, word = school
    assert callable(case)
    status, html = get(client, prefix + case(code))
    assert status == 200
    assert word in html


@pytest.mark.parametrize(
    ("accept", "lang", "name", "phrase"),
    [
        ("kk-KZ,kk;q=0.9", "kk", NAME_KK, "Тексеру сөзі"),
        ("ru-RU,ru;q=0.9,en;q=0.5", "ru", NAME_RU, "Проверочное слово"),
        ("en-GB,en;q=0.8", "en", NAME_KK, "Check word"),
        ("de-DE", "kk", NAME_KK, "Тексеру сөзі"),
    ],
)
def test_language_follows_the_browser(
    client: FlaskClient, school: tuple[str, str], accept: str, lang: str, name: str, phrase: str
) -> None:
    status, html = get(client, f"/s/{school[0]}", accept)
    assert status == 200
    assert f'<html lang="{lang}">' in html
    page = text_of(html)
    assert name.replace('"', "&#34;") in page
    assert phrase in page


def test_language_links_switch_without_a_cookie(
    client: FlaskClient, school: tuple[str, str]
) -> None:
    code = school[0]
    response = client.get(f"/s/{code}?lang=en", headers={"Accept-Language": "ru"})
    html = response.get_data(as_text=True)
    assert '<html lang="en">' in html
    assert f'href="/s/{code}?lang=kk"' in html
    assert f'href="/s/{code}?lang=ru"' in html
    assert "Set-Cookie" not in response.headers
    bogus = client.get(f"/s/{code}?lang=xx", headers={"Accept-Language": "ru"})
    assert '<html lang="ru">' in bogus.get_data(as_text=True)


@pytest.mark.parametrize("state", ["school", "closed_school"])
def test_emergency_numbers_come_first_as_tap_to_call_links(
    client: FlaskClient, request: pytest.FixtureRequest, state: str
) -> None:
    code, _word = request.getfixturevalue(state)
    _, html = get(client, f"/s/{code}")
    positions = [html.index(f'href="tel:{number}"') for number in ("112", "102", "103", "111")]
    assert positions == sorted(positions)
    assert positions[-1] < html.index("<h1>"), "the numbers stand above the school's name"


def test_the_landing_page_sets_no_cookie_and_loads_only_our_own_files(
    client: FlaskClient, school: tuple[str, str]
) -> None:
    response = client.get(f"/s/{school[0]}")
    assert "Set-Cookie" not in response.headers
    html = response.get_data(as_text=True)
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/child/exit.js" defer>']
    assert re.findall(r'src="(https?:)?//', html) == []  # nothing loaded from elsewhere
    # The one link away is the quick exit, to the configured ordinary website.
    assert re.findall(r'href="((?:https?:)?//[^"]*)"', html) == [DEFAULT_EXIT_URL]
    assert re.findall(r'<link[^>]+href="([^"]+)"', html) == ["data:,", "/static/style.css"]


@pytest.mark.parametrize("language", ["kk", "ru", "en"])
def test_unknown_codes_get_a_kind_404_pointing_to_111(client: FlaskClient, language: str) -> None:
    status, html = get(client, "/s/ZZZZZZZZ", language)
    assert status == 404
    assert f'<html lang="{language}">' in html
    assert 'href="tel:111"' in html
    assert 'href="tel:112"' in html
    heading = {"kk": "Бұл бет табылмады", "ru": "Мы не нашли эту страницу", "en": "find this page"}
    assert heading[language] in html.replace("&#39;", "'")


CLOSED = {
    "kk": ("Мұнда әзірге жазу мүмкін емес", "Оның орнына 111-ге қоңырау шал."),
    "ru": ("Здесь пока нельзя написать", "Вместо этого позвони в 111."),
    "en": ("You can't write here yet", "Call 111 instead."),
}
NOT_SENT = {
    "kk": "Мәтінің осында, жоғалған жоқ",
    "ru": "Твой текст на месте",
    "en": "Your text is still here",
}


@pytest.mark.parametrize("language", ["kk", "ru", "en"])
def test_a_school_without_an_inbox_says_so_and_offers_no_form(
    client: FlaskClient, closed_school: tuple[str, str], language: str
) -> None:
    code, word = closed_school
    status, html = get(client, f"/s/{code}", language)
    assert status == 200
    page = text_of(html).replace("&#39;", "'")
    heading, call = CLOSED[language]
    assert heading in page and call in page
    assert word in page, "the check word still shows the poster is genuine"
    assert "<form" not in html and "<textarea" not in html, "nothing to type into that goes nowhere"
    # The numbers, 111 among them, stay first; the words sending there come after the school.
    assert html.index('href="tel:111"') < html.index("<h1>") < html.index('id="closed-title"')


@pytest.mark.parametrize("language", ["kk", "ru", "en"])
def test_a_report_to_a_school_without_an_inbox_is_refused_with_the_text_not_a_500(
    app: Flask, client: FlaskClient, closed_school: tuple[str, str], language: str
) -> None:
    code = closed_school[0]
    typed = "Мені ұрады <b>& меня бьют</b>"
    # A valid form, as a page loaded before the inbox went missing (or a page of an older
    # release) would send it: nothing but the missing inbox stands in its way.
    with app.test_request_context():
        token = ReportForm().csrf_token.current_token
    response = client.post(
        f"/s/{code}?lang={language}",
        data={"csrf_token": token, "message": typed, "danger": "yes", "category": "bullying"},
    )
    assert response.status_code == 503
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    assert f'<html lang="{language}">' in html
    assert NOT_SENT[language] in html
    assert html.index("<h1>") < html.index('class="problem"'), "a heading says what happened"
    # The text back in a form that sends it again as it came, and the numbers to call.
    assert f'<form class="report" method="post" action="/s/{code}?lang={language}"' in html
    assert ">Мені ұрады &lt;b&gt;&amp; меня бьют&lt;/b&gt;</textarea>" in html
    assert '<input type="hidden" name="danger" value="yes">' in html
    assert 'href="tel:111"' in html and 'href="tel:112"' in html
    with app.app_context():
        assert get_session().scalar(select(func.count()).select_from(Report)) == 0


def test_rotated_and_deactivated_codes_stop_at_once(
    app: Flask, client: FlaskClient, school: tuple[str, str]
) -> None:
    old_code = school[0]
    with app.app_context():
        new_code = registry.rotate_code(
            get_session(),
            SCHOOL_ID,
            actor=None,
            server_secret=app.extensions["portal.config"].secret_key,
        ).code
    assert get(client, f"/s/{old_code}")[0] == 404
    assert get(client, f"/s/{new_code}")[0] == 200
    with app.app_context():
        registry.set_active(
            get_session(),
            SCHOOL_ID,
            False,
            actor=None,
            server_secret=app.extensions["portal.config"].secret_key,
        )
    assert get(client, f"/s/{new_code}")[0] == 404


@pytest.mark.parametrize(
    "path",
    ["/s/", "/s/%00", "/s/" + "Ж" * 5000, "/s/..%2F..%2Fetc", "/s/<script>", "/S/%FF%FE", "/x"],
)
def test_junk_paths_are_404_not_500(
    client: FlaskClient, school: tuple[str, str], path: str
) -> None:
    assert client.get(path).status_code == 404


def test_wrong_method_and_huge_body_get_error_pages(
    client: FlaskClient, school: tuple[str, str]
) -> None:
    deleted = client.delete(f"/s/{school[0]}")
    assert deleted.status_code == 405
    assert 'href="tel:111"' in deleted.get_data(as_text=True)
    huge = client.post(f"/s/{school[0]}", data={"message": "x" * 400_000})
    assert huge.status_code == 413
    assert 'href="tel:111"' in huge.get_data(as_text=True)


def test_security_headers_on_pages_and_errors(
    app: Flask, client: FlaskClient, school: tuple[str, str]
) -> None:
    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("unexpected")

    for path, status in [
        (f"/s/{school[0]}", 200),
        ("/s/ZZZZZZZZ", 404),
        ("/boom", 500),
        ("/", 200),
    ]:
        response = client.get(path)
        assert response.status_code == status
        for name, value in HEADERS.items():
            assert response.headers[name] == value, (path, name)
    policy = HEADERS["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy  # our file only
    assert "frame-ancestors 'none'" in HEADERS["Content-Security-Policy"]


def test_a_server_error_still_shows_the_numbers(app: Flask, client: FlaskClient) -> None:
    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("unexpected")

    status, html = get(client, "/boom", "kk")
    assert status == 500
    assert "Бірдеңе дұрыс болмады" in html
    assert 'href="tel:112"' in html


def test_templates_cannot_reach_the_configuration(app: Flask) -> None:
    with app.test_request_context("/"):
        template = app.jinja_env.from_string("[{{ config }}]")
        assert template.render() == "[]"
        assert "config" not in app.jinja_env.globals
