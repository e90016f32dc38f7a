"""Every child page answers while the database does not (issue 19): the numbers to call always,
and a message in a form that sends it again, drawn from the request alone.

The database really fails here: the app's URL points at a PostgreSQL port where nothing listens
(what a stopped server leaves: every connection refused), or, on PostgreSQL, the request's own
connection is killed by the server after the page is drawn.
"""

from __future__ import annotations

import dataclasses
import html
import re
import socket
from collections.abc import Iterator

import pytest
from flask import Response, g
from flask.testing import FlaskClient
from sqlalchemy import text

from portal import create_app
from portal.config import Config
from portal.web.context import engine_of, get_session
from tests.worlds import TEXT, Site, typed_back

NUMBERS = ("111", "112", "102", "103")


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port held but not listening: a connection to it is refused at once."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield held.getsockname()[1]


@pytest.fixture
def down(site: Site, closed_port: int) -> Iterator[FlaskClient]:
    """The site's app again (same secret: its open forms' tokens are good) on a database that
    does not answer."""
    config: Config = site.app.extensions["portal.config"]
    url = f"postgresql+psycopg://postgres@127.0.0.1:{closed_port}/qr111?connect_timeout=2"
    app = create_app(dataclasses.replace(config, database_url=url))
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    yield client
    engine_of(app).dispose()


def shows_numbers(body: str) -> bool:
    """Every emergency number is on the page."""
    return all(number in body for number in NUMBERS)


def resend_form(body: str) -> tuple[str, dict[str, str]]:
    """The action and fields of the page's one form, as a browser would send it again."""
    action = re.search(r'<form[^>]* action="([^"]*)"', body)
    assert action, "no form to send again"
    fields = {
        name: html.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', body)
    }
    typed = re.search(r'<textarea[^>]* name="message"[^>]*>(.*?)</textarea>', body, re.S)
    assert typed, "no message field"
    fields["message"] = html.unescape(typed.group(1))
    return html.unescape(action.group(1)), fields


def test_pages_without_the_database_show_the_numbers(site: Site, down: FlaskClient) -> None:
    for path in ("/", "/check", site.page):
        response = down.get(path)
        assert response.status_code in (200, 500), path
        assert shows_numbers(response.get_data(as_text=True)), path
    assert down.get("/healthz").status_code == 503


def test_a_report_sent_while_the_database_is_down_comes_back_and_can_be_sent_again(
    site: Site, down: FlaskClient
) -> None:
    # The form was loaded while the database answered; the send meets it down.
    data = {"csrf_token": site.token(), "message": TEXT, "danger": "no", "grade": "7"}
    refused = down.post(site.page, data=data)
    assert refused.status_code == 500
    body = refused.get_data(as_text=True)
    assert typed_back(refused) and shows_numbers(body)
    assert "Something went wrong on our side" in body
    # The database is back: the page's own form sends the same report.
    action, fields = resend_form(body)
    assert action == site.page
    assert {key: fields[key] for key in data} == data
    assert site.client.post(action, data=fields).status_code == 200
    assert len(site.reports()) == 1


def test_a_follow_up_while_the_database_is_down_comes_back(site: Site, down: FlaskClient) -> None:
    # Any receipt: with the database down nothing can look it up.
    receipt = "1234567812345678"
    data = {"csrf_token": site.token("/check"), "receipt": receipt, "message": "ещё одно"}
    refused = down.post("/check", data=data)
    assert refused.status_code == 500
    body = refused.get_data(as_text=True)
    assert typed_back(refused, "ещё одно") and shows_numbers(body)
    assert receipt in body.replace(" ", "")  # the receipt field keeps what was typed


def test_a_connection_killed_after_the_page_is_drawn_keeps_the_page(site: Site) -> None:
    """Closing the request's session on a connection the server killed must not turn the page
    (a receipt, a form with text) into a 500."""
    engine = engine_of(site.app)
    if engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL: the server kills the connection (pg_terminate_backend)")

    def kill_my_connection(response: Response) -> Response:
        session = g.get("db_session")
        if session is not None:
            pid = session.scalar(text("SELECT pg_backend_pid()"))
            with engine.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        return response

    site.app.after_request(kill_my_connection)
    sent = site.send(grade="5")
    assert sent.status_code == 200 and "receipt" in sent.get_data(as_text=True)
    page = site.client.get(site.page)
    assert page.status_code == 200 and 'name="message"' in page.get_data(as_text=True)
    with site.app.app_context():  # the pool dropped the dead connection: the next one works
        assert get_session().scalar(text("SELECT 1")) == 1
