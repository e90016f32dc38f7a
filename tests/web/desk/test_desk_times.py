"""Staff read times to the minute at most (issue 20): no seconds on any page or in any CSV.

A time to the second on a staff page (or in a `datetime` attribute), joined with a school
network's log of which device reached the portal when, points at one child's phone.
"""

from __future__ import annotations

import re
from datetime import timedelta

import time_machine
from flask.testing import FlaskClient

from portal import clock
from portal.services import retention
from portal.web.context import get_config, get_session
from tests.worlds import Desk, form_token, receipt_of, report_id

# 09:41:27, 09:41:27.123, 2026-12-05T09:41:27: any clock time with its seconds.
SECONDS = re.compile(r"\d{1,2}:\d{2}:\d{2}")


def _the_desk_has_worked(desk: Desk, browser: FlaskClient) -> str:
    """Two reports, a reply, a note, a status change, a purge: times of every kind stored."""
    site = desk.site
    site.send(category="online")
    receipt_of(site.send(danger="yes"))
    public_id = report_id(desk)
    page = f"/staff/reports/{public_id}"
    for action, data in (("reply", {"reply-text": "Мы рядом."}), ("note", {"note-text": "ok"})):
        token = form_token(browser, page)
        assert browser.post(f"{page}/{action}", data={"csrf_token": token, **data}).status_code
    token = form_token(browser, page)
    browser.post(f"{page}/status", data={"csrf_token": token, "status": "in_progress"})
    with desk.site.app.app_context():
        retention.purge_closed_reports(
            get_session(),
            older_than=timedelta(days=1),
            server_secret=get_config().secret_key,
        )
    return public_id


def test_no_staff_page_or_csv_shows_seconds(desk: Desk) -> None:
    # An instant with seconds and microseconds, so that any leak of them shows.
    with time_machine.travel(clock.now().replace(second=37, microsecond=123456), tick=True):
        triage = desk.log_in(desk.triage)
        public_id = _the_desk_has_worked(desk, triage)
        admin = desk.log_in(desk.admin)
        pages = {
            "inbox": triage.get("/staff/inbox"),
            "report": triage.get(f"/staff/reports/{public_id}"),
            "audit log": admin.get("/staff/audit/"),
            "people": admin.get("/staff/people/"),
            "schools": admin.get("/staff/schools/"),
            "school": admin.get(f"/staff/schools/{desk.school_id}"),
            "figures": admin.get("/staff/figures/"),
            "figures CSV": admin.get("/staff/figures/figures.csv"),
        }
    for what, response in pages.items():
        assert response.status_code == 200, what
        body = response.get_data(as_text=True)
        assert not SECONDS.findall(body), (what, SECONDS.findall(body))
    report = pages["report"].get_data(as_text=True)
    stamps = re.findall(r'<time datetime="([^"]+)"', report)
    assert stamps and all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d\+05:00", s) for s in stamps)
