"""Key derivations are bounded per worker; beyond the bound a quick 503 keeps the child's text."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from portal.config import ConfigError, load_config
from portal.services import intake
from portal.web.kdf_bound import RETRY_AFTER_SECONDS, KdfBound, bound_of
from tests.worlds import TEXT, Desk, Site, receipt_of, typed_back

SHORT_WAIT = 0.05


@contextmanager
def all_slots_taken(app: Flask) -> Iterator[KdfBound]:
    """Hold every slot of the app's bound, as concurrent derivations would."""
    bound = bound_of(app)
    bound.wait_seconds = SHORT_WAIT
    for _ in range(bound.limit):
        assert bound.acquire()
    try:
        yield bound
    finally:
        for _ in range(bound.limit):
            bound.release()


def held_reports(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event]:
    """Make every report stop inside intake.send_report (its slot taken) until released:
    the events (inside, release)."""
    inside, release = threading.Event(), threading.Event()
    real = intake.send_report

    def held(*args: object, **kwargs: object) -> intake.SentReport:
        inside.set()
        assert release.wait(10)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(intake, "send_report", held)
    return inside, release


def assert_busy_page(response: TestResponse, typed: str = TEXT) -> None:
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response.headers["Cache-Control"] == "no-store"
    assert typed_back(response, typed), "the child's text must come back"
    assert "111" in response.get_data(as_text=True)


def test_the_bound_waits_briefly_then_refuses() -> None:
    bound = KdfBound(2, wait_seconds=SHORT_WAIT)
    assert bound.acquire() and bound.acquire()
    started = time.monotonic()
    assert not bound.acquire()
    assert time.monotonic() - started < 1  # quick: a short wait, not a queue
    bound.release()
    assert bound.acquire()
    bound.release()
    bound.release()
    with pytest.raises(ValueError):  # a slot given back twice is a bug, not more capacity
        bound.release()


def test_a_report_beyond_the_bound_gets_a_quick_503_with_its_text(site: Site) -> None:
    token = site.token()
    with all_slots_taken(site.app):
        response = site.client.post(
            site.page,
            data={"csrf_token": token, "message": TEXT, "danger": "no", "category": "bullying"},
        )
    assert_busy_page(response)
    assert site.reports() == [], "nothing was stored"
    # The slots are free again: the same form, sent again, is stored.
    assert receipt_of(site.send(category="bullying"))


@pytest.mark.parametrize(
    ("language", "phrase"),
    [
        ("kk", "Бірдеңе дұрыс болмады"),
        ("ru", "Что-то пошло не так"),
        ("en", "Something went wrong"),
    ],
)
def test_the_busy_page_speaks_the_childs_language(site: Site, language: str, phrase: str) -> None:
    token = site.token()
    with all_slots_taken(site.app):
        response = site.client.post(
            site.page,
            data={"csrf_token": token, "message": TEXT, "category": "home"},
            headers={"Accept-Language": language},
        )
    assert_busy_page(response)
    assert f'lang="{language}"' in response.get_data(as_text=True)
    assert phrase in response.get_data(as_text=True)


def test_a_follow_up_beyond_the_bound_keeps_its_text(site: Site) -> None:
    receipt = receipt_of(site.send(category="bullying"))
    follow_up = "Ещё одно: сегодня снова было. Бүгін тағы болды."
    token = site.token("/check")
    with all_slots_taken(site.app):
        response = site.client.post(
            "/check", data={"csrf_token": token, "receipt": receipt, "message": follow_up}
        )
    assert_busy_page(response, follow_up)
    assert receipt not in response.get_data(as_text=True)  # the receipt is not echoed back
    assert site.reports()[0][2] == 1, "the follow-up was not stored"


def test_a_staff_login_beyond_the_bound_is_refused_without_echoing_the_password(
    desk: Desk,
) -> None:
    browser = desk.client()
    with all_slots_taken(desk.site.app):
        response = desk.post_login(browser, desk.triage, password="secret-typed-password-1")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert "secret-typed-password-1" not in response.get_data(as_text=True)


def test_pages_without_key_derivation_are_not_bounded(site: Site) -> None:
    with all_slots_taken(site.app):
        assert site.client.get(site.page).status_code == 200
        assert site.client.get("/check").status_code == 200
        assert site.client.get("/healthz").status_code == 200


def test_a_failing_view_gives_its_slot_back(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("database trouble")

    monkeypatch.setattr(intake, "send_report", broken)
    assert site.send(category="bullying").status_code == 500
    bound = bound_of(site.app)
    bound.wait_seconds = 0
    assert bound.acquire(), "the slot leaked"
    bound.release()


def test_concurrent_reports_hold_slots_for_the_derivation(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With one slot, a report whose key derivation is running makes the next one a 503."""
    bound_of(site.app).wait_seconds = SHORT_WAIT
    inside, finish = held_reports(monkeypatch)
    first: list[TestResponse] = []
    form = {"csrf_token": site.token(), "message": TEXT, "category": "bullying"}
    second = {**form, "csrf_token": site.token()}  # a page of its own: a token is good once
    worker = threading.Thread(target=lambda: first.append(site.client.post(site.page, data=form)))
    worker.start()
    try:
        assert inside.wait(10)
        assert_busy_page(site.client.post(site.page, data=second))
    finally:
        finish.set()
        worker.join(10)
    assert first[0].status_code == 200 and receipt_of(first[0])
    assert len(site.reports()) == 1


@pytest.mark.parametrize(
    ("env", "expected"),
    [({}, (1, 0)), ({"PORTAL_MAX_KDF_CONCURRENCY": "3", "PORTAL_TRUSTED_PROXIES": "2"}, (3, 2))],
)
def test_settings_are_read(tmp_path: Path, env: dict[str, str], expected: tuple[int, int]) -> None:
    config = load_config({"PORTAL_INSTANCE_PATH": str(tmp_path), **env})
    assert (config.max_kdf_concurrency, config.trusted_proxies) == expected


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORTAL_MAX_KDF_CONCURRENCY", "0"),
        ("PORTAL_MAX_KDF_CONCURRENCY", "65"),
        ("PORTAL_MAX_KDF_CONCURRENCY", "two"),
        ("PORTAL_TRUSTED_PROXIES", "-1"),
        ("PORTAL_TRUSTED_PROXIES", "6"),
        ("PORTAL_TRUSTED_PROXIES", "1.5"),
    ],
)
def test_bad_settings_refuse_to_start(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_config({"PORTAL_INSTANCE_PATH": str(tmp_path), name: value})
