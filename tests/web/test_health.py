"""The load balancer's health check: ok when the database answers, a line more when some
school's reports have nowhere to go, and nothing else."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from portal import create_app
from portal.services import accounts, registry
from portal.web.context import engine_of, get_session
from tests.conftest import SAMPLE_SCHOOLS, add_inbox, make_config


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


def test_schools_whose_reports_have_no_inbox_are_named_but_keep_the_site_up(
    app: Flask, client: FlaskClient, tmp_path: Path
) -> None:
    """The registry imported before any inbox: the school pages still show the numbers to call
    (so the load balancer keeps the instance: 200), and the check says what is missing."""
    with app.app_context():
        session = get_session()
        registry.seed_schools(session, SAMPLE_SCHOOLS.read_bytes())
        regions = {school.region for school in registry.list_schools(session)}
        accounts.init_recovery_key(session, tmp_path / "recovery.key")
    missing = "ok\nno inbox for some schools\n"
    response = client.get("/healthz")
    assert (response.status_code, response.get_data(as_text=True)) == (200, missing)
    assert response.mimetype == "text/plain" and response.headers["Cache-Control"] == "no-store"
    with app.app_context():
        session = get_session()
        # Every region but one has an inbox of its own: that one's schools are still stranded.
        for number, region in enumerate(sorted(regions)[1:]):
            add_inbox(session, f"region-{number}", region)
    assert client.get("/healthz").get_data(as_text=True) == missing
    with app.app_context():
        add_inbox(get_session(), "national")
    assert client.get("/healthz").get_data(as_text=True) == "ok\n"


def test_inactive_schools_need_no_inbox(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        session = get_session()
        registry.seed_schools(session, SAMPLE_SCHOOLS.read_bytes())
        secret = app.extensions["portal.config"].secret_key
        for school in registry.list_schools(session):
            registry.set_active(session, school.school_id, False, actor=None, server_secret=secret)
    assert client.get("/healthz").get_data(as_text=True) == "ok\n"
