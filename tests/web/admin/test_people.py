"""People and inboxes: invitations, TOTP enrolment and resets, accounts, inbox grants."""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pyotp
import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import clock, crypto
from portal.config import Config
from portal.enums import AuditAction, Role
from portal.models import AuditEvent, InboxGrant, Staff, StaffInvitation
from portal.services import accounts, enrolment, registry
from portal.web.context import get_session
from qr.encode import qr_matrix, uncached_qr_matrix
from tests.worlds import STAFF_PASSWORD, Account, Desk, form_token

NEW_PASSWORD = "a brand new passphrase 111"
LINK = re.compile(r'value="https://qr111\.example\.kz(/staff/people/enrol/[^"]+)"')
SECRET = re.compile(r'<p class="secret" id="secret">([A-Z2-7 ]+)</p>')


def later_code(secret: str) -> str:
    """A code of the next 30-second step: the confirmation code itself never logs in."""
    return pyotp.TOTP(secret).at(time.time() + 30)


@dataclass
class Admin:
    """An app context on the desk's database, with its admin account."""

    session: Session
    config: Config
    admin: Staff

    def staff(self, email: str) -> Staff:
        """An account by email."""
        return accounts.staff_by_email(self.session, email)

    def audit(self, action: AuditAction) -> list[dict[str, object]]:
        """The details of the audit records of one action, oldest first."""
        events = self.session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        )
        return [{"actor": event.actor_email, **json.loads(event.detail)} for event in events]


@pytest.fixture
def ctx(desk: Desk) -> Iterator[Admin]:
    """The plain functions' view of the desk."""
    with desk.site.app.app_context():
        session = get_session()
        yield Admin(
            session,
            desk.site.app.extensions["portal.config"],
            session.scalars(select(Staff).where(Staff.email == desk.admin.email)).one(),
        )


# ---- the plain functions ----------------------------------------------------------------


def test_an_invitation_keeps_only_the_hash_and_makes_no_key(ctx: Admin) -> None:
    issued = enrolment.invite(ctx.session, ctx.config, ctx.admin, " New@111.kz ", Role.TRIAGE)
    stored = ctx.session.scalars(select(StaffInvitation)).one()
    assert stored.email == "new@111.kz"
    assert stored.token_hash == enrolment.token_hash(issued.token) != issued.token
    assert issued.token not in repr(stored.__dict__)
    assert stored.expires_at - stored.created_at == timedelta(hours=72)
    assert ctx.session.scalar(select(Staff).where(Staff.email == "new@111.kz")) is None
    assert ctx.audit(AuditAction.STAFF)[-1] == {
        "actor": "admin@111.kz",
        "op": "invite",
        "email": "new@111.kz",
        "role": "triage",
        "schools": 0,
    }


def test_accepting_makes_the_account_and_the_link_works_once(ctx: Admin) -> None:
    issued = enrolment.invite(ctx.session, ctx.config, ctx.admin, "new@111.kz", Role.TRIAGE)
    secret = enrolment.pending_secret(ctx.session, ctx.config, issued.invitation)
    assert enrolment.pending_secret(ctx.session, ctx.config, issued.invitation) == secret
    code = pyotp.TOTP(secret).now()
    staff = enrolment.accept(ctx.session, ctx.config, issued.token, NEW_PASSWORD, code)
    assert staff.role is Role.TRIAGE and staff.active
    assert accounts.totp_secret_of(staff, ctx.config.secret_key) == secret
    private = accounts.unlock_staff_key(staff, NEW_PASSWORD)  # the key pair, under the password
    assert crypto.public_key_of(private) == staff.public_key
    with pytest.raises(enrolment.UsedLink, match="used already"):
        enrolment.accept(ctx.session, ctx.config, issued.token, NEW_PASSWORD, code)
    assert ctx.audit(AuditAction.STAFF)[-1]["op"] == "enrolled"


def test_the_pending_secret_is_sealed_with_the_server_key(ctx: Admin) -> None:
    issued = enrolment.invite(ctx.session, ctx.config, ctx.admin, "new@111.kz", Role.TRIAGE)
    secret = enrolment.pending_secret(ctx.session, ctx.config, issued.invitation)
    sealed = issued.invitation.sealed_totp_secret
    assert sealed is not None and secret.encode() not in sealed
    with pytest.raises(crypto.CryptoError):
        crypto.open_with_server_key(
            "another-server-secret-" + "y" * 32,
            enrolment.PENDING_TOTP_PURPOSE,
            sealed,
            context=issued.invitation.token_hash.encode(),
        )


def test_an_expired_or_revoked_link_is_refused(ctx: Admin) -> None:
    old = enrolment.invite(
        ctx.session,
        ctx.config,
        ctx.admin,
        "old@111.kz",
        Role.TRIAGE,
        now=clock.now() - timedelta(hours=73),
    )
    with pytest.raises(enrolment.ExpiredLink, match="expired"):
        enrolment.find_link(ctx.session, old.token)
    assert old.invitation not in enrolment.pending_invitations(ctx.session)
    fresh = enrolment.invite(ctx.session, ctx.config, ctx.admin, "fresh@111.kz", Role.TRIAGE)
    enrolment.revoke_invitation(ctx.session, ctx.config, ctx.admin, fresh.invitation.id)
    with pytest.raises(enrolment.BadLink, match="not valid"):
        enrolment.find_link(ctx.session, fresh.token)
    with pytest.raises(enrolment.BadLink):
        enrolment.find_link(ctx.session, "made-up-token")


def test_a_wrong_code_or_short_password_makes_no_account(ctx: Admin) -> None:
    issued = enrolment.invite(ctx.session, ctx.config, ctx.admin, "new@111.kz", Role.TRIAGE)
    secret = enrolment.pending_secret(ctx.session, ctx.config, issued.invitation)
    wrong = f"{(int(pyotp.TOTP(secret).now()) + 500_000) % 1_000_000:06d}"
    with pytest.raises(enrolment.WrongCode, match="does not match"):
        enrolment.accept(ctx.session, ctx.config, issued.token, NEW_PASSWORD, wrong)
    with pytest.raises(enrolment.EnrolmentError, match="at least 12 characters"):
        enrolment.accept(ctx.session, ctx.config, issued.token, "short", pyotp.TOTP(secret).now())
    assert ctx.session.scalar(select(Staff).where(Staff.email == "new@111.kz")) is None
    assert enrolment.find_link(ctx.session, issued.token) is issued.invitation  # still usable


@pytest.mark.parametrize(
    ("email", "role", "schools", "message"),
    [
        ("triage@111.kz", Role.TRIAGE, [], "has an account already"),
        ("not an address", Role.TRIAGE, [], "is not an email address"),
        ("s@111.kz", Role.SCHOOL, [], "at least one school id"),
        ("s@111.kz", Role.SCHOOL, ["99999999"], "No school in the registry has the id 99999999"),
        ("t@111.kz", Role.TRIAGE, ["34000015"], "Only school accounts are linked to schools"),
    ],
)
def test_a_bad_invitation_says_why(
    ctx: Admin, email: str, role: Role, schools: list[str], message: str
) -> None:
    with pytest.raises(enrolment.EnrolmentError, match=message):
        enrolment.invite(ctx.session, ctx.config, ctx.admin, email, role, schools)
    assert enrolment.pending_invitations(ctx.session) == []


def test_a_school_account_gets_its_schools(ctx: Admin, desk: Desk) -> None:
    issued = enrolment.invite(
        ctx.session, ctx.config, ctx.admin, "print@111.kz", Role.SCHOOL, [desk.school_id]
    )
    secret = enrolment.pending_secret(ctx.session, ctx.config, issued.invitation)
    staff = enrolment.accept(
        ctx.session, ctx.config, issued.token, NEW_PASSWORD, pyotp.TOTP(secret).now()
    )
    assert [school.school_id for school in staff.schools] == [desk.school_id]
    with pytest.raises(enrolment.EnrolmentError, match="school accounts print posters"):
        enrolment.grant_inbox(
            ctx.session,
            ctx.config,
            ctx.admin,
            b"",
            accounts.get_inbox(ctx.session, "national"),
            staff,
        )
    with pytest.raises(enrolment.EnrolmentError, match="not a school one"):
        enrolment.set_schools(ctx.session, ctx.config, ctx.admin, ctx.admin, [desk.school_id])


def test_a_new_invitation_replaces_a_pending_one(ctx: Admin) -> None:
    first = enrolment.invite(ctx.session, ctx.config, ctx.admin, "new@111.kz", Role.TRIAGE)
    second = enrolment.invite(ctx.session, ctx.config, ctx.admin, "new@111.kz", Role.ADMIN)
    assert enrolment.pending_invitations(ctx.session) == [second.invitation]
    with pytest.raises(enrolment.BadLink):
        enrolment.find_link(ctx.session, first.token)


def test_reset_stops_the_old_code_and_needs_the_password(ctx: Admin, desk: Desk) -> None:
    triage = ctx.staff(desk.triage.email)
    old_sealed = triage.sealed_totp_secret
    issued = enrolment.reset_totp(ctx.session, ctx.config, ctx.admin, triage)
    assert accounts.totp_secret_of(triage, ctx.config.secret_key) != desk.triage.totp
    assert triage.sealed_totp_secret != old_sealed
    secret = enrolment.pending_secret(ctx.session, ctx.config, issued.invitation)
    code = pyotp.TOTP(secret).now()
    with pytest.raises(enrolment.EnrolmentError, match="not the password"):
        enrolment.accept(ctx.session, ctx.config, issued.token, "a wrong password!!", code)
    enrolment.accept(ctx.session, ctx.config, issued.token, STAFF_PASSWORD, code)
    assert accounts.totp_secret_of(triage, ctx.config.secret_key) == secret
    ops = [detail["op"] for detail in ctx.audit(AuditAction.STAFF)]
    assert ops[-3:] == ["reset_totp", "enrol_failed", "enrolled_totp"]


def test_no_one_disables_themself_or_the_last_admin(ctx: Admin, desk: Desk) -> None:
    with pytest.raises(enrolment.NotAllowed, match="your own account"):
        enrolment.set_active(ctx.session, ctx.config, ctx.admin, ctx.admin, False)
    triage = ctx.staff(desk.triage.email)
    with pytest.raises(enrolment.NotAllowed, match="last active administrator"):
        enrolment.set_active(ctx.session, ctx.config, triage, ctx.admin, False)
    assert ctx.admin.active
    enrolment.set_active(ctx.session, ctx.config, ctx.admin, triage, False)
    with pytest.raises(enrolment.EnrolmentError, match="disabled already"):
        enrolment.set_active(ctx.session, ctx.config, ctx.admin, triage, False)
    enrolment.set_active(ctx.session, ctx.config, ctx.admin, triage, True)
    assert [d["op"] for d in ctx.audit(AuditAction.STAFF)] == ["disable", "enable"]


def test_grant_needs_the_admins_own_membership(ctx: Admin, desk: Desk) -> None:
    private = accounts.unlock_staff_key(ctx.admin, STAFF_PASSWORD)
    elsewhere = accounts.get_inbox(ctx.session, "elsewhere")
    national = accounts.get_inbox(ctx.session, "national")
    triage, outsider = ctx.staff(desk.triage.email), ctx.staff(desk.outsider.email)
    with pytest.raises(enrolment.NotAllowed, match="keys recover --inbox elsewhere"):
        enrolment.grant_inbox(ctx.session, ctx.config, ctx.admin, private, elsewhere, triage)
    with pytest.raises(enrolment.EnrolmentError, match="member of national already"):
        enrolment.grant_inbox(ctx.session, ctx.config, ctx.admin, private, national, triage)
    enrolment.grant_inbox(ctx.session, ctx.config, ctx.admin, private, national, outsider)
    outsider_private = accounts.unlock_staff_key(outsider, STAFF_PASSWORD)
    opened = accounts.open_inbox_key(ctx.session, national, outsider, outsider_private)
    assert crypto.public_key_of(opened) == national.public_key
    assert ctx.audit(AuditAction.KEYS)[-1] == {
        "actor": "admin@111.kz",
        "op": "grant",
        "inbox": "national",
        "email": "outsider@111.kz",
    }


def test_revoke_removes_the_wrapped_key_but_never_the_last_one(ctx: Admin, desk: Desk) -> None:
    national = accounts.get_inbox(ctx.session, "national")
    elsewhere = accounts.get_inbox(ctx.session, "elsewhere")
    triage = ctx.staff(desk.triage.email)
    enrolment.revoke_inbox(ctx.session, ctx.config, ctx.admin, national, triage)
    assert ctx.session.scalar(select(InboxGrant).where(InboxGrant.staff_id == triage.id)) is None
    with pytest.raises(enrolment.EnrolmentError, match="not a member"):
        enrolment.revoke_inbox(ctx.session, ctx.config, ctx.admin, national, triage)
    with pytest.raises(enrolment.NotAllowed, match="only member of elsewhere"):
        enrolment.revoke_inbox(
            ctx.session, ctx.config, ctx.admin, elsewhere, ctx.staff(desk.outsider.email)
        )
    assert ctx.audit(AuditAction.KEYS)[-1]["op"] == "revoke"


def test_the_creator_of_an_inbox_is_its_first_member(ctx: Admin) -> None:
    region = enrolment.regions_without_inbox(ctx.session)[0]
    inbox = enrolment.create_inbox(ctx.session, ctx.config, ctx.admin, "almaty", region)
    private = accounts.unlock_staff_key(ctx.admin, STAFF_PASSWORD)
    opened = accounts.open_inbox_key(ctx.session, inbox, ctx.admin, private)
    assert crypto.public_key_of(opened) == inbox.public_key
    assert region not in enrolment.regions_without_inbox(ctx.session)
    row = next(row for row in enrolment.inbox_rows(ctx.session) if row.inbox.name == "almaty")
    assert [member.email for member in row.members] == ["admin@111.kz"]
    assert ctx.audit(AuditAction.INBOX)[-1]["op"] == "create"
    for name, region_given, message in (
        ("second", None, "national inbox already"),
        ("other", region, "not a region of the registry without an inbox"),
        ("Bad Name", "Nowhere", "lower-case letters"),
        ("almaty", enrolment.regions_without_inbox(ctx.session)[0], "empty or taken"),
    ):
        with pytest.raises(enrolment.EnrolmentError, match=message):
            enrolment.create_inbox(ctx.session, ctx.config, ctx.admin, name, region_given)


def test_the_qr_code_is_inline_svg_without_style() -> None:
    svg = enrolment.qr_svg("otpauth://totp/QR%20111:a%40b?secret=ABCD", 'a "title" <b>')
    assert svg.startswith("<svg ") and svg.endswith("</svg>")
    assert "style" not in svg and "<script" not in svg and "<b>" not in svg


def test_the_qr_code_of_a_totp_secret_is_kept_in_no_cache() -> None:
    """The secret is encoded afresh: the posters' cached qr_matrix never sees it."""
    before = qr_matrix.cache_info()
    secret_uri = "otpauth://totp/QR%20111:a%40b?secret=EFGH"
    svg = enrolment.qr_svg(secret_uri, "title")
    assert qr_matrix.cache_info() == before
    size = len(uncached_qr_matrix(secret_uri))
    assert f'viewBox="0 0 {size} {size}"' in svg


# ---- over HTTP --------------------------------------------------------------------------


def invite_over_http(admin: FlaskClient, email: str, role: str = "triage") -> str:
    """The enrolment path the invitation page shows."""
    token = form_token(admin, "/staff/people/")
    page = admin.post(
        "/staff/people/invite", data={"csrf_token": token, "email": email, "role": role}
    )
    assert page.status_code == 200
    found = LINK.search(page.get_data(as_text=True))
    assert found, page.get_data(as_text=True)
    return html.unescape(found.group(1))


def enrol_over_http(
    browser: FlaskClient, path: str, code: str | None = None, password: str = NEW_PASSWORD
) -> tuple[int, str, str]:
    """Open the link and post the form; returns the status, the page and the secret shown."""
    page = browser.get(path).get_data(as_text=True)
    shown = SECRET.search(page)
    assert shown and "<svg" in page
    secret = shown.group(1).replace(" ", "")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token
    response = browser.post(
        path,
        data={
            "csrf_token": token.group(1),
            "password": password,
            "password_again": password,
            "code": code or pyotp.TOTP(secret).now(),
        },
    )
    return response.status_code, response.get_data(as_text=True), secret


def test_invite_enrol_and_log_in_over_http(desk: Desk) -> None:
    admin = desk.log_in(desk.admin)
    path = invite_over_http(admin, "new@111.kz")
    assert path.split("/")[-1] not in admin.get("/staff/people/").get_data(as_text=True)
    invitee = desk.client()
    status, page, secret = enrol_over_http(invitee, path)
    assert status == 303, page
    assert invitee.get(path).status_code == 410  # the second use
    assert "used already" in invitee.get(path).get_data(as_text=True)
    login = desk.post_login(
        desk.client(), Account("new@111.kz", secret), later_code(secret), NEW_PASSWORD
    )
    assert login.status_code == 303 and login.headers["Location"].endswith("/staff/")
    listing = admin.get("/staff/people/").get_data(as_text=True)
    assert "new@111.kz" in listing and "No link is waiting" in listing


def test_a_wrong_code_keeps_the_form_and_the_secret(desk: Desk) -> None:
    admin = desk.log_in(desk.admin)
    path = invite_over_http(admin, "new@111.kz")
    invitee = desk.client()
    status, page, secret = enrol_over_http(invitee, path, code="000000")
    if pyotp.TOTP(secret).verify("000000", valid_window=1):  # one chance in 333,333
        pytest.skip("000000 happened to be a valid code")
    assert status == 200
    assert "That code does not match" in page
    shown = SECRET.search(page)
    assert shown and shown.group(1).replace(" ", "") == secret  # the same secret, still scanned
    assert 'name="code"' in page
    status, page, _ = enrol_over_http(invitee, path, password="short")
    assert status == 200 and "at least 12 characters" in page


def test_bad_links_get_a_clear_page(desk: Desk) -> None:
    browser = desk.client()
    unknown = browser.get("/staff/people/enrol/not-a-token")
    assert unknown.status_code == 404
    assert "not valid" in unknown.get_data(as_text=True)
    with desk.site.app.app_context():
        session = get_session()
        config = desk.site.app.extensions["portal.config"]
        admin = accounts.staff_by_email(session, desk.admin.email)
        old = enrolment.invite(
            session, config, admin, "old@111.kz", Role.TRIAGE, now=clock.now() - timedelta(days=4)
        )
    expired = browser.get(f"/staff/people/enrol/{old.token}")
    assert expired.status_code == 410
    assert "expired" in expired.get_data(as_text=True)


def test_the_enrolment_posts_are_rate_limited(desk: Desk) -> None:
    browser = desk.client()
    statuses = [
        browser.post("/staff/people/enrol/not-a-token", data={}).status_code for _ in range(11)
    ]
    assert statuses[:10] == [404] * 10 and statuses[10] == 429


def test_disabling_ends_the_session_and_login_refuses(desk: Desk) -> None:
    triage = desk.log_in(desk.triage)
    assert triage.get("/staff/inbox").status_code == 200
    admin = desk.log_in(desk.admin)
    with desk.site.app.app_context():
        staff_id = accounts.staff_by_email(get_session(), desk.triage.email).id
    done = admin.post(
        f"/staff/people/{staff_id}/disable",
        data={"csrf_token": form_token(admin, f"/staff/people/{staff_id}")},
    )
    assert done.status_code == 303
    assert "is disabled; its sessions have ended" in admin.get(done.headers["Location"]).get_data(
        as_text=True
    )
    gone = triage.get("/staff/inbox")
    assert gone.status_code == 303 and gone.headers["Location"].endswith("/staff/login")
    refused = desk.post_login(desk.client(), desk.triage, later_code(desk.triage.totp))
    assert refused.status_code == 200
    assert "Wrong email, password or code" in refused.get_data(as_text=True)


def test_an_admin_cannot_disable_themself_over_http(desk: Desk) -> None:
    admin = desk.log_in(desk.admin)
    with desk.site.app.app_context():
        staff_id = accounts.staff_by_email(get_session(), desk.admin.email).id
    page = admin.post(
        f"/staff/people/{staff_id}/disable",
        data={"csrf_token": form_token(admin, f"/staff/people/{staff_id}")},
        follow_redirects=True,
    )
    assert "You cannot disable your own account." in page.get_data(as_text=True)
    assert admin.get("/staff/people/").status_code == 200  # still logged in


def test_a_form_without_its_token_changes_nothing(desk: Desk) -> None:
    admin = desk.log_in(desk.admin)
    page = admin.post("/staff/people/1/disable", data={}, follow_redirects=True)
    assert "The page had expired" in page.get_data(as_text=True)
    with desk.site.app.app_context():
        assert all(staff.active for staff in get_session().scalars(select(Staff)))


def test_the_inboxes_page_grants_with_a_clear_refusal(desk: Desk) -> None:
    desk.site.send()  # one open report in the national inbox
    admin = desk.log_in(desk.admin)
    page = admin.get("/staff/people/inboxes").get_data(as_text=True)
    assert "1 open report" in page and "Nowhere region" in page
    with desk.site.app.app_context():
        session = get_session()
        elsewhere = accounts.get_inbox(session, "elsewhere").id
        school = accounts.staff_by_email(session, desk.school.email).id
        triage = accounts.staff_by_email(session, desk.triage.email).id
        national = accounts.get_inbox(session, "national").id
    token = form_token(admin, "/staff/people/inboxes")
    refused = admin.post(
        f"/staff/people/inboxes/{elsewhere}/grant",
        data={"csrf_token": token, "member": str(triage)},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "You are not a member of inbox elsewhere" in refused
    assert "flask --app portal keys recover" in refused
    school_refused = admin.post(
        f"/staff/people/inboxes/{national}/grant",
        data={"csrf_token": token, "member": str(school)},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "school accounts print posters and never read reports" in school_refused
    nobody = admin.post(
        f"/staff/people/inboxes/{national}/grant",
        data={"csrf_token": token, "member": "x"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Choose a member from the list." in nobody


def test_creating_an_inbox_over_http(desk: Desk) -> None:
    admin = desk.log_in(desk.admin)
    token = form_token(admin, "/staff/people/inboxes")
    with desk.site.app.app_context():
        region = enrolment.regions_without_inbox(get_session())[0]
    bad = admin.post(
        "/staff/people/inboxes", data={"csrf_token": token, "name": "Almaty!", "region": region}
    )
    assert bad.status_code == 200 and "lower-case letters" in bad.get_data(as_text=True)
    made = admin.post(
        "/staff/people/inboxes",
        data={"csrf_token": token, "name": "almaty", "region": region},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Inbox almaty is made; you are its first member." in made


def test_reset_totp_over_http(desk: Desk) -> None:
    triage = desk.log_in(desk.triage)
    admin = desk.log_in(desk.admin)
    with desk.site.app.app_context():
        staff_id = accounts.staff_by_email(get_session(), desk.triage.email).id
    page = admin.post(
        f"/staff/people/{staff_id}/reset-totp",
        data={"csrf_token": form_token(admin, f"/staff/people/{staff_id}")},
    ).get_data(as_text=True)
    assert "has stopped working and their sessions have ended" in page
    found = LINK.search(page)
    assert found
    assert triage.get("/staff/inbox").status_code == 303  # the session died with the reset
    old = desk.post_login(desk.client(), desk.triage, later_code(desk.triage.totp))
    assert "Wrong email, password or code" in old.get_data(as_text=True)
    status, _page, secret = enrol_over_http(
        desk.client(), html.unescape(found.group(1)), password=STAFF_PASSWORD
    )
    assert status == 303
    login = desk.post_login(desk.client(), Account(desk.triage.email, secret), later_code(secret))
    assert login.status_code == 303


def test_invalid_invitations_come_back_with_the_message(desk: Desk) -> None:
    admin = desk.log_in(desk.admin)
    token = form_token(admin, "/staff/people/")
    for data, message in (
        ({"email": "", "role": "triage"}, "Enter the email address."),
        ({"email": "x@111.kz", "role": "boss"}, "Choose admin, triage or school."),
        ({"email": "x@111.kz", "role": "school"}, "at least one school id"),
        ({"email": "triage@111.kz", "role": "triage"}, "has an account already"),
    ):
        page = admin.post("/staff/people/invite", data={"csrf_token": token, **data})
        assert page.status_code == 200
        assert message in html.unescape(page.get_data(as_text=True)), data


def test_a_school_accounts_schools_are_set_from_its_page(desk: Desk) -> None:
    admin = desk.log_in(desk.admin)
    with desk.site.app.app_context():
        session = get_session()
        school_account = accounts.staff_by_email(session, desk.school.email).id
        other = next(
            school.school_id
            for school in registry.list_schools(session)
            if school.school_id != desk.school_id
        )
    path = f"/staff/people/{school_account}"
    token = form_token(admin, path)
    unknown = admin.post(
        f"{path}/schools", data={"csrf_token": token, "schools": "nope"}, follow_redirects=True
    )
    assert "No school in the registry has the id nope." in unknown.get_data(as_text=True)
    saved = admin.post(
        f"{path}/schools",
        data={"csrf_token": token, "schools": f"{desk.school_id}, {other}"},
        follow_redirects=True,
    )
    assert f"The schools of {desk.school.email} are saved." in saved.get_data(as_text=True)
    with desk.site.app.app_context():
        session = get_session()
        staff = accounts.staff_by_email(session, desk.school.email)
        assert sorted(school.school_id for school in staff.schools) == sorted(
            [desk.school_id, other]
        )
        ops = [
            json.loads(event.detail)["op"]
            for event in session.scalars(
                select(AuditEvent).where(AuditEvent.action == AuditAction.STAFF)
            )
        ]
        assert ops == ["schools"]


def test_a_pending_link_is_revoked_from_the_list(desk: Desk) -> None:
    admin = desk.log_in(desk.admin)
    path = invite_over_http(admin, "new@111.kz")
    listing = admin.get("/staff/people/").get_data(as_text=True)
    assert "Revoke link for new@111.kz" in listing
    with desk.site.app.app_context():
        link_id = get_session().scalars(select(StaffInvitation.id)).one()
    token = form_token(admin, "/staff/people/")
    done = admin.post(
        f"/staff/people/links/{link_id}/revoke",
        data={"csrf_token": token},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "The link for new@111.kz no longer works." in done
    assert desk.client().get(path).status_code == 404
    again = admin.post(
        f"/staff/people/links/{link_id}/revoke", data={"csrf_token": token}, follow_redirects=True
    ).get_data(as_text=True)
    assert "not pending any more" in again
