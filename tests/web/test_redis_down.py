"""Redis killed under a running app (issue 19): children still write, their limits counted in
the worker's memory (said once in the log), staff get a page that says what is wrong, and
/healthz tells the balancer; when Redis is back, the counts go back to it.

A real redis-server, started here on a free loopback port and killed by its process id.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from portal import create_app
from portal.web import ratelimit
from portal.web.access import COOKIE
from portal.web.context import engine_of
from tests.worlds import Site, typed_back


class RedisServer:
    """One redis-server of this test, in memory only, on 127.0.0.1."""

    def __init__(self, folder: Path) -> None:
        program = shutil.which("redis-server")
        if program is None:
            pytest.skip("redis-server is missing: apt-get install redis-server")
        self.program = program
        self.folder = folder
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it and wait until it answers."""
        self.process = subprocess.Popen(
            [self.program, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with redis.Redis.from_url(self.url) as client:
                    if client.ping():
                        return
            except redis.ConnectionError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        """Kill it (SIGKILL, by its process id) and wait for it."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test, killed at the end whatever happened."""
    started = RedisServer(tmp_path)
    started.start()
    yield started
    started.kill()


@pytest.fixture
def redis_site(site: Site, server: RedisServer) -> Iterator[Site]:
    """The site's app again, its staff sessions and limits in the test's Redis."""
    config = site.app.extensions["portal.config"]
    limits = dataclasses.replace(config.limits, client_messages="3/minute", storage_url=server.url)
    app = create_app(
        dataclasses.replace(config, limits=limits, redis_url=server.url, redis_prefix="t19")
    )
    browser = app.test_client()
    browser.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    yield Site(app, browser, site.code)
    engine_of(app).dispose()


def send(site: Site) -> int:
    """Send the school's form; a refusal must give the text back."""
    response = site.send()
    if response.status_code != 200:
        assert typed_back(response)
    return response.status_code


def staff_page(site: Site) -> tuple[int, str]:
    """A staff page with a well-formed session cookie (its server half is looked up)."""
    part = base64.urlsafe_b64encode(bytes(32)).decode().rstrip("=")
    site.client.set_cookie(COOKIE, f"{part}.{part}", path="/staff")
    response = site.client.get("/staff/inbox")
    return response.status_code, response.get_data(as_text=True)


def limit_keys(server: RedisServer) -> list[bytes]:
    """The rate-limit counts kept in the test's Redis."""
    with redis.Redis.from_url(server.url) as store:
        return list(store.scan_iter(match="t19:limits*"))


def test_redis_killed_children_still_write_and_staff_get_a_page(
    redis_site: Site,
    server: RedisServer,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert send(redis_site) == 200 and limit_keys(server)
    assert staff_page(redis_site)[0] == 303  # no such session: to the login page
    assert redis_site.client.get("/healthz").get_data(as_text=True) == "ok\n"

    server.kill()
    with caplog.at_level(logging.WARNING):
        # The limit (3 a minute) now counts in memory: the one sent before is forgotten.
        assert [send(redis_site) for _ in range(4)] == [200, 200, 200, 429]
    said = [r.getMessage() for r in caplog.records if "rate limit storage" in r.getMessage()]
    assert len(said) == 1 and "counting in this process's memory" in said[0]
    status, body = staff_page(redis_site)
    assert status == 503 and "Staff sign-in is unavailable for a moment" in body
    health = redis_site.client.get("/healthz")
    assert health.status_code == 200
    assert (
        health.get_data(as_text=True)
        == "ok\nredis unavailable: limits per worker, no staff sign-in\n"
    )

    server.start()  # back, empty (nothing was saved)
    monkeypatch.setattr(ratelimit, "RECHECK_SECONDS", 0)
    assert send(redis_site) == 200
    assert limit_keys(server), "the counts went back to Redis"
    assert not ratelimit.counts_of(redis_site.app).down
    assert staff_page(redis_site)[0] == 303
    assert redis_site.client.get("/healthz").get_data(as_text=True) == "ok\n"
