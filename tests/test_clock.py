"""The one clock: UTC instants, Kazakhstan time for people, and nobody else reading the time."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from flask import Flask

from portal import clock
from portal.web import i18n
from tests.conftest import run_start

PORTAL = Path(clock.__file__).resolve().parent
# What reads the time: calls of these, anywhere in portal/ but clock.py.
TIME_READERS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "time_ns"),
    ("time", "localtime"),
    ("time", "gmtime"),
}


def test_now_is_an_aware_utc_instant_that_the_tests_move() -> None:
    with time_machine.travel(datetime(2028, 2, 29, 18, 59, tzinfo=UTC), tick=False):
        assert clock.now() == datetime(2028, 2, 29, 18, 59, tzinfo=UTC)
        assert clock.now().utcoffset() == timedelta(0)
        assert clock.kazakhstan_today() == datetime(2028, 2, 29).date()
    with time_machine.travel(datetime(2028, 2, 29, 19, 0, tzinfo=UTC), tick=False):
        assert clock.kazakhstan_today() == datetime(2028, 3, 1).date()


@pytest.mark.parametrize(
    ("instant", "offset"),
    [
        (datetime(2024, 2, 29, 17, 59, 59, tzinfo=UTC), timedelta(hours=6)),  # Almaty before
        (datetime(2024, 2, 29, 18, 0, tzinfo=UTC), timedelta(hours=5)),  # one zone since
        (datetime(2026, 12, 5, 6, 54, tzinfo=UTC), timedelta(hours=5)),
        (datetime(2028, 7, 1, tzinfo=UTC), timedelta(hours=5)),  # no summer time
    ],
)
def test_kazakhstan_is_utc_plus_5_since_1_march_2024(instant: datetime, offset: timedelta) -> None:
    """The pinned tzdata knows the change of 2024 (tzdata 2024a)."""
    assert clock.in_kazakhstan(instant).utcoffset() == offset
    assert clock.KAZAKHSTAN.key == "Asia/Almaty"


def test_the_zone_comes_from_the_pinned_tzdata_package_not_the_system() -> None:
    import tzdata  # type: ignore[import-untyped]

    assert tzdata.IANA_VERSION >= "2024a"
    assert clock.utc_offset_label(datetime(2026, 12, 5, tzinfo=UTC)) == "UTC+5"


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        clock.in_kazakhstan(datetime(2026, 12, 5, 11, 54))


def test_machine_time_is_kazakhstan_time_to_the_minute() -> None:
    instant = datetime(2026, 12, 5, 6, 54, 31, 123456, tzinfo=UTC)
    assert clock.machine_time(instant) == "2026-12-05T11:54+05:00"


@pytest.mark.parametrize(
    ("language", "shown"),
    [
        ("en", "01.01.2028 00:00 (Kazakhstan time)"),
        ("ru", "01.01.2028 00:00 (время Казахстана)"),
        ("kk", "01.01.2028 00:00 (Қазақстан уақыты)"),
    ],
)
def test_people_read_kazakhstan_time_with_the_zone_named(
    app: Flask, language: str, shown: str
) -> None:
    new_year = datetime(2027, 12, 31, 19, 0, tzinfo=UTC)  # 00:00 on 1 January in Kazakhstan
    with app.test_request_context(f"/?lang={language}"):
        assert i18n.kazakhstan_time(new_year) == shown
        assert str(i18n.time_tag(new_year)) == (
            f'<time datetime="2028-01-01T00:00+05:00">{shown}</time>'
        )


def _time_reads(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            if (name, node.func.attr) in TIME_READERS:
                found.append(f"{name}.{node.func.attr}() on line {node.lineno}")
    return found


def test_only_the_clock_reads_the_time() -> None:
    """Every module asks portal.clock: a test that moves the clock moves the whole portal."""
    readers = {
        str(path.relative_to(PORTAL)): reads
        for path in sorted(PORTAL.rglob("*.py"))
        if path.name != "clock.py"
        and (reads := _time_reads(ast.parse(path.read_text(encoding="utf-8"))))
    }
    assert readers == {}


def test_the_source_check_finds_a_reader() -> None:
    assert _time_reads(ast.parse("import datetime\ndatetime.datetime.now()")) == [
        "datetime.now() on line 2"
    ]
    assert _time_reads(ast.parse("time.time()")) == ["time.time() on line 1"]


def test_the_run_clock_option_needs_an_instant_with_its_offset(
    pytestconfig: pytest.Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pytestconfig.option, "clock", "2027-12-31T23:59:00+05:00")
    assert run_start(pytestconfig) == datetime(2027, 12, 31, 18, 59, tzinfo=UTC)
    for wrong in ("2027-12-31T23:59:00", "31.12.2027"):
        monkeypatch.setattr(pytestconfig.option, "clock", wrong)
        with pytest.raises(pytest.UsageError):
            run_start(pytestconfig)
