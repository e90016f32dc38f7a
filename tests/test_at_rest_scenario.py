"""P1 and P3 after a whole scenario over HTTP: reports in three languages, follow-ups, replies,
notes, status changes, a referral, the retention purge. Nothing the system keeps holds a word
of it or an address of its clients: the SQLite file with its WAL and shared memory as they are
while the app runs (and the file after a checkpoint), or a pg_dump and every key and value of
the Redis database; every log record and everything printed.

tests/test_privacy_at_rest.py checks the same of receipts, passwords and keys written
through the functions; tests/web/child/test_child_privacy.py of one child's visit and its errors.
"""

from __future__ import annotations

import base64
import html
import ipaddress
import json
import logging
import urllib.parse
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from flask.testing import FlaskClient
from sqlalchemy import select, update

from portal import clock
from portal.models import Report
from portal.web.context import get_session
from tests.conftest import found_in, redis_dump, stored_at_rest
from tests.worlds import Desk, form_token, receipt_of

# Each child: the language of their page, their address, their report and their follow-up.
# Tagged so that no 8 bytes of them are in the school registry or a template.
CHILDREN = (
    ("ru", "203.0.113.41", "КАНАРЕЙКА-ru-отчим-запирает-8d2f", "КАНАРЕЙКА-ru-ещё-раз-5e17"),
    ("kk", "198.51.100.42", "КАНАРЕЙКА-kk-ағам-қорқытады-4c9a", "КАНАРЕЙКА-kk-тағы-да-b3e0"),
    ("en", "2001:db8:85a3::8a2e:370:7334", "CANARY-en-uncle-hurts-me-71f6", "CANARY-en-again-0d4c"),
)
STAFF_ADDRESS = "192.0.2.99"
REPLY = "КАНАРЕЙКА-ответ-сотрудника-{n}-a51c"
NOTE = "КАНАРЕЙКА-заметка-{n}-ішкі-6b0d"
REFERRAL_NOTE = "КАНАРЕЙКА-направлено-в-полицию-e4c2"
PRIORITY_REASON = "КАНАРЕЙКА-причина-приоритета-9f33"


def forms_of_text(text: str) -> list[bytes]:
    """The text as any layer might keep it: in each Unicode encoding, JSON- and Python-escaped,
    as HTML character references, percent-encoded, in base64 at each alignment. (Hex, how
    pg_dump writes bytea, is `found_in`'s own.)"""
    raw = text.encode("utf-8")
    forms = [text.encode(codec) for codec in ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le")]
    forms += [text.encode("utf-32-be"), json.dumps(text).strip('"').encode("ascii")]
    forms += [text.encode("unicode_escape"), text.encode("ascii", "xmlcharrefreplace")]
    forms.append("".join(f"&#x{ord(c):x};" if ord(c) > 127 else c for c in text).encode())
    forms += [urllib.parse.quote(text).encode(), urllib.parse.quote_plus(text).encode()]
    forms.append(html.escape(text).encode("utf-8"))
    for start in range(3):
        whole = raw[start:][: (len(raw) - start) // 3 * 3]
        forms += [base64.b64encode(whole), base64.urlsafe_b64encode(whole)]
    # A part kept alone (a truncated preview, a search index): every run of 8 bytes.
    forms += {raw[i : i + 8] for i in range(len(raw) - 7)}
    return forms


def forms_of_address(text: str) -> list[bytes]:
    """The address as text (IPv4 also as IPv6-mapped), packed, and as a number."""
    address = ipaddress.ip_address(text)
    forms = [text.encode("ascii"), address.packed, str(int(address)).encode("ascii")]
    if isinstance(address, ipaddress.IPv4Address):
        forms.append(f"::ffff:{text}".encode("ascii"))
    else:
        forms.append(address.exploded.encode("ascii"))
        # The /64 the limits count as one client (ratelimit.client_address), as text and packed.
        network = ipaddress.IPv6Network((address, 64), strict=False)
        forms += [str(network).encode("ascii"), network.network_address.packed[:8]]
        forms.append(network.network_address.exploded[:19].encode("ascii"))
    return forms


def send_report(desk: Desk, language: str, address: str, text: str) -> str:
    """A child's report from the school's page in their language; the receipt."""
    site = desk.site
    site.client.environ_base["REMOTE_ADDR"] = address
    headers = {"Accept-Language": language}
    page = site.client.get(site.page, headers=headers).get_data(as_text=True)
    assert f'lang="{language}"' in page
    # The page's own token: it is bound to the language the page was shown in.
    token = page.split('name="csrf_token" type="hidden" value="', 1)[1].split('"', 1)[0]
    data = {"csrf_token": token, "message": text, "danger": "no", "category": "home"}
    return receipt_of(site.client.post(site.page, data=data, headers=headers))


def follow_up(desk: Desk, receipt: str, text: str) -> int:
    """The child writes more with the receipt; the status of the answer."""
    site = desk.site
    data = {"csrf_token": site.token("/check"), "receipt": receipt, "message": text}
    return site.client.post("/check", data=data).status_code


def staff_post(browser: FlaskClient, public_id: str, action: str, fields: dict[str, str]) -> None:
    """Post one of the report page's forms (each has its own token field name)."""
    token = form_token(browser, f"/staff/reports/{public_id}")
    prefix = f"{action}-" if action in ("reply", "note") else ""
    data = {f"{prefix}csrf_token": token, **{f"{prefix}{k}": v for k, v in fields.items()}}
    response = browser.post(f"/staff/reports/{public_id}/{action}", data=data)
    assert response.status_code == 303


def public_ids(desk: Desk) -> list[str]:
    """The reports' public ids, oldest first."""
    with desk.site.app.app_context():
        return list(get_session().scalars(select(Report.public_id).order_by(Report.id)))


def files_as_they_are(instance: Path) -> dict[str, bytes]:
    """The instance folder's files while the app runs: the database, its WAL and SHM."""
    return {
        f"live {path.name}": path.read_bytes() for path in instance.rglob("*") if path.is_file()
    }


def test_nothing_of_a_whole_scenario_is_kept_readable_or_traceable(
    desk: Desk, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    # Every logger at its most talkative, SQLAlchemy's too (it sets its own level to WARNING):
    # every statement sent to the database is logged, its parameters as the app allows.
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy")
    app = desk.site.app
    receipts = []
    for language, address, text, more in CHILDREN:
        receipt = send_report(desk, language, address, text)
        assert follow_up(desk, receipt, more) == 200
        receipts.append(receipt)
    purged, kept = public_ids(desk)[:2], public_ids(desk)[2]

    staff = desk.log_in(desk.triage)
    staff.environ_base["REMOTE_ADDR"] = STAFF_ADDRESS
    for n, public_id in enumerate(public_ids(desk)):
        staff_post(staff, public_id, "reply", {"text": REPLY.format(n=n)})
        staff_post(staff, public_id, "note", {"text": NOTE.format(n=n)})
    staff_post(staff, purged[0], "status", {"status": "in_progress"})
    staff_post(staff, purged[0], "priority", {"priority": "p1", "reason": PRIORITY_REASON})
    staff_post(staff, purged[0], "status", {"status": "closed"})
    referral = {"status": "referred", "agency": "police", "note": REFERRAL_NOTE}
    staff_post(staff, purged[1], "status", referral)
    staff_post(staff, purged[1], "status", {"status": "closed"})
    staff_post(staff, kept, "status", {"status": "in_progress"})
    # The staff member read everything back: the texts were stored (sealed).
    page = staff.get(f"/staff/reports/{purged[1]}").get_data(as_text=True)
    assert CHILDREN[1][2] in page and CHILDREN[1][3] in page and REFERRAL_NOTE in page

    # Past retention: closed long ago, then the cron job's command.
    with app.app_context():
        session = get_session()
        doomed = [
            blob
            for report in session.scalars(select(Report).where(Report.public_id.in_(purged)))
            for blob in [report.key_for_inbox, report.key_for_receipt, report.receipt_lookup]
            + [entry.sealed for entry in report.entries]
        ]
        session.execute(
            update(Report)
            .where(Report.public_id.in_(purged))
            .values(closed_at=clock.now() - timedelta(days=400))
        )
        session.commit()
    purge = app.test_cli_runner().invoke(args=["reports", "purge"])
    assert purge.exit_code == 0 and purge.output.startswith("2 reports erased"), purge.output

    # The purged reports open for nobody; the kept one still does, for the child and staff.
    for receipt in receipts[:2]:
        data = {"csrf_token": desk.site.token("/check"), "receipt": receipt}
        assert desk.site.client.post("/check", data=data).status_code == 404
    for public_id in purged:
        assert staff.get(f"/staff/reports/{public_id}").status_code == 404
        assert public_id not in staff.get("/staff/inbox").get_data(as_text=True)
    data = {"csrf_token": desk.site.token("/check"), "receipt": receipts[2]}
    conversation = desk.site.client.post("/check", data=data).get_data(as_text=True)
    assert CHILDREN[2][2] in conversation and REPLY.format(n=2) in conversation
    assert staff.get(f"/staff/reports/{kept}").status_code == 200
    with app.app_context():
        kept_blobs = [
            entry.sealed
            for report in get_session().scalars(select(Report).where(Report.public_id == kept))
            for entry in report.entries
        ]

    # Everything kept: the live files (database, WAL, SHM), then the database checkpointed
    # (or pg_dump) and the test's Redis keys, every key of the Redis database, the logs.
    instance = Path(app.instance_path)
    stored = files_as_they_are(instance)
    # The erased reports' keys and blobs are gone from the live files too: the purge emptied
    # SQLite's WAL, whose older frames would otherwise still hold them.
    assert doomed and all(doomed)
    assert [name for blob in doomed if blob for name in found_in(stored, blob)] == []
    stored.update(stored_at_rest(app))
    config = app.extensions["portal.config"]
    prefixed = keys = 0
    if config.redis_url:
        prefixed = stored["redis"].count(config.redis_prefix.encode())
        stored["redis, whole database"] = redis_dump(config.redis_url, None)
        with redis.Redis.from_url(config.redis_url) as client:
            keys = client.dbsize()
    records = caplog.records
    logged = "\n".join(record.getMessage() for record in records)
    logged += "\n".join(repr(record.exc_info) for record in records if record.exc_info)
    printed = capsys.readouterr()
    stored["logs"] = logged.encode("utf-8")
    stored["printed"] = (printed.out + printed.err + purge.output).encode("utf-8")

    # The search would find what it looks for: the database was read, and it holds the kept
    # report's sealed entries; the logs have records; Redis (second run) has the test's keys.
    assert all(blob and found_in(stored, blob) for blob in kept_blobs)
    assert "INSERT INTO report_entries" in logged, "the log search would mean nothing"
    if config.database_url.startswith("sqlite"):
        assert {"live portal.sqlite3-wal", "live portal.sqlite3-shm"} <= set(stored)
        assert stored["live portal.sqlite3-wal"], "the WAL was empty while the app ran"
    if config.redis_url:
        assert prefixed >= 2, "no rate-limit count or staff session in Redis"

    texts = [text for _language, _address, *written in CHILDREN for text in written]
    texts += [REPLY.format(n=n) for n in range(3)] + [NOTE.format(n=n) for n in range(3)]
    texts += [REFERRAL_NOTE, PRIORITY_REASON]
    hits = {
        text: found
        for text in texts
        for form in forms_of_text(text)
        if (found := found_in(stored, form))
    }
    assert hits == {}
    addresses = [address for _language, address, *_texts in CHILDREN] + [STAFF_ADDRESS]
    hits = {
        address: found
        for address in addresses
        for form in forms_of_address(address)
        if (found := found_in(stored, form))
    }
    assert hits == {}
    sizes = ", ".join(f"{name} {len(data):,} B" for name, data in sorted(stored.items()))
    print(
        f"searched {len(texts)} texts and {len(addresses)} addresses in: {sizes}; "
        f"Redis keys: {prefixed} of the test, {keys} in the database"
    )
