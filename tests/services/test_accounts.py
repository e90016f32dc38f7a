"""Accounts: the recovery key file, inboxes, staff with sealed keys and TOTP, inbox grants."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pyotp
import pytest
from flask import Flask
from flask_babel import force_locale
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal import crypto
from portal.config import Config
from portal.enums import InboxKind, Role
from portal.models import Inbox, InboxGrant, RecoveryKey, Staff
from portal.services import accounts, audit, enrolment
from tests.worlds import REGION, Member, World, add_member, foreign_recovery_file

NEW_PASSWORD = "a-long-enough-password"


def grants_of(session: Session, staff: Staff) -> int:
    query = select(func.count()).select_from(InboxGrant).where(InboxGrant.staff_id == staff.id)
    return session.scalar(query) or 0


# ---- the recovery key ----------------------------------------------------------------------


def test_init_writes_the_private_half_to_a_0600_file_and_stores_the_public_half(
    session: Session, tmp_path: Path
) -> None:
    path = tmp_path / "recovery.key"
    record = accounts.init_recovery_key(session, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text(encoding="ascii")
    assert text.startswith(accounts.RECOVERY_FILE_HEADER + "\n")
    assert f"public: {record.public_key.hex()}\n" in text
    private = accounts.read_recovery_key(session, path)
    assert crypto.public_key_of(private) == record.public_key
    stored = session.scalars(select(RecoveryKey)).all()
    assert [row.public_key for row in stored] == [record.public_key]


def test_init_never_overwrites_an_existing_file(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "recovery.key"
    path.write_text("the only copy of another key\n", encoding="ascii")
    with pytest.raises(accounts.AccountError, match="cannot create"):
        accounts.init_recovery_key(session, path)
    assert path.read_text(encoding="ascii") == "the only copy of another key\n"
    # Nothing was recorded: init can be run again with another file.
    assert session.scalar(select(RecoveryKey)) is None
    accounts.init_recovery_key(session, tmp_path / "other.key")
    assert session.scalar(select(func.count()).select_from(RecoveryKey)) == 1


def test_a_second_init_is_refused_and_writes_no_file(
    session: Session, recovery_file: Path, tmp_path: Path
) -> None:
    before = recovery_file.read_bytes()
    with pytest.raises(accounts.RecoveryKeyExists):
        accounts.init_recovery_key(session, tmp_path / "second.key")
    assert not (tmp_path / "second.key").exists()
    assert recovery_file.read_bytes() == before
    assert session.scalar(select(func.count()).select_from(RecoveryKey)) == 1


def test_reading_the_key_before_init_is_no_recovery_key(session: Session, tmp_path: Path) -> None:
    with pytest.raises(accounts.NoRecoveryKey):
        accounts.read_recovery_key(session, foreign_recovery_file(tmp_path / "recovery.key"))


GARBLED_FILES = [
    b"",
    b"\xff\xfe\x00garbage",
    b"QR 111 recovery key\npublic: 00\n",
    b"private: !!!!\n",
    b"private: " + base64.urlsafe_b64encode(bytes(31)) + b"\n",
    b"private: " + base64.urlsafe_b64encode(bytes(33)) + b"\n",
    b"private: abc\n",
    "private: ключ\n".encode(),
]


def test_a_garbled_missing_or_folder_file_is_a_bad_recovery_key_file(
    session: Session, recovery_file: Path, tmp_path: Path
) -> None:
    for number, content in enumerate(GARBLED_FILES):
        path = tmp_path / f"garbled-{number}.key"
        path.write_bytes(content)
        with pytest.raises(accounts.BadRecoveryKeyFile, match="not a readable recovery key"):
            accounts.read_recovery_key(session, path)
    for path in (tmp_path / "missing.key", tmp_path):
        with pytest.raises(accounts.BadRecoveryKeyFile, match="not a readable recovery key"):
            accounts.read_recovery_key(session, path)


def test_another_servers_recovery_key_is_refused(
    session: Session, recovery_file: Path, tmp_path: Path
) -> None:
    other = foreign_recovery_file(tmp_path / "other-server.key")
    with pytest.raises(accounts.BadRecoveryKeyFile, match="not the recovery key of this server"):
        accounts.read_recovery_key(session, other)


# ---- inboxes -------------------------------------------------------------------------------


def test_inboxes_need_the_recovery_key_first(session: Session, config: Config) -> None:
    with pytest.raises(enrolment.EnrolmentError, match="recovery key"):
        enrolment.create_inbox(session, config, None, "national", None)
    assert accounts.list_inboxes(session) == []


def test_national_and_regional_inboxes_wrap_their_key_for_the_recovery_key(world: World) -> None:
    assert (world.national.kind, world.national.region) == (InboxKind.NATIONAL, None)
    assert (world.regional.kind, world.regional.region) == (InboxKind.REGION, REGION)
    for inbox in (world.national, world.regional):
        private = crypto.open_inbox_key(inbox.key_for_recovery, world.recovery_private, inbox.name)
        assert crypto.public_key_of(private) == inbox.public_key
    assert world.national.public_key != world.regional.public_key
    assert [inbox.name for inbox in accounts.list_inboxes(world.session)] == [
        "national",
        "turkestan",
    ]
    assert accounts.get_inbox(world.session, "turkestan").id == world.regional.id


def test_an_inbox_key_for_recovery_opens_for_no_other_inbox(world: World) -> None:
    with pytest.raises(crypto.TamperedCiphertext):
        crypto.open_inbox_key(
            world.national.key_for_recovery, world.recovery_private, world.regional.name
        )


def test_a_taken_or_empty_name_or_region_is_refused(world: World) -> None:
    refused: list[tuple[str, str | None]] = [
        ("national", None),
        (" national ", None),
        ("national", "Абайская область"),
        ("another", REGION),
        ("another", f" {REGION} "),
        ("", None),
        ("   ", "Абайская область"),
        ("abai", ""),
        ("abai", "   "),
    ]
    for name, region in refused:
        with pytest.raises(enrolment.EnrolmentError):
            enrolment.create_inbox(world.session, world.config, None, name, region)
    assert len(accounts.list_inboxes(world.session)) == 2


def test_an_unknown_inbox_name_is_unknown_inbox(world: World) -> None:
    with pytest.raises(accounts.UnknownInbox):
        accounts.get_inbox(world.session, "nowhere")


# ---- staff ---------------------------------------------------------------------------------


def test_staff_emails_are_stored_lowercase_and_found_in_any_case(world: World) -> None:
    staff = world.national_member.staff
    assert staff.email == "daniyar@111.kz"
    assert accounts.staff_by_email(world.session, "  DANIYAR@111.kz ").id == staff.id
    with pytest.raises(accounts.UnknownStaff):
        accounts.staff_by_email(world.session, "nobody@111.kz")


def test_a_duplicate_email_in_another_case_is_refused(world: World) -> None:
    with pytest.raises(accounts.DuplicateStaff):
        add_member(world.session, world.config, " AIGERIM@111.KZ", NEW_PASSWORD)
    staff = world.session.scalars(select(Staff).where(Staff.email == "aigerim@111.kz")).all()
    assert len(staff) == 1


def test_a_short_password_is_refused(session: Session, config: Config) -> None:
    for password in ("", "short", "eleven-char", " " * 3 + "x" * 8):
        with pytest.raises(accounts.WeakPassword):
            add_member(session, config, "new@111.kz", password)
    assert session.scalar(select(Staff)) is None


def test_a_twelve_character_password_is_enough(session: Session, config: Config) -> None:
    member = add_member(session, config, "new@111.kz", "twelve-chars")
    assert accounts.unlock_staff_key(member.staff, "twelve-chars")


EMAIL = "aliya.nurlanqyzy@mektep.kz"


@pytest.mark.parametrize(
    ("password", "russian"),
    [
        (
            "password1234",
            "Этот пароль — один из самых распространённых; его пробуют одним из первых.",
        ),
        (
            "qwertyuiop12",
            "Этот пароль — один из самых распространённых; его пробуют одним из первых.",
        ),
        (EMAIL, "Пароль не должен состоять из вашего адреса электронной почты или его частей."),
        ("Aliya.Nurlanqyzy", "Пароль не должен состоять из вашего адреса электронной почты"),
        ("mektep.kz 2026", "Пароль не должен состоять из вашего адреса электронной почты"),
        ("aaaaaaaaaaaaaaaa", "Повторяющиеся символы или слова легко подобрать."),
    ],
)
def test_a_guessable_password_is_refused_and_says_why(
    session: Session, config: Config, app: Flask, password: str, russian: str
) -> None:
    """The rule of every chosen password (staff add, enrolment), said in the staff's language."""
    with pytest.raises(accounts.WeakPassword) as refused:
        add_member(session, config, EMAIL, password)
    assert session.scalar(select(Staff)) is None
    with app.app_context(), force_locale("ru"):
        said = str(refused.value)
    assert said.startswith(russian), said
    assert said.endswith("Несколько не связанных между собой слов через пробел — надёжный пароль.")


def test_a_passphrase_passes_the_rule(session: Session, config: Config) -> None:
    accounts.check_password("кетпен ай терезе 7", EMAIL)
    member = add_member(session, config, EMAIL, "tulip ocean kettle lamp")
    assert accounts.unlock_staff_key(member.staff, "tulip ocean kettle lamp")


BAD_EMAILS = [
    "",
    "   ",
    "no-at-sign",
    "@",
    "user@",
    "@111.kz",
    "two@at@111.kz",
    "has space@111.kz",
    "tab\t@111.kz",
    "nul\x00@111.kz",
    "new-line@111.kz\nx",
    "x" * 250 + "@111.kz",
]


def test_a_bad_email_address_is_refused(session: Session, config: Config) -> None:
    for email in BAD_EMAILS:
        with pytest.raises(accounts.AccountError, match="not an email address"):
            add_member(session, config, email, NEW_PASSWORD)
    assert session.scalar(select(Staff)) is None


def test_the_totp_secret_is_sealed_and_verifies_codes(world: World) -> None:
    member = world.regional_member
    secret = accounts.totp_secret_of(member.staff, world.config.secret_key)
    assert secret == member.totp_secret
    assert secret.encode("ascii") not in member.staff.sealed_totp_secret
    # The authenticator app was given member.totp_secret; the server checks with the sealed one.
    code = pyotp.TOTP(member.totp_secret).now()
    assert pyotp.TOTP(secret).verify(code)
    assert not pyotp.TOTP(secret).verify(f"{(int(code) + 1) % 10**6:06d}")
    assert world.national_member.totp_secret != member.totp_secret


def test_the_totp_secret_opens_only_with_the_server_secret_and_for_its_own_account(
    world: World,
) -> None:
    regional, national = world.regional_member.staff, world.national_member.staff
    with pytest.raises(crypto.TamperedCiphertext):
        accounts.totp_secret_of(regional, "another-server-secret-" + "y" * 32)
    national.sealed_totp_secret = regional.sealed_totp_secret  # a row copied to another account
    with pytest.raises(crypto.TamperedCiphertext):
        accounts.totp_secret_of(national, world.config.secret_key)
    world.session.rollback()


def test_the_password_unlocks_the_staff_key_and_a_wrong_one_does_not(world: World) -> None:
    staff = world.regional_member.staff
    private = accounts.unlock_staff_key(staff, world.regional_member.password)
    assert crypto.public_key_of(private) == staff.public_key
    assert private not in staff.sealed_private_key
    for wrong in (world.national_member.password, world.regional_member.password.upper(), "x"):
        with pytest.raises(crypto.WrongPassword):
            accounts.unlock_staff_key(staff, wrong)


# ---- grants --------------------------------------------------------------------------------


def test_members_open_their_inbox_key(world: World) -> None:
    for inbox, member in (
        (world.national, world.national_member),
        (world.regional, world.regional_member),
    ):
        assert crypto.public_key_of(world.inbox_key(inbox, member)) == inbox.public_key


def test_a_non_member_is_not_a_member(world: World) -> None:
    with pytest.raises(accounts.NotAMember):
        world.inbox_key(world.national, world.regional_member)
    with pytest.raises(accounts.NotAMember):
        world.inbox_key(world.regional, world.national_member)


def test_a_grant_moved_to_another_inbox_opens_nothing(world: World) -> None:
    """P6: a member's grant row copied to another inbox does not yield that inbox's key."""
    member = world.regional_member
    own = world.session.scalars(
        select(InboxGrant).where(InboxGrant.staff_id == member.staff.id)
    ).one()
    world.session.add(
        InboxGrant(inbox=world.national, staff=member.staff, wrapped_key=own.wrapped_key)
    )
    world.session.commit()
    with pytest.raises(crypto.TamperedCiphertext):
        world.inbox_key(world.national, member)


def test_another_members_grant_opens_nothing(world: World) -> None:
    """P6: the national member's grant, given to the regional member, is for another key."""
    national = world.national.grants[0]
    world.session.add(
        InboxGrant(
            inbox=world.national,
            staff=world.regional_member.staff,
            wrapped_key=national.wrapped_key,
        )
    )
    world.session.commit()
    with pytest.raises(crypto.WrongKey):
        world.inbox_key(world.national, world.regional_member)


def test_granting_twice_keeps_one_grant_that_still_opens(world: World) -> None:
    member = world.regional_member
    accounts.grant_with_recovery_key(
        world.session, "turkestan", member.staff.email, world.recovery_private
    )
    assert grants_of(world.session, member.staff) == 1
    assert crypto.public_key_of(world.inbox_key(world.regional, member)) == (
        world.regional.public_key
    )


def grant_as(world: World, granter: Member, password: str, inbox: Inbox, email: str) -> None:
    """A member grants an inbox with their own membership (the admin page's action)."""
    granter_private = accounts.unlock_staff_key(granter.staff, password)
    newcomer = accounts.staff_by_email(world.session, email)
    enrolment.grant_inbox(
        world.session, world.config, granter.staff, granter_private, inbox, newcomer
    )


def test_a_member_grants_their_inbox_to_a_new_member(world: World) -> None:
    newcomer = add_member(world.session, world.config, "newcomer@111.kz", NEW_PASSWORD)
    national = world.national_member
    grant_as(world, national, national.password, world.national, "newcomer@111.kz")
    assert world.inbox_key(world.national, newcomer) == world.inbox_key(world.national, national)
    with pytest.raises(accounts.NotAMember):
        world.inbox_key(world.regional, newcomer)


def test_a_non_member_cannot_grant_an_inbox(world: World) -> None:
    newcomer = add_member(world.session, world.config, "newcomer@111.kz", NEW_PASSWORD)
    regional = world.regional_member
    with pytest.raises(enrolment.NotAllowed):
        grant_as(world, regional, regional.password, world.national, newcomer.staff.email)
    assert grants_of(world.session, newcomer.staff) == 0


def test_a_member_with_a_wrong_password_cannot_grant(world: World) -> None:
    newcomer = add_member(world.session, world.config, "newcomer@111.kz", NEW_PASSWORD)
    national, wrong = world.national_member, world.regional_member.password
    with pytest.raises(crypto.WrongPassword):
        grant_as(world, national, wrong, world.national, newcomer.staff.email)
    assert grants_of(world.session, newcomer.staff) == 0


def test_granting_with_a_wrong_key_or_to_unknown_names_is_refused(world: World) -> None:
    email = world.national_member.staff.email
    with pytest.raises(crypto.WrongKey):
        accounts.grant_with_recovery_key(
            world.session, "turkestan", email, crypto.generate_keypair().private
        )
    with pytest.raises(accounts.UnknownInbox):
        accounts.grant_with_recovery_key(world.session, "nowhere", email, world.recovery_private)
    with pytest.raises(accounts.UnknownStaff):
        accounts.grant_with_recovery_key(
            world.session, "turkestan", "nobody@111.kz", world.recovery_private
        )
    assert grants_of(world.session, world.national_member.staff) == 1


def test_a_grant_must_carry_the_inboxs_own_key(world: World) -> None:
    """Granting inbox A with inbox B's private key would hand B's reports to A's members."""
    regional_private = world.inbox_key(world.regional, world.regional_member)
    with pytest.raises(accounts.AccountError, match="not the private key of inbox"):
        accounts.grant(world.session, world.national, regional_private, world.national_member.staff)
    national_private = world.inbox_key(world.national, world.national_member)
    assert crypto.public_key_of(national_private) == world.national.public_key


def test_a_school_administrator_is_never_granted_an_inbox(world: World) -> None:
    """P6: school administrators see posters, never reports."""
    school_admin = add_member(
        world.session, world.config, "director@school.kz", NEW_PASSWORD, Role.SCHOOL
    )
    with pytest.raises(accounts.NoReportAccess):
        accounts.grant_with_recovery_key(
            world.session, "turkestan", school_admin.staff.email, world.recovery_private
        )
    assert grants_of(world.session, school_admin.staff) == 0


def test_an_operator_action_and_its_record_commit_together(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`staff add` with an inbox: a crash while writing the record leaves no account, no grant."""

    def crash(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the process died here")

    def add() -> accounts.NewStaff:
        return accounts.create_staff_account(
            world.session,
            world.config.kdf,
            world.config.secret_key,
            "operator-made@111.kz",
            Role.TRIAGE,
            NEW_PASSWORD,
            ("national", world.recovery_private),
        )

    with monkeypatch.context() as patched:
        patched.setattr(audit, "record", crash)
        with pytest.raises(RuntimeError):
            add()
    world.session.rollback()
    with pytest.raises(accounts.UnknownStaff):
        accounts.staff_by_email(world.session, "operator-made@111.kz")
    created = add()
    assert grants_of(world.session, created.staff) == 1
