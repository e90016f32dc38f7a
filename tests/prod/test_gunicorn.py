"""gunicorn with the repository's config: it serves, and its logs name no client."""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

from portal import create_app
from portal.enums import Role
from portal.services import accounts
from portal.web.context import engine_of, get_session
from tests.conftest import CHEAP_KDF
from tests.prod.servers import (
    HOST,
    SECRET_KEY,
    STAFF_EMAIL,
    STAFF_PASSWORD,
    Browser,
    database,
    gunicorn,
    portal_env,
    prepare,
    setup_config,
)
from tests.web.desk import links

FORWARDED = "203.0.113.77"
AGENT = "Mozilla/5.0 (Linux; Android 12; SM-A135F) Secret-Agent/9.9"


def raw_request(port: int, request: bytes) -> bytes:
    """Send bytes as they are and read the answer (for requests urllib would not send)."""
    with socket.create_connection((HOST, port), timeout=10) as connection:
        connection.sendall(request)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_access_log_carries_no_client_address(tmp_path: Path) -> None:
    with database("sqlite", tmp_path / "db") as url:
        prepared = prepare(url, tmp_path)
        env = portal_env(url, tmp_path / "instance")
        with gunicorn(env, tmp_path / "logs") as server:
            browser = Browser()
            receipt = browser.send_report(server.url, prepared.code, "Меня обижают.").receipt()
            assert receipt
            assert browser.check(server.url, receipt).shows("Меня обижают.")
            assert browser.open(server.url + "/s/NOSUCHCODE?q=secret-query").status == 404
            headers = f"X-Forwarded-For: {FORWARDED}\r\nUser-Agent: {AGENT}\r\nReferer: {AGENT}"
            request = f"GET /healthz HTTP/1.1\r\nHost: x\r\n{headers}\r\nConnection: close\r\n\r\n"
            answer = raw_request(server.port, request.encode())
            assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"\r\n\r\nok\n")
            malformed = raw_request(server.port, b"NOT HTTP AT ALL\r\n\r\n")
            assert malformed.startswith(b"HTTP/1.1 400")
    access = server.access_log.read_text()
    errors = server.error_log.read_text()
    # The log is there and useful: request lines, statuses.
    assert '"POST /s/- HTTP/1.1" 200' in access
    assert '"GET /healthz HTTP/1.1" 200' in access
    assert '"GET /s/- HTTP/1.1" 404' in access
    # ...and names nobody: no address (the peer's or a forwarded one), no agent, no query, no
    # school (issue 20), and no size: each line ends with its status.
    for trace in (HOST, FORWARDED, "Secret-Agent", "secret-query", receipt, prepared.code):
        assert trace not in access, trace
    assert "NOSUCHCODE" not in access
    assert all(re.search(r'" \d{3}$', line) for line in access.splitlines()), access
    # gunicorn's warning about a malformed request names no client either.
    invalid = [line for line in errors.splitlines() if "Invalid request" in line]
    assert invalid, errors
    assert all(HOST not in line for line in invalid), invalid
    assert "Using worker: gthread" in errors


ADMIN = "admin@111.kz"


def add_admin(url: str, folder: Path) -> str:
    """An admin account in the prepared database; its TOTP secret."""
    instance = folder / "admin-instance"
    instance.mkdir(parents=True)
    app = create_app(setup_config(url, instance))
    with app.app_context():
        made = accounts.add_staff(
            get_session(), ADMIN, Role.ADMIN, STAFF_PASSWORD, CHEAP_KDF, SECRET_KEY
        )
    engine_of(app).dispose()
    return made.totp_secret


def _logged(access_log: Path, line: str, timeout: float = 10) -> str:
    """The access log once it holds line: gunicorn writes a request's line after answering it,
    so on a busy machine the reply can arrive before its line does."""
    deadline = time.monotonic() + timeout
    while line not in (log := access_log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert line in log, log
    return log


def test_a_reader_of_the_access_log_can_neither_enrol_nor_reset(tmp_path: Path) -> None:
    with database("sqlite", tmp_path / "db") as url:
        prepare(url, tmp_path)
        admin_totp = add_admin(url, tmp_path)
        # Behind a trusted proxy, as in production: the log reader is a client of its own
        # (links.LOG_READER), whose tries do not use up the members' enrolment limit.
        env = portal_env(url, tmp_path / "instance", PORTAL_TRUSTED_PROXIES="1")
        with gunicorn(env, tmp_path / "logs") as server:
            base = server.url
            admin = links.log_in(base, ADMIN, STAFF_PASSWORD, admin_totp)
            made = links.make_links(base, admin, "new@111.kz", STAFF_EMAIL)
            invitee, member = Browser(), Browser()
            links.open_link(base, invitee, made.invitation)
            links.open_link(base, member, made.reset)
            # A token sent in the path anyway (an old or hand-made link) is cut from the log.
            assert Browser().open(f"{base}{links.ENROL}/old-form-token-0123456789").status == 404
            log = _logged(server.access_log, f"{links.ENROL}/- HTTP/1.1")
            assert "old-form-token" not in log
            links.try_the_log(base, log, made, [STAFF_PASSWORD])
            # The members, in the browsers that opened the links, still go on.
            links.finish(base, invitee, "a brand new passphrase 111")
            links.finish(base, member, STAFF_PASSWORD)
