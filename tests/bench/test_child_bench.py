"""bench/child.py reads a school's form as a browser would, without parsing the whole page."""

from __future__ import annotations

import importlib
import ipaddress
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from portal.config import RateLimits, load_config
from tests.worlds import TEXT, Site, build_site

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def bench_child() -> Iterator[ModuleType]:
    """bench/child.py as the bench runs it (bench/ first on the path, for its `import crypto`)."""
    sys.path.insert(0, str(BENCH))
    try:
        yield importlib.import_module("child")
    finally:
        sys.path.remove(str(BENCH))


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """A site with the sample schools and a national inbox."""
    yield from build_site(tmp_path)


@pytest.fixture
def limited_site(tmp_path: Path) -> Iterator[Site]:
    """A site whose client may send one message an hour."""
    yield from build_site(tmp_path, RateLimits(client_messages="1/hour"))


def read_both(bench_child: ModuleType, body: bytes) -> tuple[object, tuple[str, str] | None]:
    parsed = bench_child.parse_page(body)
    full = (parsed.form_action, parsed.hidden["csrf_token"]) if parsed.form_action else None
    return full, bench_child.form_of(body)


@pytest.mark.parametrize("path", ["/s/{code}", "/S/{code}?lang=ru", "/check?lang=en"])
def test_the_lean_reading_finds_what_the_html_parser_finds(
    bench_child: ModuleType, site: Site, path: str
) -> None:
    body = site.client.get(path.format(code=site.code)).data
    full, lean = read_both(bench_child, body)
    assert lean is not None and lean == full
    assert lean[0].startswith(("/s/", "/S/", "/check")) and "&amp;" not in lean[0]


def test_the_refusal_page_form_is_read_too(bench_child: ModuleType, limited_site: Site) -> None:
    site = limited_site
    fields = {"csrf_token": site.token(), "message": TEXT, "danger": "no"}
    assert site.client.post(site.page, data=fields).status_code == 200
    refused = site.client.post(site.page, data={**fields, "csrf_token": site.token()})
    assert refused.status_code == 429
    full, lean = read_both(bench_child, refused.data)
    assert lean is not None and lean == full


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body>no form here</body></html>",
        b'<form class="report" method="post" action="/s/X"><input name="message"></form>',
        b'<form action="/s/X"><input type="hidden" name="csrf_token" value=""></form>',
    ],
)
def test_a_page_without_a_form_and_token_is_none(bench_child: ModuleType, body: bytes) -> None:
    assert bench_child.form_of(body) is None


def test_an_escaped_action_is_unescaped(bench_child: ModuleType) -> None:
    body = (
        b'<form method="post" action="/s/AB?lang=kk&amp;x=1">'
        b'<input id="csrf_token" name="csrf_token" type="hidden" value="a.b&amp;c"></form>'
    )
    assert bench_child.form_of(body) == ("/s/AB?lang=kk&x=1", "a.b&c")


def test_the_machines_cpu_per_operation_counts_server_services_and_clients(
    bench_child: ModuleType,
) -> None:
    cpu = bench_child.CpuUse(bench=0.05, server=0.35, others=0.4)
    result = bench_child.LoadResult(2.0, [0.01] * 100, 0, "", cpu)
    # (server with its database and Redis 0.35 s + clients 0.05 s) / 100: others' CPU stays out.
    assert result.machine_per_operation == pytest.approx(0.004)
    unknown = bench_child.CpuUse(bench=0.05, server=None, others=None)
    assert bench_child.LoadResult(2.0, [0.01], 0, "", unknown).machine_per_operation is None
    assert bench_child.LoadResult(2.0, [], 0, "", cpu).machine_per_operation is None


def test_each_submission_comes_from_an_address_of_its_own(bench_child: ModuleType) -> None:
    """Children write each from their own phone: the bench's clients, numbered over the whole
    run, get distinct addresses of 10/8, which the one trusted proxy passes on."""
    numbers = [*range(1, 70_000), 2**24 - 1]
    addresses = [bench_child.client_address(number) for number in numbers]
    assert len(set(addresses)) == len(numbers)
    assert all(ipaddress.ip_address(a) in ipaddress.ip_network("10.0.0.0/8") for a in addresses)


def test_the_served_portal_believes_one_proxy(bench_child: ModuleType, tmp_path: Path) -> None:
    env = bench_child.portal_env(tmp_path / "instance")
    assert load_config(env).trusted_proxies == 1
