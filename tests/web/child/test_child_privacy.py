"""After a child's whole visit, no canary text and no client address anywhere we keep (P1, P3)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from limits.storage import MemoryStorage

from portal.config import Config, RateLimits
from portal.services import intake
from portal.web.ratelimit import limiter
from tests.conftest import found_in, redis_dump, stored_at_rest
from tests.worlds import Site, receipt_of

CANARY = "CANARY-ұрып-соғу-7c1e: он бьёт меня"
ADDRESS = "203.0.113.77"  # TEST-NET-3: appears nowhere unless we leak it


def limiter_keys(site: Site) -> str:
    """Every key the rate limiter's storage holds now (and, in Redis, every value)."""
    storage = limiter.storage
    if isinstance(storage, MemoryStorage):
        return " ".join([*storage.storage, *storage.events])
    config: Config = site.app.extensions["portal.config"]
    assert config.redis_url
    return redis_dump(config.redis_url, config.redis_prefix).decode("utf-8", "replace")


def visit(site: Site, monkeypatch: pytest.MonkeyPatch) -> str:
    """Report, follow up, mistype the receipt, hit the limit, meet a failure of ours.

    Returns the rate limiter's keys as they were when the limit was hit.
    """
    site.client.environ_base["REMOTE_ADDR"] = ADDRESS
    receipt = receipt_of(site.send(message=CANARY, danger="yes", grade="7"))
    data = {"csrf_token": site.token("/check"), "receipt": receipt, "message": CANARY + " ещё"}
    assert site.client.post("/check", data=data).status_code == 200
    data = {"csrf_token": site.token("/check"), "receipt": "9999 9999 9999 9999"}
    assert site.client.post("/check", data=data).status_code == 404
    assert site.send(message=CANARY).status_code == 429  # the limit below is two messages

    def broken(*_args: object) -> None:
        raise RuntimeError("storage failure")

    counted = limiter_keys(site)
    monkeypatch.setattr(intake, "send_report", broken)
    limiter.reset()
    assert site.send(message=CANARY).status_code == 500
    return counted


def stored_bytes(site: Site) -> dict[str, bytes]:
    """Everything stored: instance files, the database (file or pg_dump), Redis."""
    return stored_at_rest(site.app)


def pieces(text: str, size: int = 8) -> set[bytes]:
    """Every run of `size` bytes of the text's UTF-8 form."""
    raw = text.encode("utf-8")
    return {raw[i : i + size] for i in range(len(raw) - size + 1)}


def test_no_canary_and_no_address_in_files_logs_or_limiter(
    make_site: Callable[[RateLimits], Site],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    site = make_site(RateLimits(client_messages="2/hour"))
    with caplog.at_level(logging.DEBUG):
        counted = visit(site, monkeypatch)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    logged += "\n".join(str(record.exc_info) for record in caplog.records if record.exc_info)
    assert "storage failure" in logged  # the failure was logged, so the search means something
    assert ADDRESS not in logged
    assert not any(piece.decode("utf-8", "ignore") in logged for piece in pieces(CANARY))

    assert "client:" in counted  # the limiter did keep counts per client
    assert ADDRESS not in counted

    files = stored_bytes(site)
    assert files, "no files found to search"
    for piece in pieces(CANARY):
        assert not found_in(files, piece), piece
    assert not found_in(files, ADDRESS.encode())
    assert not found_in(files, bytes(map(int, ADDRESS.split("."))))  # nor packed as 4 bytes
