"""What a child's report costs the server besides its two Argon2id: SQL statements, catalogs.

Every statement and every catalog read is CPU that the key derivations could use: these tests
fail when a submission starts to cost more of them again (bench/child.py measures the rate).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from babel import support
from sqlalchemy import event

from portal.config import RateLimits
from portal.services import accounts, registry, reports
from portal.web.child import forms
from portal.web.context import engine_of, get_session
from tests.worlds import TEXT, Site, World, receipt_of


@contextmanager
def statements(site: Site) -> Iterator[list[str]]:
    """The SQL statements run meanwhile, in order, as the database receives them."""
    ran: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        ran.append(" ".join(statement.split()))

    engine = engine_of(site.app)
    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield ran
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def verbs(ran: list[str]) -> list[str]:
    """Each statement as its verb and table: 'SELECT schools', 'INSERT report_entries'."""
    named = []
    for statement in ran:
        verb = statement.split()[0].upper()
        table = re.search(r"\b(?:FROM|INTO|UPDATE)\s+(\w+)", statement, re.IGNORECASE)
        named.append(f"{verb} {table.group(1) if table else '?'}")
    return named


def form_fields(site: Site, **fields: str) -> dict[str, str]:
    return {"csrf_token": site.token(), "message": TEXT, "danger": "no", **fields}


def test_the_school_page_is_one_query(site: Site) -> None:
    site.client.get(site.page)  # the first request of an app sets things up once
    with statements(site) as ran:
        assert site.client.get(site.page).status_code == 200
    assert verbs(ran) == ["SELECT schools"]


def in_transaction(dbapi_connection: Any) -> bool:
    """Whether the database holds a transaction open on this DBAPI connection."""
    info = getattr(dbapi_connection, "info", None)
    if info is not None and hasattr(info, "transaction_status"):  # psycopg
        return bool(info.transaction_status.name != "IDLE")
    return bool(dbapi_connection.in_transaction)  # sqlite3


def test_the_school_page_reads_outside_a_transaction(site: Site) -> None:
    """No BEGIN before the page's one read and no ROLLBACK after it: on PostgreSQL, two round
    trips of the page's four (issue 17)."""
    site.client.get(site.page)
    after: list[bool] = []

    def seen(conn: Any, *_: Any) -> None:
        after.append(in_transaction(conn.connection.dbapi_connection))

    engine = engine_of(site.app)
    event.listen(engine, "after_cursor_execute", seen)
    try:
        assert site.client.get(site.page).status_code == 200
    finally:
        event.remove(engine, "after_cursor_execute", seen)
    assert after == [False]


@pytest.mark.parametrize(("grade", "entries"), [("", 1), ("7", 2)])
def test_a_report_reads_once_and_writes_its_rows_only(site: Site, grade: str, entries: int) -> None:
    """One SELECT for the school and its inbox; the report and its entries inserted, nothing
    read again after the insert or the commit (the thank-you page needs no row)."""
    fields = form_fields(site, grade=grade)
    with statements(site) as ran:
        sent = site.client.post(site.page, data=fields)
    assert sent.status_code == 200 and receipt_of(sent)
    named = verbs(ran)
    assert named[:2] == ["SELECT schools", "INSERT reports"], named
    # One INSERT a row, or one for all of them where the driver batches (PostgreSQL).
    rest = named[2:]
    assert rest and set(rest) == {"INSERT report_entries"} and len(rest) <= entries, named
    assert site.reports()[0][2] == entries


def test_a_refused_report_runs_no_query(make_site: Callable[[RateLimits], Site]) -> None:
    site = make_site(RateLimits(client_messages="1/hour"))
    assert receipt_of(site.client.post(site.page, data=form_fields(site)))
    fields = form_fields(site)
    with statements(site) as ran:
        assert site.client.post(site.page, data=fields).status_code == 429
    assert ran == []


def test_a_bad_form_reads_the_school_once_and_writes_nothing(site: Site) -> None:
    fields = form_fields(site, category="astrology")
    with statements(site) as ran:
        assert site.client.post(site.page, data=fields).status_code == 400
    assert verbs(ran) == ["SELECT schools"]
    assert site.reports() == []


# ---- the school with its inbox, in one query -------------------------------------------------


def test_the_school_comes_with_its_regions_inbox_else_the_national_one(world: World) -> None:
    session = world.session
    regional = reports.school_and_inbox(session, world.regional_school.code.lower())
    national = reports.school_and_inbox(session, world.national_school.code)
    assert regional is not None and national is not None
    assert (regional[0].id, regional[1] and regional[1].id) == (
        world.regional_school.id,
        world.regional.id,
    )
    assert (national[0].id, national[1] and national[1].id) == (
        world.national_school.id,
        world.national.id,
    )
    # As inbox_for_school routes them, school by school; read as columns, outside the session.
    for found in (regional, national):
        routed = reports.inbox_for_school(session, found[0])
        assert found[1] is not None and found[1] not in session and found[0] not in session
        assert (found[1].id, found[1].public_key) == (routed.id, routed.public_key)


def test_a_second_national_inbox_does_not_take_the_first_ones_reports(world: World) -> None:
    # The action refuses a second national inbox; the routing must hold even if one exists.
    accounts.new_inbox(world.session, "national-2", None)
    world.session.commit()
    found = reports.school_and_inbox(world.session, world.national_school.code)
    assert found is not None and found[1] is not None and found[1].id == world.national.id


def test_no_school_for_an_unknown_old_or_inactive_code(world: World) -> None:
    session = world.session
    school = world.national_school
    assert reports.school_and_inbox(session, "not a code") is None
    assert reports.school_and_inbox(session, "ZZZZZZZZ") is None
    old = school.code
    registry.rotate_code(
        session, school.school_id, actor=None, server_secret=world.config.secret_key
    )
    assert reports.school_and_inbox(session, old) is None
    registry.set_active(
        session, school.school_id, False, actor=None, server_secret=world.config.secret_key
    )
    assert reports.school_and_inbox(session, school.code) is None


def test_a_school_without_any_inbox_comes_with_none(site: Site) -> None:
    fields = form_fields(site)  # the page as the child opened it, before the inboxes went
    with site.app.app_context():
        session = get_session()
        for inbox in accounts.list_inboxes(session):
            session.delete(inbox)
        session.commit()
        found = reports.school_and_inbox(session, site.code)
        assert found is not None and found[0].code == site.code and found[1] is None
    # A refusal that gives the text back, never a 500; nothing is stored.
    response = site.client.post(site.page, data=fields)
    assert response.status_code == 503
    assert TEXT in response.get_data(as_text=True)
    assert site.reports() == []


# ---- WTForms' catalog -----------------------------------------------------------------------


def test_wtforms_messages_are_read_once_a_process_and_come_in_the_pages_language(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    forms.wtforms_messages.cache_clear()
    loads: list[object] = []
    real = support.Translations.load

    def counted(*args: Any, **kwargs: Any) -> Any:
        if "wtforms" in (*args, kwargs.get("domain")):
            loads.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(support.Translations, "load", counted)
    pages = {}
    for _ in range(2):
        for language in ("ru", "kk", "en"):
            site.client.get(site.page, headers={"Accept-Language": language})
            response = site.client.post(
                site.page,
                data=form_fields(site, category="astrology"),
                headers={"Accept-Language": language},
            )
            pages[language] = response.get_data(as_text=True)
    assert len(loads) == 3  # one catalog a language, for all six pages of each
    assert "Неверный вариант." in pages["ru"]
    assert "Жарамды таңдау емес." in pages["kk"]
    assert "Not a valid choice." in pages["en"]
