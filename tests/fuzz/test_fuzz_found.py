"""What the long fuzz run found, kept as plain tests (the fast run may not draw them again)."""

from __future__ import annotations

import pytest

from portal.services.inputs import row_id
from tests.worlds import Desk, Site, form_token, receipt_of, report_id


@pytest.mark.parametrize(
    "fields",
    [{"category": "\r"}, {"category": "\x0b"}, {"danger": " "}, {"grade": "\t"}],
)
def test_a_blank_choice_is_no_choice_not_a_failure(site: Site, fields: dict[str, str]) -> None:
    """Optional() let a blank answer past the choice check; reading it was a 500."""
    assert receipt_of(site.send(**fields))


def test_a_body_over_the_limit_on_a_staff_page_is_a_413(desk: Desk) -> None:
    """The bar's log-out form read the refused body again while the 413 page was drawn."""
    browser = desk.log_in(desk.triage)
    huge = {"text": "x" * 300_000}
    assert browser.post("/staff/login", data=huge).status_code == 413
    desk.site.send()
    assert browser.post(f"/staff/reports/{report_id(desk)}/note", data=huge).status_code == 413


def test_a_blank_agency_and_a_superscript_assignee_are_refused_calmly(desk: Desk) -> None:
    desk.site.send()
    public_id = report_id(desk)
    browser = desk.log_in(desk.triage)
    token = form_token(browser, f"/staff/reports/{public_id}")
    for action, data in (
        ("status", {"status": "referred", "agency": " "}),
        ("assign", {"assignee": "²"}),
        ("assign", {"assignee": "9223372036854775808"}),
    ):
        response = browser.post(
            f"/staff/reports/{public_id}/{action}", data={"csrf_token": token, **data}
        )
        assert response.status_code == 303, action


@pytest.mark.parametrize(
    "typed", ["9223372036854775808", "2147483648", "²", "١٧", "0", " 17 ", "17"]
)
def test_a_row_id_is_a_plain_number_the_database_can_hold(typed: str) -> None:
    """A member id past SQLite's 64 bits was an OverflowError in the driver: a 500."""
    assert row_id(typed) == (17 if typed.strip() == "17" else None)


def test_an_id_too_large_for_the_database_is_not_found_and_not_a_failure(desk: Desk) -> None:
    browser = desk.log_in(desk.admin)
    token = form_token(browser, "/staff/people/inboxes")
    huge = "9223372036854775808"
    assert browser.get(f"/staff/people/{huge}").status_code == 404
    granted = browser.post(
        "/staff/people/inboxes/1/grant", data={"csrf_token": token, "member": huge}
    )
    assert granted.status_code == 303
    assert "Choose a member" in browser.get("/staff/people/inboxes").get_data(as_text=True)
    assert browser.get("/staff/audit/?before=²").status_code == 400
