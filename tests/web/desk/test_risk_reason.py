"""Why a report is P1, as staff see it: the rule's category in the inbox (no words), the child's
matched words on the decrypted report only, and per-rule counts on the figures page."""

from __future__ import annotations

import html
from datetime import timedelta

import time_machine
from sqlalchemy import select

from portal import clock
from portal.models import Report
from portal.web.context import get_session
from tests.worlds import Desk, report_id

CHILD = "мне 8 лет мама не пришла ночью я одна дома"


def test_the_inbox_names_the_kind_and_the_report_quotes_the_childs_words(desk: Desk) -> None:
    desk.site.send(message=CHILD, category="other")
    public_id = report_id(desk)
    browser = desk.log_in(desk.triage)
    inbox = html.unescape(browser.get("/staff/inbox").get_data(as_text=True))
    assert "a child alone or thrown out" in inbox
    assert "одна" not in inbox  # the list is metadata: no word of the child's
    page = html.unescape(browser.get(f"/staff/reports/{public_id}").get_data(as_text=True))
    assert "Why P1" in page
    assert "a child alone or thrown out: “мама не пришла" in page
    with desk.site.app.app_context():
        rule = get_session().scalar(select(Report.risk_rule).where(Report.public_id == public_id))
    assert rule is not None and rule.startswith("neglect:ru:")


def test_a_report_no_rule_flagged_gives_no_reason(desk: Desk) -> None:
    desk.site.send(message="в столовой холодный чай", category="other")
    browser = desk.log_in(desk.triage)
    page = browser.get(f"/staff/reports/{report_id(desk)}").get_data(as_text=True)
    assert "Why P1" not in page


def test_the_figures_page_counts_reports_by_rule(desk: Desk) -> None:
    for _ in range(5):
        desk.site.send(message=CHILD, category="other")
    # The figures show closed months only (issue 20): read them once this month has ended.
    with time_machine.travel(clock.now() + timedelta(days=40), tick=True):
        admin = desk.log_in(desk.admin)
        page = html.unescape(admin.get("/staff/figures/").get_data(as_text=True))
    assert "P1 by risk rule, and staff corrections" in page
    with desk.site.app.app_context():
        rule = get_session().scalar(select(Report.risk_rule).limit(1))
    assert rule is not None
    row = page[page.index(f"<code>{rule}</code>") :].split("</tr>", 1)[0]
    assert "<td>5</td><td>0</td><td>0</td>" in row
    assert "мама не пришла" not in page
