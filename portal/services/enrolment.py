"""People and inboxes: invitations, TOTP enrolment and resets, accounts, schools, inbox grants.

Every function here is what an admin page (portal/people.py) or the invitee's enrolment page
does, with the checks and the audit record; views only translate forms and errors.

An enrolment link is a first factor only (security review, issue 13). Its token rides in the
link's fragment, which no browser sends, so no access log or proxy sees it; the page posts it
once (open_link) and gets a browser key back, kept in a cookie: from then on only that browser
goes on. A TOTP secret is shown only after the password is chosen (the account is made then)
or proven (a reset), and a new one is drawn each time: a secret seen earlier is worth nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from portal import clock, crypto
from portal.config import Config
from portal.enums import AuditAction, Role, Status
from portal.models import Inbox, InboxGrant, Report, School, Staff, StaffInvitation
from portal.services import accounts, audit, labels, sessions
from portal.services.login import matching_step
from portal.services.text import lazy as _l
from qr.encode import uncached_qr_matrix
from qr.page import QRSymbol
from qr.svg import qr_path_data

LINK_LIFETIME = timedelta(hours=72)
TOKEN_BYTES = 32
PENDING_TOTP_PURPOSE = "staff-totp-pending"
MAX_SCHOOLS = 500  # of one school account; a district office, not the whole country
INBOX_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}\Z")


class EnrolmentError(Exception):
    """An admin or enrolment step could not be done; the message says why, for the page.

    Messages are lazy: `str(error)` gives them in the language of the page that shows them.
    """


class BadLink(EnrolmentError):
    """The enrolment link is unknown, used, revoked or expired."""


class UsedLink(BadLink):
    """The enrolment link was used already (each link works once)."""


class TakenLink(BadLink):
    """The enrolment link was opened in another browser first; only that one goes on."""


class ExpiredLink(BadLink):
    """The enrolment link is older than LINK_LIFETIME."""


class WrongCode(EnrolmentError):
    """The confirmation code does not match the secret shown."""


class NotAllowed(EnrolmentError):
    """The change would lock people out (oneself, the last admin, an inbox's last member)."""


@dataclass(frozen=True)
class IssuedLink:
    """A link just made: the token is shown once, only its hash is kept."""

    invitation: StaffInvitation
    token: str


@dataclass(frozen=True)
class OpenedLink:
    """A link taken by a browser: the key for its cookie is shown once, only its hash is kept."""

    invitation: StaffInvitation
    browser_key: str


@dataclass(frozen=True)
class InboxRow:
    """One inbox as the inboxes page lists it."""

    inbox: Inbox
    members: list[Staff]
    open_reports: int


def token_hash(token: str) -> str:
    """What the database keeps of a link's token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _record(
    session: Session,
    config: Config,
    action: AuditAction,
    actor: Staff | None,
    **detail: str | int | bool | None,
) -> None:
    """The change on record, in the caller's transaction; without an actor it came from the
    command line, which has no staff login."""
    if actor is None:
        detail = {"via": "cli", **detail}
    audit.record(session, action, actor=actor, detail=detail, server_secret=config.secret_key)


# ---- links ------------------------------------------------------------------------------


def _issue(
    session: Session,
    actor: Staff,
    email: str,
    role: Role,
    staff: Staff | None,
    now: datetime,
) -> IssuedLink:
    """A new link; any earlier pending link for the same person stops working."""
    for earlier in pending_invitations(session, now=now):
        if earlier.email == email:
            earlier.revoked_at = now
    token = secrets.token_urlsafe(TOKEN_BYTES)
    invitation = StaffInvitation(
        token_hash=token_hash(token),
        email=email,
        role=role,
        staff=staff,
        created_by_id=actor.id,
        created_at=now,
        expires_at=now + LINK_LIFETIME,
    )
    session.add(invitation)
    return IssuedLink(invitation, token)


def parse_school_ids(text: str) -> list[str]:
    """School ids typed by an admin: separated by commas, semicolons, spaces or lines."""
    return sorted({part for part in re.split(r"[\s,;]+", text) if part})


def _schools(session: Session, school_ids: Sequence[str]) -> list[School]:
    """The registry's schools with these ids; every unknown id is named."""
    if not school_ids:
        raise EnrolmentError(_l("A school account needs at least one school id."))
    if len(school_ids) > MAX_SCHOOLS:
        raise EnrolmentError(_l("At most %(count)d schools per account.", count=MAX_SCHOOLS))
    found = list(session.scalars(select(School).where(School.school_id.in_(school_ids))))
    unknown = sorted(set(school_ids) - {school.school_id for school in found})
    if unknown:
        shown = ", ".join(unknown[:10]) + (" …" if len(unknown) > 10 else "")
        raise EnrolmentError(_l("No school in the registry has the id %(ids)s.", ids=shown))
    return sorted(found, key=lambda school: school.school_id)


def invite(
    session: Session,
    config: Config,
    actor: Staff,
    email: str,
    role: Role,
    school_ids: Sequence[str] = (),
    *,
    now: datetime | None = None,
) -> IssuedLink:
    """Invite a new staff member: a one-time link valid for 72 hours; no key exists yet."""
    now = now or clock.now()
    email = accounts.normalize_email(email)
    if not accounts.EMAIL_PATTERN.fullmatch(email) or len(email) > 254:
        raise EnrolmentError(_l("“%(email)s” is not an email address.", email=email))
    if session.scalar(select(Staff).where(Staff.email == email)) is not None:
        raise EnrolmentError(
            _l(
                "%(email)s has an account already. If they lost their authenticator, "
                "use “Reset TOTP” on their page.",
                email=email,
            )
        )
    schools: list[School] = []
    if role is Role.SCHOOL:
        schools = _schools(session, school_ids)
    elif school_ids:
        raise EnrolmentError(
            _l(
                "Only school accounts are linked to schools: leave the school ids empty "
                "for an account of the role %(role)s.",
                role=labels.label(role),
            )
        )
    issued = _issue(session, actor, email, role, None, now)
    issued.invitation.schools = schools
    _record(
        session,
        config,
        AuditAction.STAFF,
        actor,
        op="invite",
        email=email,
        role=role.value,
        schools=len(schools),
    )
    session.commit()
    return issued


def reset_totp(
    session: Session, config: Config, actor: Staff, staff: Staff, *, now: datetime | None = None
) -> IssuedLink:
    """A link to enrol a new TOTP secret; the old one stops now and the member's sessions end."""
    now = now or clock.now()
    if not staff.active:
        raise EnrolmentError(
            _l("%(email)s is disabled: enable the account first.", email=staff.email)
        )
    issued = _issue(session, actor, staff.email, staff.role, staff, now)
    # A secret nobody ever sees: the old authenticator stops at once, logins wait for the link.
    staff.sealed_totp_secret = accounts.seal_totp_secret(
        pyotp.random_base32(), staff.email, config.secret_key
    )
    _record(session, config, AuditAction.STAFF, actor, op="reset_totp", email=staff.email)
    session.commit()
    sessions.end_sessions_of(session, staff)
    return issued


def pending_invitations(session: Session, *, now: datetime | None = None) -> list[StaffInvitation]:
    """Links neither used, revoked nor expired, the newest first."""
    now = now or clock.now()
    return list(
        session.scalars(
            select(StaffInvitation)
            .where(
                StaffInvitation.used_at.is_(None),
                StaffInvitation.revoked_at.is_(None),
                StaffInvitation.expires_at > now,
            )
            .order_by(StaffInvitation.created_at.desc(), StaffInvitation.id.desc())
        )
    )


def revoke_invitation(
    session: Session, config: Config, actor: Staff, invitation_id: int
) -> StaffInvitation:
    """Stop a pending link from working."""
    invitation = session.get(StaffInvitation, invitation_id)
    if invitation is None or invitation.used_at is not None or invitation.revoked_at is not None:
        raise EnrolmentError(_l("That link is not pending any more: nothing to revoke."))
    invitation.revoked_at = clock.now()
    _record(session, config, AuditAction.STAFF, actor, op="revoke_link", email=invitation.email)
    session.commit()
    return invitation


def token_of(link: str) -> str:
    """The token of a link as given: the whole link (token after '#') or the token alone."""
    return link.strip().rpartition("#")[2].strip()


def find_link(session: Session, token: str, *, now: datetime | None = None) -> StaffInvitation:
    """The pending invitation of this link; BadLink (or a subclass) says why not."""
    invitation = session.scalar(
        select(StaffInvitation).where(StaffInvitation.token_hash == token_hash(token))
    )
    return _pending(invitation, now or clock.now())


def _pending(invitation: StaffInvitation | None, now: datetime) -> StaffInvitation:
    if invitation is None or invitation.revoked_at is not None:
        raise BadLink(_l("This enrolment link is not valid. Ask an administrator for a new one."))
    if invitation.used_at is not None:
        raise UsedLink(
            _l(
                "This enrolment link was used already; each link works once. "
                "Log in, or ask an administrator for a new link."
            )
        )
    if invitation.expires_at <= now:
        raise ExpiredLink(
            _l(
                "This enrolment link has expired (links work for 72 hours). "
                "Ask an administrator for a new one."
            )
        )
    if invitation.staff is not None and not invitation.staff.active:
        raise BadLink(_l("This account is disabled. Ask an administrator."))
    return invitation


def open_link(
    session: Session, token: str, browser_key: str | None, *, now: datetime | None = None
) -> OpenedLink:
    """The link taken by the browser that presents its token first; that browser again (its key
    matches) goes on too, any other gets TakenLink."""
    invitation = find_link(session, token, now=now)
    if invitation.browser_hash is not None:
        if browser_key and hmac.compare_digest(invitation.browser_hash, token_hash(browser_key)):
            return OpenedLink(invitation, browser_key)
        raise TakenLink(
            _l(
                "This enrolment link was opened in another browser already, and only that "
                "browser can go on. If that was not you, ask an administrator for a new link."
            )
        )
    key = secrets.token_urlsafe(TOKEN_BYTES)
    # One UPDATE that only an untaken link matches: of two browsers at once, one wins.
    taken = session.execute(
        update(StaffInvitation)
        .where(StaffInvitation.id == invitation.id, StaffInvitation.browser_hash.is_(None))
        .values(browser_hash=token_hash(key))
        .execution_options(synchronize_session=False)
    )
    session.commit()
    session.refresh(invitation)
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        return open_link(session, token, browser_key, now=now)
    return OpenedLink(invitation, key)


def opened_link(
    session: Session, browser_key: str, *, now: datetime | None = None
) -> StaffInvitation:
    """The pending invitation this browser took; BadLink (or a subclass) says why not."""
    invitation = None
    if browser_key:
        invitation = session.scalar(
            select(StaffInvitation).where(StaffInvitation.browser_hash == token_hash(browser_key))
        )
    return _pending(invitation, now or clock.now())


# ---- enrolment --------------------------------------------------------------------------


def unlock_secret(
    session: Session,
    config: Config,
    invitation: StaffInvitation,
    password: str,
    *,
    now: datetime | None = None,
) -> str:
    """The first step behind a taken link: the password, then a new TOTP secret to show.

    A new member's account is made with the password chosen now (accounts.check_password's
    rule), under a TOTP secret nobody sees, so it cannot log in until a code is confirmed; a
    reset proves the member's password. Each call draws a new secret and forgets the last.
    """
    now = now or clock.now()
    _pending(invitation, now)
    if invitation.staff is None:
        _create_account(session, config, invitation, password)
    else:
        try:
            accounts.unlock_staff_key(invitation.staff, password)
        except crypto.WrongPassword:
            _record(session, config, AuditAction.STAFF, invitation.staff, op="enrol_failed")
            session.commit()
            raise EnrolmentError(_l("That is not the password of this account.")) from None
    secret = pyotp.random_base32()
    invitation.sealed_totp_secret = crypto.seal_with_server_key(
        config.secret_key,
        PENDING_TOTP_PURPOSE,
        secret.encode("ascii"),
        context=_context(invitation),
    )
    session.commit()
    return secret


def _context(invitation: StaffInvitation) -> bytes:
    return invitation.token_hash.encode("ascii")


def _create_account(
    session: Session, config: Config, invitation: StaffInvitation, password: str
) -> None:
    _record(
        session,
        config,
        AuditAction.STAFF,
        None,
        op="enrolled",
        email=invitation.email,
        role=invitation.role.value,
    )
    try:  # add_staff applies the password rule and commits the record with the account
        made = accounts.add_staff(
            session,
            invitation.email,
            invitation.role,
            password,
            config.kdf,
            config.secret_key,
            commit=False,
        )
    except accounts.AccountError as exc:
        session.rollback()
        raise EnrolmentError(str(exc)) from None
    made.staff.schools = list(invitation.schools)
    invitation.staff = made.staff  # from now on the link goes on as a reset of this account
    session.commit()


def qr_svg(text: str, title: str) -> str:
    """An inline SVG QR code of text (one path; no style attribute, so the CSP allows it)."""
    # Not the cached qr_matrix: a TOTP secret must not linger in a process-wide cache.
    matrix = uncached_qr_matrix(text)
    size = len(matrix)
    path = qr_path_data(QRSymbol(x=0, y=0, module=1, matrix=matrix, data=""))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
        f'width="{size * 5}" height="{size * 5}" role="img" aria-label="{html.escape(title)}" '
        f'shape-rendering="crispEdges"><rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path d="{path}" fill="#000"/></svg>'
    )


def accept(
    session: Session,
    config: Config,
    invitation: StaffInvitation,
    code: str,
    *,
    now: datetime | None = None,
) -> Staff:
    """Finish an enrolment: the code confirms the secret unlock_secret showed last, which
    becomes the account's; the link then stops working."""
    now = now or clock.now()
    _pending(invitation, now)
    staff = invitation.staff
    if staff is None or invitation.sealed_totp_secret is None:
        raise EnrolmentError(_l("Type your password first; the code to scan comes after it."))
    secret = crypto.open_with_server_key(
        config.secret_key,
        PENDING_TOTP_PURPOSE,
        invitation.sealed_totp_secret,
        context=_context(invitation),
    ).decode("ascii")
    step = matching_step(secret, code, now)
    if step is None:
        raise WrongCode(
            _l(
                "That code does not match. Check that the app shows the entry you just "
                "scanned, and enter the six digits it shows now."
            )
        )
    staff.sealed_totp_secret = accounts.seal_totp_secret(secret, staff.email, config.secret_key)
    staff.last_totp_step = step  # the confirmation code does not log in too
    staff.failed_logins = 0
    staff.locked_until = None
    invitation.used_at = now
    invitation.sealed_totp_secret = None
    _record(session, config, AuditAction.STAFF, staff, op="enrolled_totp")
    session.commit()
    return staff


# ---- accounts ---------------------------------------------------------------------------


def list_staff(session: Session) -> list[Staff]:
    """Every account: active first, then by role and email."""
    return list(
        session.scalars(select(Staff).order_by(Staff.active.desc(), Staff.role, Staff.email))
    )


def staff_by_id(session: Session, staff_id: int) -> Staff | None:
    """The account with this id, if any."""
    return session.get(Staff, staff_id)


def set_active(session: Session, config: Config, actor: Staff, staff: Staff, active: bool) -> None:
    """Disable (its sessions end at once, login refuses it) or enable an account."""
    if staff.active == active:
        already = (
            _l("%(email)s is active already.", email=staff.email)
            if active
            else _l("%(email)s is disabled already.", email=staff.email)
        )
        raise EnrolmentError(already)
    if not active:
        if staff.id == actor.id:
            raise NotAllowed(_l("You cannot disable your own account."))
        if staff.role is Role.ADMIN and _active_admins(session) <= 1:
            raise NotAllowed(_l("%(email)s is the last active administrator.", email=staff.email))
    staff.active = active
    _record(
        session,
        config,
        AuditAction.STAFF,
        actor,
        op="enable" if active else "disable",
        email=staff.email,
    )
    session.commit()
    if not active:
        sessions.end_sessions_of(session, staff)


def _active_admins(session: Session) -> int:
    query = select(func.count()).where(Staff.role == Role.ADMIN, Staff.active.is_(True))
    return session.scalar(query) or 0


def set_schools(
    session: Session, config: Config, actor: Staff, staff: Staff, school_ids: Sequence[str]
) -> None:
    """The schools whose posters a school account may print."""
    if staff.role is not Role.SCHOOL:
        raise EnrolmentError(
            _l(
                "%(email)s is an account of the role %(role)s, not a school one.",
                email=staff.email,
                role=labels.label(staff.role),
            )
        )
    staff.schools = _schools(session, school_ids)
    _record(
        session,
        config,
        AuditAction.STAFF,
        actor,
        op="schools",
        email=staff.email,
        schools=len(staff.schools),
    )
    session.commit()


# ---- inboxes ----------------------------------------------------------------------------


def inbox_rows(session: Session) -> list[InboxRow]:
    """Every inbox with its members and its number of open (not closed) reports."""
    open_reports = (
        select(Report.inbox_id, func.count())
        .where(Report.status != Status.CLOSED, Report.erased_at.is_(None))
        .group_by(Report.inbox_id)
    )
    counts: dict[int, int] = {inbox_id: n for inbox_id, n in session.execute(open_reports)}
    rows = []
    for inbox in accounts.list_inboxes(session):
        members = sorted((grant.staff for grant in inbox.grants), key=lambda staff: staff.email)
        rows.append(InboxRow(inbox, members, counts.get(inbox.id, 0)))
    return rows


def regions_without_inbox(session: Session) -> list[str]:
    """The registry's regions whose schools report to the national inbox."""
    taken = select(Inbox.region).where(Inbox.region.is_not(None))
    query = select(School.region).where(School.region.not_in(taken)).distinct()
    return sorted(session.scalars(query))


def create_inbox(
    session: Session, config: Config, actor: Staff | None, name: str, region: str | None
) -> Inbox:
    """A new inbox, national (region None) or for a region of the registry without one.

    From the admin's page (`actor`) the admin becomes its first member, since its private key
    is in hand only now; from the command line (actor None) the key is wrapped for the
    recovery key alone, to be granted with `flask keys recover`. The same rules either way,
    and the inbox, its grant and its audit record are committed together.
    """
    name = name.strip()
    if not INBOX_NAME.match(name):
        raise EnrolmentError(
            _l("An inbox name is 1 to 64 lower-case letters, digits, '-' or '_', e.g. 'almaty'.")
        )
    if region is None:
        if session.scalar(select(Inbox).where(Inbox.region.is_(None))) is not None:
            raise EnrolmentError(_l("There is a national inbox already; choose a region."))
    elif region not in regions_without_inbox(session):
        raise EnrolmentError(
            _l(
                "“%(region)s” is not a region of the registry without an inbox; "
                "choose one of the list.",
                region=region,
            )
        )
    try:
        inbox, inbox_private = accounts.new_inbox(session, name, region)
    except accounts.AccountError as exc:
        session.rollback()
        raise EnrolmentError(str(exc)) from None
    session.flush()
    first_member = actor.email if actor is not None else None
    detail = {"op": "create", "inbox": name, "region": region, "first_member": first_member}
    _record(session, config, AuditAction.INBOX, actor, **detail)
    if actor is None:
        session.commit()
    else:
        accounts.grant(session, inbox, inbox_private, actor)  # commits the inbox and the record
    return inbox


def grant_inbox(
    session: Session,
    config: Config,
    actor: Staff,
    actor_private: bytes,
    inbox: Inbox,
    member: Staff,
) -> None:
    """Make member part of inbox with the acting admin's own membership."""
    try:
        accounts.check_can_hold_inbox(member.role, member.email)
    except accounts.NoReportAccess:
        raise EnrolmentError(
            _l(
                "%(email)s is a school account: school accounts print posters and never "
                "read reports, so they cannot be given an inbox.",
                email=member.email,
            )
        ) from None
    if not member.active:
        raise EnrolmentError(
            _l("%(email)s is disabled: enable the account first.", email=member.email)
        )
    if _grant_of(session, inbox, member) is not None:
        raise EnrolmentError(
            _l("%(email)s is a member of %(inbox)s already.", email=member.email, inbox=inbox.name)
        )
    try:
        inbox_private = accounts.open_inbox_key(session, inbox, actor, actor_private)
    except accounts.NotAMember:
        raise NotAllowed(
            _l(
                "You are not a member of inbox %(inbox)s, so you do not hold its key. "
                "A member of it must grant it, or the operator with the offline recovery key: "
                "%(command)s",
                inbox=inbox.name,
                command=f"flask --app portal keys recover --inbox {inbox.name} "
                f"--email {member.email} --recovery-key FILE",
            )
        ) from None
    _record(
        session, config, AuditAction.KEYS, actor, op="grant", inbox=inbox.name, email=member.email
    )
    accounts.grant(session, inbox, inbox_private, member)  # commits the grant and the record


def revoke_inbox(
    session: Session, config: Config, actor: Staff, inbox: Inbox, member: Staff
) -> None:
    """Take an inbox away from a member: its wrapped key is deleted."""
    record = _grant_of(session, inbox, member)
    if record is None:
        raise EnrolmentError(
            _l("%(email)s is not a member of %(inbox)s.", email=member.email, inbox=inbox.name)
        )
    if len(inbox.grants) <= 1:
        raise NotAllowed(
            _l(
                "%(email)s is the only member of %(inbox)s: grant the inbox to someone "
                "else first, or only the offline recovery key could open it again.",
                email=member.email,
                inbox=inbox.name,
            )
        )
    session.delete(record)
    _record(
        session, config, AuditAction.KEYS, actor, op="revoke", inbox=inbox.name, email=member.email
    )
    session.commit()


def _grant_of(session: Session, inbox: Inbox, member: Staff) -> InboxGrant | None:
    return session.scalar(
        select(InboxGrant).where(InboxGrant.inbox_id == inbox.id, InboxGrant.staff_id == member.id)
    )
