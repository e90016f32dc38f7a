"""Roles are enforced in one place: every role walks over every staff route."""

from __future__ import annotations

from portal.access import ACCESS, COOKIE_PATH, PUBLIC
from portal.enums import Role
from tests.portal.conftest import Desk, report_id

# Every staff route with a sample URL; the test below fails when a route is missing here.
SAMPLE_URLS = {
    "staff.login": ("GET", "/staff/login"),
    "staff.logout": ("POST", "/staff/logout"),
    "staff.home": ("GET", "/staff/"),
    "staff.inbox": ("GET", "/staff/inbox"),
    "staff.report": ("GET", "/staff/reports/{report}"),
    "staff.reply": ("POST", "/staff/reports/{report}/reply"),
    "staff.note": ("POST", "/staff/reports/{report}/note"),
    "staff.status": ("POST", "/staff/reports/{report}/status"),
    "staff.priority": ("POST", "/staff/reports/{report}/priority"),
    "staff.assign": ("POST", "/staff/reports/{report}/assign"),
    "staff.poster_list": ("GET", "/staff/posters"),
    "staff.poster": ("GET", "/staff/posters/{school}.pdf"),
    "schools.school_list": ("GET", "/staff/schools/"),
    "schools.school": ("GET", "/staff/schools/{school}"),
    "schools.rotate_code": ("POST", "/staff/schools/{school}/rotate"),
    "schools.deactivate": ("POST", "/staff/schools/{school}/deactivate"),
    "schools.reactivate": ("POST", "/staff/schools/{school}/reactivate"),
    "schools.upload": ("POST", "/staff/schools/import"),
    "figures.page": ("GET", "/staff/figures/"),
    "figures.export_csv": ("GET", "/staff/figures/figures.csv"),
    "audit.log": ("GET", "/staff/audit/"),
    "audit.verify": ("POST", "/staff/audit/verify"),
    "people.index": ("GET", "/staff/people/"),
    "people.invite": ("POST", "/staff/people/invite"),
    "people.revoke_link": ("POST", "/staff/people/links/1/revoke"),
    "people.person": ("GET", "/staff/people/1"),
    "people.disable": ("POST", "/staff/people/1/disable"),
    "people.enable": ("POST", "/staff/people/1/enable"),
    "people.schools": ("POST", "/staff/people/4/schools"),
    "people.reset_totp": ("POST", "/staff/people/1/reset-totp"),
    "people.inboxes": ("GET", "/staff/people/inboxes"),
    "people.create_inbox": ("POST", "/staff/people/inboxes"),
    "people.grant": ("POST", "/staff/people/inboxes/1/grant"),
    "people.revoke_grant": ("POST", "/staff/people/inboxes/1/revoke/1"),
    "people.enrol": ("GET", "/staff/people/enrol/not-a-token"),
}


def test_every_role_over_every_route(desk: Desk) -> None:
    app = desk.site.app
    staff_endpoints = {
        rule.endpoint for rule in app.url_map.iter_rules() if rule.rule.startswith(COOKIE_PATH)
    }
    assert staff_endpoints == set(SAMPLE_URLS), "add the new route to SAMPLE_URLS"
    assert set(SAMPLE_URLS) >= PUBLIC
    assert set(ACCESS) | PUBLIC == set(SAMPLE_URLS), "every staff route is in ACCESS or PUBLIC"
    desk.site.send()
    urls = {
        endpoint: (method, template.format(report=report_id(desk), school=desk.school_id))
        for endpoint, (method, template) in SAMPLE_URLS.items()
        if endpoint not in PUBLIC | {"staff.logout"}
    }
    for role, account in (
        (Role.TRIAGE, desk.triage),
        (Role.ADMIN, desk.admin),
        (Role.SCHOOL, desk.school),
    ):
        browser = desk.log_in(account)  # one login per role: a TOTP code works once
        for endpoint, (method, url) in urls.items():
            status = browser.open(url, method=method, data={}).status_code
            expected = (200, 303) if role in ACCESS[endpoint] else (403,)
            assert status in expected, (role.value, endpoint, status)
    for endpoint, (method, url) in urls.items():
        anonymous = desk.client().open(url, method=method, data={})
        assert anonymous.status_code == 303, endpoint
        assert anonymous.headers["Location"].endswith("/staff/login"), endpoint
