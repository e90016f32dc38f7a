"""The load balancer's health check: ok when the database answers, and nothing more."""

from __future__ import annotations

from pathlib import Path

from flask.testing import FlaskClient

from portal import create_app
from portal.web.context import engine_of
from tests.conftest import make_config


def test_healthy_answers_ok_and_nothing_else(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "ok\n"
    assert response.mimetype == "text/plain"
    assert response.headers["Cache-Control"] == "no-store"
    # No version, build, host or count in any header either.
    assert not {"Server", "X-Version", "Set-Cookie"} & set(response.headers.keys())


def test_database_down_is_503_without_details(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    instance.mkdir()
    missing = tmp_path / "no-such-folder" / "portal.sqlite3"  # SQLite cannot open it
    app = create_app(make_config(instance, database_url=f"sqlite:///{missing}"))
    try:
        response = app.test_client().get("/healthz")
    finally:
        engine_of(app).dispose()
    assert response.status_code == 503
    body = response.get_data(as_text=True)
    assert body == "unavailable\n"
    assert "sqlite" not in body.lower() and str(tmp_path) not in body


def test_health_check_is_not_rate_limited(client: FlaskClient) -> None:
    # A load balancer asks every few seconds from one address, forever.
    statuses = {client.get("/healthz").status_code for _ in range(50)}
    assert statuses == {200}
