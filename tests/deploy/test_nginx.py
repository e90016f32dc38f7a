"""The shipped nginx site (deploy/nginx/) on Debian 12's nginx: `nginx -t` accepts it, and served
for real with gunicorn down it answers the static page of the numbers to call (not a bare 502),
logging neither the client, the query, the school code nor the response size (issues 19, 20).
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import http.server
import os
import re
import socket
import ssl
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask

from portal.services import accounts, registry
from portal.web.child.views import THANKS_PAGE_BYTES
from portal.web.context import get_session
from tests.conftest import SAMPLE_SCHOOLS, add_inbox
from tests.deploy.conftest import DEPLOY, program
from tests.worlds import TEXT

SITE = ("qr111-http.conf", "qr111-https.conf")
PAGE = DEPLOY / "nginx" / "qr111-unavailable.html"


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Served:
    """The site's files, moved under a temporary prefix, and nginx's main config around them."""

    nginx: str
    folder: Path
    config: Path
    http_port: int
    https_port: int
    log: Path


@pytest.fixture
def served(tmp_path: Path) -> Served:
    """The site as installed, its absolute paths moved into tmp_path, its ports free loopback
    ones, its upstream a port where nothing listens (gunicorn stopped)."""
    return site_in(tmp_path, free_port())


def site_in(tmp_path: Path, upstream: int, desk: int | None = None) -> Served:
    """The site as installed, moved into tmp_path, in front of the app on port `upstream` (and
    of the staff's on port `desk`, else the same)."""
    nginx = program("nginx", "nginx")
    openssl = program("openssl", "openssl")
    certs = tmp_path / "letsencrypt"
    certs.mkdir()
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=qr111.kz", "-keyout", str(certs / "privkey.pem"),
         "-out", str(certs / "fullchain.pem")],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    www = tmp_path / "www"
    (www / "qr111").mkdir(parents=True)
    (www / "qr111" / PAGE.name).write_bytes(PAGE.read_bytes())
    http_port, https_port = free_port(), free_port()
    moves = {
        "/etc/letsencrypt/live/qr111.kz": str(certs),
        "/var/log/nginx": str(tmp_path),
        "/var/www": str(www),
        "127.0.0.1:8000": f"127.0.0.1:{upstream}",
        "127.0.0.1:8001": f"127.0.0.1:{upstream if desk is None else desk}",
        "listen 80 ": f"listen 127.0.0.1:{http_port} ",
        "listen 443 ": f"listen 127.0.0.1:{https_port} ",
    }
    for name in SITE:
        text = (DEPLOY / "nginx" / name).read_text(encoding="utf-8")
        for old, new in moves.items():
            assert old in text or not old.startswith("/etc") or name != SITE[1], old
            text = text.replace(old, new)
        # IPv6 may be off on a test machine: the [::] lines go.
        text = "\n".join(line for line in text.splitlines() if "listen [::]" not in line)
        (tmp_path / name).write_text(text, encoding="utf-8")
    config = tmp_path / "nginx.conf"
    # Root's nginx would serve the page as nobody, who cannot enter pytest's 0700 folders.
    user = "user root;\n" if os.geteuid() == 0 else ""
    config.write_text(
        f"{user}pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/main-error.log;\n"
        "events {}\nhttp {\n  include /etc/nginx/mime.types;\n"
        + "".join(f"  include {tmp_path / name};\n" for name in SITE)
        + "}\n",
        encoding="utf-8",
    )
    return Served(nginx, tmp_path, config, http_port, https_port, tmp_path / "qr111.log")


@pytest.mark.parametrize("files", [SITE, SITE[:1]], ids=["site", "before-certificates"])
def test_nginx_accepts_the_site(served: Served, files: tuple[str, ...]) -> None:
    """The whole site, and the port-80 part alone (installed before certbot has run)."""
    config = served.config.read_text(encoding="utf-8")
    if files != SITE:
        config = config.replace(f"  include {served.folder / SITE[1]};\n", "")
    served.config.write_text(config, encoding="utf-8")
    done = subprocess.run(
        [served.nginx, "-t", "-p", str(served.folder), "-c", str(served.config)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr


@pytest.fixture
def running(served: Served) -> Iterator[Served]:
    """nginx in the foreground, stopped by its process id."""
    with nginx_running(served):
        yield served


@contextlib.contextmanager
def nginx_running(served: Served) -> Iterator[Served]:
    """nginx in the foreground while the block runs, stopped by its process id."""
    process = subprocess.Popen(
        [served.nginx, "-p", str(served.folder), "-c", str(served.config), "-g", "daemon off;"],
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", served.https_port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.02)
        yield served
    finally:
        process.terminate()
        process.wait(timeout=10)


def get(port: str | int, path: str, *, tls: bool = True) -> tuple[int, str, dict[str, str]]:
    """GET path from the local nginx as qr111.kz."""
    context = ssl._create_unverified_context()  # noqa: S323 (our own test certificate)
    connection = (
        http.client.HTTPSConnection("127.0.0.1", int(port), context=context, timeout=10)
        if tls
        else http.client.HTTPConnection("127.0.0.1", int(port), timeout=10)
    )
    connection.request("GET", path, headers={"Host": "qr111.kz", "Referer": "https://x.example/r"})
    response = connection.getresponse()
    body = response.read().decode()
    connection.close()
    return response.status, body, dict(response.getheaders())


def test_gunicorn_down_shows_the_numbers_and_logs_nothing_of_the_child(running: Served) -> None:
    status, body, headers = get(running.https_port, "/s/ABC123XY?lang=ru&x=secret")
    assert status == 502
    for number in ("112", "102", "103", "111"):
        assert f'href="tel:{number}"' in body
    assert all(f'lang="{language}"' in body for language in ("kk", "ru", "en"))
    assert headers["Cache-Control"] == "no-store"
    assert get(running.http_port, "/s/ABC123XY", tls=False)[0] == 301
    log = running.log.read_text(encoding="utf-8")
    assert re.fullmatch(r'\S+ "GET /s/- HTTP/1\.1" 502 [\d.]+\n', log), log
    for secret in ("ABC123XY", "secret", "lang=", "127.0.0.1", "x.example", str(len(body))):
        assert secret not in log


@contextlib.contextmanager
def answering(name: str) -> Iterator[int]:
    """An HTTP server on a free loopback port that answers every GET with `name`."""

    class Named(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(name)))
            self.end_headers()
            self.wfile.write(name.encode())

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Named)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_the_staff_pages_go_to_the_desks_gunicorn(tmp_path: Path) -> None:
    """Every /staff path (however written) reaches qr111-desk's port, every other the children's
    (issue 14: a flood of the children's side never shares a worker with the desk)."""
    with (
        answering("children") as children,
        answering("desk") as desk,
        nginx_running(site_in(tmp_path, children, desk)) as site,
    ):
        for path in ("/staff", "/staff/inbox?page=2", "//staff/login", "/%73taff/login"):
            assert get(site.https_port, path)[:2] == (200, "desk"), path
        for path in ("/", "/s/ABC123XY", "/staffroom", "/check", "/static/style.css"):
            assert get(site.https_port, path)[:2] == (200, "children"), path


def test_no_directive_newer_than_debian_12_nor_a_log_of_addresses() -> None:
    text = "\n".join((DEPLOY / "nginx" / name).read_text(encoding="utf-8") for name in SITE)
    assert not re.search(r"^\s*http2\s+on", text, re.M)  # nginx >= 1.25.1 only
    for variable in ("remote_addr", "http_user_agent", "http_referer", "args", "request_uri",
                     "request ", "query_string", "body_bytes_sent", "bytes_sent"):  # fmt: skip
        log_formats = re.findall(r"log_format[^;]*;", text, re.S)
        assert all(f"${variable}" not in found for found in log_formats), variable
    assert set(re.findall(r"^\s*error_log\s+([^;]*);", text, re.M)) == {"/dev/null"}
    assert set(re.findall(r"^\s*access_log\s+([^;]*);", text, re.M)) <= {
        "off",
        "/var/log/nginx/qr111.log qr111",
    }


def exchange(
    port: int, method: str, path: str, body: str = "", headers: dict[str, str] | None = None
) -> tuple[int, bytes, dict[str, str]]:
    """One request to the local nginx as qr111.kz, the answer's body as it came on the wire."""
    context = ssl._create_unverified_context()  # noqa: S323 (our own test certificate)
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=30)
    connection.request(
        method, path, body=body or None, headers={"Host": "qr111.kz", **(headers or {})}
    )
    response = connection.getresponse()
    raw = response.read()
    connection.close()
    return response.status, raw, dict(response.getheaders())


def test_the_thank_you_page_has_one_size_through_nginx_too(
    app: Flask, live_server: str, tmp_path: Path
) -> None:
    """The app pads the thank-you page to one size whatever the danger answer (issue 20); nginx
    gzips every HTML answer, which would squeeze the padding out: it sends a form's answer as
    it is, and still compresses the pages a child only reads."""
    with app.app_context():
        session = get_session()
        registry.seed_schools(session, SAMPLE_SCHOOLS.read_bytes())
        accounts.init_recovery_key(session, tmp_path / "recovery.key")
        add_inbox(session, "national")
        code = registry.list_schools(session)[0].code
    folder = tmp_path / "nginx"
    folder.mkdir()
    site = site_in(folder, int(live_server.rsplit(":", 1)[1]))
    packed = {"Accept-Encoding": "gzip"}
    sizes = {}
    with nginx_running(site):
        for danger in ("no", "yes"):
            status, raw, headers = exchange(site.https_port, "GET", f"/s/{code}", headers=packed)
            assert status == 200 and headers.get("Content-Encoding") == "gzip"
            token = re.search(
                r'name="csrf_token" type="hidden" value="([^"]+)"', gzip.decompress(raw).decode()
            )
            assert token
            form = urllib.parse.urlencode(
                {"csrf_token": token.group(1), "message": TEXT, "danger": danger}
            )
            status, raw, headers = exchange(
                site.https_port, "POST", f"/s/{code}", form,
                {**packed, "Content-Type": "application/x-www-form-urlencoded"},
            )  # fmt: skip
            assert status == 200 and "Content-Encoding" not in headers, headers
            assert (b"danger-first" in raw) == (danger == "yes")  # the pages do differ
            sizes[danger] = len(raw)
    assert sizes == {"no": THANKS_PAGE_BYTES, "yes": THANKS_PAGE_BYTES}
