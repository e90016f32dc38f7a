"""Access logs never carry a client address (P3)."""

from __future__ import annotations

import logging
import urllib.request

import pytest

from portal.web.logs import DropClientAddress


def test_the_filter_drops_the_leading_address() -> None:
    line = '203.0.113.9 - - [25/Nov/2026 09:00:00] "GET /s/X HTTP/1.1" 200 -'
    record = logging.LogRecord("werkzeug", logging.INFO, "", 0, line, None, None)
    assert DropClientAddress().filter(record)
    assert record.getMessage() == '- - - [25/Nov/2026 09:00:00] "GET /s/X HTTP/1.1" 200 -'


def test_the_served_access_log_carries_no_client_address(
    live_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level("INFO", logger="werkzeug"),
        urllib.request.urlopen(f"{live_server}/?probe=1") as response,  # noqa: S310
    ):
        assert response.status == 200
    lines = [record.getMessage() for record in caplog.records if record.name == "werkzeug"]
    assert any("GET /?probe=1" in line for line in lines), lines
    assert not any("127.0.0.1" in line for line in lines), lines
