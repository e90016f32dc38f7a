"""Access logs never carry a client address (P3), nor anything that enrols (issue 13), nor a
school's code or an answer's size (issue 20)."""

from __future__ import annotations

import logging
import runpy
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from gunicorn.config import Config as GunicornConfig  # type: ignore[import-untyped]
from werkzeug.serving import make_server

from portal.web.logs import DropClientAddress, DropLinkTokens, init_logging
from tests.prod.servers import Browser
from tests.web.desk import links
from tests.worlds import STAFF_PASSWORD, Desk, Site

REPO = Path(__file__).resolve().parents[2]


def test_the_filter_drops_the_leading_address() -> None:
    line = '203.0.113.9 - - [25/Nov/2026 09:00:00] "GET /s/X HTTP/1.1" 200 -'
    record = logging.LogRecord("werkzeug", logging.INFO, "", 0, line, None, None)
    assert DropClientAddress().filter(record)
    assert record.getMessage() == '- - - [25/Nov/2026 09:00:00] "GET /s/X HTTP/1.1" 200 -'


def test_the_served_access_log_carries_no_client_address(
    live_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level("INFO", logger="werkzeug"),
        urllib.request.urlopen(f"{live_server}/?probe=1") as response,  # noqa: S310
    ):
        assert response.status == 200
    lines = [record.getMessage() for record in caplog.records if record.name == "werkzeug"]
    assert any("GET /?probe=1" in line for line in lines), lines
    assert not any("127.0.0.1" in line for line in lines), lines


def test_the_filter_cuts_what_follows_the_enrolment_path() -> None:
    line = '- - - [08/Dec/2026 09:00:00] "%s" %s %s'
    args = ("GET /staff/people/enrol/SeCrEt-ToKeN?x=1 HTTP/1.1", "200", "-")
    record = logging.LogRecord("werkzeug", logging.INFO, "", 0, line, args, None)
    assert DropLinkTokens().filter(record)
    assert "SeCrEt" not in record.getMessage()
    assert '"GET /staff/people/enrol/- HTTP/1.1" 200 -' in record.getMessage()


@pytest.fixture
def served_desk(desk: Desk) -> Iterator[str]:
    """The desk's app on the development server (werkzeug), logging as `flask run` does."""
    init_logging()
    server = make_server("127.0.0.1", 0, desk.site.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def test_a_reader_of_the_log_can_neither_enrol_nor_reset(
    served_desk: str, desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    base = served_desk
    with caplog.at_level("INFO", logger="werkzeug"):
        admin = links.log_in(base, desk.admin.email, STAFF_PASSWORD, desk.admin.totp)
        made = links.make_links(base, admin, "new@111.kz", desk.triage.email)
        invitee, member = Browser(), Browser()
        links.open_link(base, invitee, made.invitation)
        links.open_link(base, member, made.reset)
        log = "\n".join(r.getMessage() for r in caplog.records if r.name == "werkzeug")
        links.try_the_log(base, log, made, [STAFF_PASSWORD])
        # The members, in the browsers that opened the links, still go on.
        links.finish(base, invitee, "a brand new passphrase 111")
        links.finish(base, member, STAFF_PASSWORD)


def test_the_filter_cuts_the_school_code_and_the_size() -> None:
    line = '- - - [08/Dec/2026 09:00:00] "%s" %s %s\n'
    args = ("POST /s/7KQ2M9XD HTTP/1.1", "200", "12288")
    record = logging.LogRecord("werkzeug", logging.INFO, "", 0, line, args, None)
    assert DropLinkTokens().filter(record)
    assert record.getMessage() == '- - - [08/Dec/2026 09:00:00] "POST /s/- HTTP/1.1" 200 -\n'


def test_the_served_log_names_no_school(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    init_logging()
    server = make_server("127.0.0.1", 0, site.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        with caplog.at_level("INFO", logger="werkzeug"):
            for path in (f"/s/{site.code}", f"/S/{site.code}?x=1", "/s/NOSUCHCODE"):
                try:
                    urllib.request.urlopen(base + path).close()  # noqa: S310
                except urllib.error.HTTPError as error:
                    assert error.code == 404
    finally:
        server.shutdown()
        thread.join(timeout=5)
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert sum('"GET /s/- HTTP/1.1" 200 -' in line for line in lines) == 1, lines
    assert any('"GET /S/-?x=1 HTTP/1.1" 200 -' in line for line in lines), lines
    # The development server colours a 404's request line.
    assert any("GET /s/- HTTP/1.1" in line and line.endswith(" 404 -") for line in lines), lines
    assert not any(site.code in line or "NOSUCHCODE" in line for line in lines), lines


def test_gunicorns_access_log_names_no_school_and_no_size() -> None:
    settings = runpy.run_path(str(REPO / "gunicorn.conf.py"))
    assert "%(B)s" not in settings["access_log_format"]
    assert "%(b)s" not in settings["access_log_format"]
    assert "%(M)s" not in settings["access_log_format"]
    config = GunicornConfig()
    config.set("access_log_format", settings["access_log_format"])
    logger = settings["logger_class"](config)
    environ = {
        "REQUEST_METHOD": "POST",
        "RAW_URI": "/s/7KQ2M9XD?lang=ru",
        "PATH_INFO": "/s/7KQ2M9XD",
        "QUERY_STRING": "lang=ru",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    response = SimpleNamespace(status="200 OK", sent=12288, headers=[("Content-Length", "12288")])
    request = SimpleNamespace(headers=[("CONTENT-LENGTH", "5120")])
    atoms = logger.atoms(response, request, environ, SimpleNamespace(seconds=0, microseconds=5))
    line = settings["access_log_format"] % atoms
    assert line.endswith('"POST /s/- HTTP/1.1" 200'), line
    assert "7KQ2M9XD" not in str(atoms)
    assert "12288" not in str(atoms) and "5120" not in str(atoms)
    # Only the fields the format names are made (and scrubbed).
    assert set(atoms) == {"t", "m", "U", "H", "s"}
