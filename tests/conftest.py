"""Fixtures shared by every test: an app on a fresh migrated database, its clients."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from werkzeug.serving import make_server

from portal import create_app, migrate
from portal.config import Config, Environment
from portal.crypto import KdfParams
from portal.db import engine_of

# Argon2id at 64 KiB and one pass: unit tests check behaviour; bench/crypto.py checks cost.
CHEAP_KDF = KdfParams(memory_kib=64, iterations=1, lanes=1)
SAMPLE_SCHOOLS = Path(__file__).resolve().parent.parent / "portal" / "data" / "schools-sample.csv"


def make_config(instance: Path, **overrides: Any) -> Config:
    """A development configuration living entirely in a temporary folder."""
    config = Config(
        env=Environment.DEVELOPMENT,
        secret_key="test-secret-key-" + "x" * 32,
        database_url=f"sqlite:///{instance / 'portal.sqlite3'}",
        base_url="https://qr111.example.kz",
        instance_path=instance,
        testing=True,
        kdf=CHEAP_KDF,
    )
    return dataclasses.replace(config, **overrides)


@pytest.fixture(autouse=True)
def cheap_key_derivation(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every Argon2id cheap, unless a test is marked production_kdf."""
    if request.node.get_closest_marker("production_kdf") is None:
        monkeypatch.setattr("portal.crypto.reports.RECEIPT_LOOKUP_KDF", CHEAP_KDF)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    """An app on its own SQLite database, migrated to the newest revision."""
    instance = tmp_path / "instance"
    instance.mkdir()
    application = create_app(make_config(instance))
    migrate.upgrade(engine_of(application))
    yield application
    engine_of(application).dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of the app."""
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    """Runs the app's `flask` commands."""
    return app.test_cli_runner()


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The app served by a real HTTP server on a free port; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
