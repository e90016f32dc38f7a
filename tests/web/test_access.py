"""Roles are enforced in one place: every role walks over every staff route."""

from __future__ import annotations

from portal.enums import Role
from portal.web.access import ACCESS, COOKIE_PATH, PUBLIC
from tests.worlds import Desk, report_id

# Every staff route with a sample URL; the test below fails when a route is missing here.
SAMPLE_URLS = {
    "desk.login": ("GET", "/staff/login"),
    "desk.logout": ("POST", "/staff/logout"),
    "desk.home": ("GET", "/staff/"),
    "desk.inbox": ("GET", "/staff/inbox"),
    "desk.report": ("GET", "/staff/reports/{report}"),
    "desk.reply": ("POST", "/staff/reports/{report}/reply"),
    "desk.note": ("POST", "/staff/reports/{report}/note"),
    "desk.status": ("POST", "/staff/reports/{report}/status"),
    "desk.priority": ("POST", "/staff/reports/{report}/priority"),
    "desk.assign": ("POST", "/staff/reports/{report}/assign"),
    "desk.poster_list": ("GET", "/staff/posters"),
    "desk.poster": ("GET", "/staff/posters/{school}.pdf"),
    "desk.notifications": ("GET", "/staff/notifications"),
    "admin.notifications.page": ("GET", "/staff/notifications-admin/"),
    "admin.notifications.escalation": ("POST", "/staff/notifications-admin/1/escalation"),
    "admin.schools.school_list": ("GET", "/staff/schools/"),
    "admin.schools.school": ("GET", "/staff/schools/{school}"),
    "admin.schools.rotate_code": ("POST", "/staff/schools/{school}/rotate"),
    "admin.schools.deactivate": ("POST", "/staff/schools/{school}/deactivate"),
    "admin.schools.reactivate": ("POST", "/staff/schools/{school}/reactivate"),
    "admin.schools.upload": ("POST", "/staff/schools/import"),
    "admin.figures.page": ("GET", "/staff/figures/"),
    "admin.figures.export_csv": ("GET", "/staff/figures/figures.csv"),
    "admin.audit.log": ("GET", "/staff/audit/"),
    "admin.audit.verify": ("POST", "/staff/audit/verify"),
    "admin.people.index": ("GET", "/staff/people/"),
    "admin.people.invite": ("POST", "/staff/people/invite"),
    "admin.people.revoke_link": ("POST", "/staff/people/links/1/revoke"),
    "admin.people.person": ("GET", "/staff/people/1"),
    "admin.people.disable": ("POST", "/staff/people/1/disable"),
    "admin.people.enable": ("POST", "/staff/people/1/enable"),
    "admin.people.schools": ("POST", "/staff/people/4/schools"),
    "admin.people.reset_totp": ("POST", "/staff/people/1/reset-totp"),
    "admin.people.inboxes": ("GET", "/staff/people/inboxes"),
    "admin.people.create_inbox": ("POST", "/staff/people/inboxes"),
    "admin.people.grant": ("POST", "/staff/people/inboxes/1/grant"),
    "admin.people.revoke_grant": ("POST", "/staff/people/inboxes/1/revoke/1"),
    "desk.enrol": ("GET", "/staff/people/enrol/not-a-token"),
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
        if endpoint not in PUBLIC | {"desk.logout"}
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
