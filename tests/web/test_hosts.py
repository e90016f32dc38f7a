"""The Host header: production answers only PORTAL_BASE_URL's host, never reflecting another."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from portal import create_app
from portal.config import Environment
from portal.web.context import engine_of
from tests.conftest import make_config, new_database

PUBLIC = "https://qr111.example.kz"  # make_config's base URL
# Hosts a forged request may name: another site, ours as a prefix or a suffix, ours with
# a stray character, an address.
FORGED = (
    "evil.example",
    "qr111.example.kz.evil.example",
    "evil.qr111.example.kz",
    "qr111.example.kz_",
    "127.0.0.1",
    "localhost",
)
# A page of every kind: a redirect (the one the review reported), the child's pages, a
# staff form, a static file, the health check.
PATHS = ("/staff", "/", "/staff/login", "/static/style.css", "/healthz", "/s/NOSUCHCODE")


def app_in(tmp_path: Path, env: Environment, **overrides: object) -> Iterator[Flask]:
    instance = tmp_path / "instance"
    instance.mkdir()
    config = make_config(instance, env=env, database_url=new_database(instance), **overrides)
    app = create_app(config)
    yield app
    engine_of(app).dispose()


@pytest.fixture
def production(tmp_path: Path) -> Iterator[Flask]:
    """The app as deployed: PORTAL_ENV=production, behind one proxy (nginx)."""
    yield from app_in(tmp_path, Environment.PRODUCTION, trusted_proxies=1)


@pytest.fixture
def development(tmp_path: Path) -> Iterator[Flask]:
    yield from app_in(tmp_path, Environment.DEVELOPMENT)


@pytest.mark.parametrize("host", FORGED)
@pytest.mark.parametrize("path", PATHS)
def test_production_refuses_any_other_host(production: Flask, host: str, path: str) -> None:
    response = production.test_client().get(path, base_url=f"https://{host}")
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert host not in response.get_data(as_text=True)
    # Whoever reached us by a wrong name still gets the numbers to call, and the headers.
    assert "111" in response.get_data(as_text=True)
    assert "Content-Security-Policy" in response.headers


def test_production_refuses_a_forged_host_on_a_post_too(production: Flask) -> None:
    response = production.test_client().post(
        "/staff/login", base_url="https://evil.example", data={"email": "a@b.kz"}
    )
    assert response.status_code == 400


@pytest.mark.parametrize("base", [PUBLIC, f"{PUBLIC}:443", "https://QR111.example.kz"])
def test_production_answers_its_own_host(production: Flask, base: str) -> None:
    response = production.test_client().get("/staff", base_url=base)
    assert response.status_code == 308
    assert response.headers["Location"] in ("/staff/", f"{PUBLIC}/staff/", f"{base}/staff/")
    assert production.test_client().get("/healthz", base_url=base).status_code == 200


def test_a_forwarded_host_is_not_believed(production: Flask) -> None:
    """nginx passes the client's Host; X-Forwarded-Host is whatever the client says."""
    response = production.test_client().get(
        "/staff", base_url=PUBLIC, headers={"X-Forwarded-Host": "evil.example"}
    )
    assert response.status_code == 308
    assert "evil" not in response.headers["Location"]


@pytest.mark.parametrize(
    "base", ["http://127.0.0.1:5000", "http://localhost:5000", "http://localhost", PUBLIC]
)
def test_development_answers_on_the_machine_and_the_test_client(
    development: Flask, base: str
) -> None:
    assert development.test_client().get("/staff", base_url=base).status_code == 308
    assert development.test_client().get("/staff").status_code == 308  # the client's own host


def test_development_answers_any_host(development: Flask) -> None:
    """A phone scanning a poster reaches a developer's machine by its LAN address."""
    response = development.test_client().get("/staff", base_url="http://192.168.1.20:5000")
    assert response.status_code == 308
