"""X-Forwarded-For and -Proto are believed for the configured number of proxies, no more."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask, request

from portal import create_app, migrate
from portal.config import RateLimits
from portal.web.context import engine_of
from tests.conftest import make_config

FORWARDED = {"X-Forwarded-For": "198.51.100.7, 203.0.113.9", "X-Forwarded-Proto": "https"}


def build_app(instance: Path, proxies: int, limits: RateLimits | None = None) -> Flask:
    """An app behind `proxies` proxies, with a page that says whom it believes it serves."""
    instance.mkdir()
    app = create_app(make_config(instance, trusted_proxies=proxies, limits=limits or RateLimits()))

    # What the app believes about the client: the address the rate limits key on, the scheme.
    @app.get("/_whoami")
    def whoami() -> str:
        return f"{request.remote_addr} {request.scheme}"

    return app


@pytest.fixture
def behind(tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """Build apps behind a number of proxies; their engines are closed afterwards."""
    built: list[Flask] = []

    def make(proxies: int, limits: RateLimits | None = None) -> Flask:
        built.append(build_app(tmp_path / f"instance-{len(built)}", proxies, limits))
        return built[-1]

    yield make
    for app in built:
        engine_of(app).dispose()


@pytest.mark.parametrize(
    ("proxies", "seen"),
    [(0, "127.0.0.1 http"), (1, "203.0.113.9 https"), (2, "198.51.100.7 https")],
)
def test_only_the_trusted_hops_are_believed(
    behind: Callable[..., Flask], proxies: int, seen: str
) -> None:
    client = behind(proxies).test_client()
    assert client.get("/_whoami", headers=FORWARDED).get_data(as_text=True) == seen


def test_without_proxies_a_forged_header_changes_nothing(behind: Callable[..., Flask]) -> None:
    forged = behind(0).test_client().get("/_whoami", headers={"X-Forwarded-For": "10.9.8.7"})
    assert forged.get_data(as_text=True) == "127.0.0.1 http"


def test_behind_one_proxy_each_child_is_counted_on_its_own(behind: Callable[..., Flask]) -> None:
    """The per-client limit keys on the forwarded address: children behind nginx differ."""
    limits = dataclasses.replace(RateLimits(), receipt_failures="2/hour", receipt_retries="1/hour")
    app = behind(1, limits)
    migrate.upgrade(engine_of(app))
    client = app.test_client()

    def wrong_receipt(address: str) -> int:
        page = client.get("/check").get_data(as_text=True)
        token = page.split('name="csrf_token" type="hidden" value="', 1)[1].split('"', 1)[0]
        data = {"csrf_token": token, "receipt": "0000 0000 0000 0000"}
        headers = {"X-Forwarded-For": address}
        return client.post("/check", data=data, headers=headers).status_code

    # Its own two, the one retry shared by everyone over their limit, then no more.
    assert [wrong_receipt("203.0.113.9") for _ in range(4)] == [404, 404, 404, 429]
    assert wrong_receipt("203.0.113.10") == 404  # another child is not limited by the first
