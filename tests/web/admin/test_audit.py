"""The audit log as admins browse it: newest first, filters, paging, and the chain's state."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from portal.config import Config
from portal.enums import AuditAction
from portal.models import AuditEvent
from portal.services import audit
from portal.web.admin import audit as audit_pages
from portal.web.context import engine_of, get_session
from tests.worlds import TEXT, Desk, form_token, report_id

REPORT = "ab" * 16


def fill(session: Session, config: Config) -> None:
    """Seven records: logins, opens of one report, an export."""
    for action, public_id in [
        (AuditAction.LOGIN, None),
        (AuditAction.REPORT_OPENED, REPORT),
        (AuditAction.REPLY, REPORT),
        (AuditAction.LOGIN_FAILED, None),
        (AuditAction.REPORT_OPENED, "cd" * 16),
        (AuditAction.EXPORT, None),
        (AuditAction.LOGIN, None),
    ]:
        audit.record_and_commit(
            session,
            action,
            report_public_id=public_id,
            detail={"op": "test"},
            server_secret=config.secret_key,
        )


def test_browse_newest_first_with_filters_and_pages(session: Session, config: Config) -> None:
    fill(session, config)
    everything = audit_pages.browse(session, audit_pages.AuditFilter(), limit=3)
    assert [row.seq for row in everything.rows] == [7, 6, 5]
    assert (everything.matching, everything.older_than) == (7, 5)
    second = audit_pages.browse(session, audit_pages.AuditFilter(before=5), limit=3)
    assert [row.seq for row in second.rows] == [4, 3, 2]
    last = audit_pages.browse(session, audit_pages.AuditFilter(before=2), limit=3)
    assert [row.seq for row in last.rows] == [1] and last.older_than is None
    opened = audit_pages.AuditFilter.parse({"action": "report_opened"})
    assert [row.seq for row in audit_pages.browse(session, opened).rows] == [5, 2]
    of_report = audit_pages.AuditFilter.parse({"report": REPORT.upper()})
    assert [row.seq for row in audit_pages.browse(session, of_report).rows] == [3, 2]
    assert audit_pages.browse(session, of_report).rows[0].detail == [("op", "test")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"action": "hack"}, "'hack' is not one of"),
        ({"report": "x' or 1=1"}, "is not a report id"),
        ({"before": "-3"}, "not a record number"),
        ({"actor": "a" * 255}, "longer than 254"),
    ],
)
def test_bad_filters_are_named(args: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        audit_pages.AuditFilter.parse(args)


def test_the_chain_state_names_an_edited_record(session: Session, config: Config) -> None:
    fill(session, config)
    assert audit_pages.chain_state(session, config.secret_key).intact
    session.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(detail='{"op":"x"}'))
    session.commit()
    state = audit_pages.chain_state(session, config.secret_key)
    assert (state.intact, state.records) == (False, 7)
    assert state.problems == ["seq 3: edited: the record no longer matches its chain"]


def test_the_page_filters_by_actor_and_shows_no_report_text(desk: Desk) -> None:
    desk.site.send()  # a child's report
    triage = desk.log_in(desk.triage)
    public_id = report_id(desk)
    assert TEXT in triage.get(f"/staff/reports/{public_id}").get_data(as_text=True)
    admin = desk.log_in(desk.admin)
    page = admin.get("/staff/audit/").get_data(as_text=True)
    assert "Verify the chain" in page and "Audit</a>" in page
    assert "The chain verifies" not in page  # walked only when asked: seconds on a long log
    verified = admin.post(
        "/staff/audit/verify", data={"csrf_token": form_token(admin, "/staff/audit/")}
    ).get_data(as_text=True)
    assert "The chain verifies" in verified
    assert "Report opened" in page and TEXT not in page
    by_triage = admin.get("/staff/audit/", query_string={"actor": "TRIAGE@"})
    shown = by_triage.get_data(as_text=True)
    assert "triage@111.kz" in shown and "admin@111.kz</td>" not in shown
    of_report = admin.get("/staff/audit/", query_string={"report": public_id}).get_data(
        as_text=True
    )
    assert "1 record match" in of_report
    bad = admin.get("/staff/audit/?action=hack")
    assert bad.status_code == 400
    assert "This filter cannot be used: &#39;hack&#39; is not one of" in bad.get_data(as_text=True)


def test_a_tampered_log_is_shown_not_a_failure(desk: Desk) -> None:
    admin = desk.log_in(desk.admin)
    with desk.site.app.app_context():
        session = get_session()
        # Junk where an action and a time should be, and a detail that is not JSON.
        session.execute(
            text(
                "UPDATE audit_events SET action = 'junk', at = 'yesterday', detail = 'x' "
                "WHERE seq = 1"
            )
        )
        session.commit()
    response = admin.get("/staff/audit/")
    assert response.status_code == 200
    token = form_token(admin, "/staff/audit/")
    page = admin.post("/staff/audit/verify", data={"csrf_token": token}).get_data(as_text=True)
    assert "The chain does not verify" in page and "seq 1: edited" in page
    assert "unreadable: x" in page
    if engine_of(desk.site.app).dialect.name == "sqlite":  # PostgreSQL reads it as a real time
        assert "yesterday" in page


def test_reading_the_log_is_on_the_log(desk: Desk) -> None:
    admin = desk.log_in(desk.admin)
    admin.get("/staff/audit/", query_string={"actor": "triage"})
    token = form_token(admin, "/staff/audit/")
    admin.post("/staff/audit/verify", data={"csrf_token": token})
    expired = admin.post("/staff/audit/verify", data={"csrf_token": "forged"})
    assert expired.status_code == 303
    with desk.site.app.app_context():
        session = get_session()
        reads = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == AuditAction.AUDIT_READ)
            .order_by(AuditEvent.seq)
        ).all()
        details = [json.loads(read.detail) for read in reads]
        assert {read.actor_email for read in reads} == {"admin@111.kz"}
        assert details[0] == {"op": "browse", "action": "", "actor": "triage", "report": ""}
        assert {"op": "verify", "verdict": "intact"} in details
        assert len(reads) == 3  # browse, browse (for the token), verify; not the forged post
        assert audit.verify(session, desk.site.app.extensions["portal.config"].secret_key) == []
