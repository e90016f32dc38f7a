"""Reports at rest: routing to an inbox, receipts, the conversation, erasure, moved blobs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from portal import crypto
from portal.config import Config
from portal.enums import Category, EntryKind, Priority, Status
from portal.models import Entry, Report, School
from portal.services import reports
from tests.conftest import add_inbox
from tests.worlds import REGION, World

FIRST = "Мені мектепте ұрады. Меня бьют в школе."
REPLY = "Сен жалғыз емессің. We are here; tell us more."
NOTE = "Internal: called the school psychologist."
SECOND = "Бүгін де қайталанды."


@pytest.fixture
def filed(world: World) -> tuple[Report, str]:
    """A regional report with a reply, a note and a second child message; and its receipt."""
    report, receipt = world.submit(world.regional_school, FIRST)
    staff = world.staff_keys(report, world.regional_member)
    reports.add_entry(world.session, report, staff, EntryKind.STAFF, REPLY)
    reports.add_entry(world.session, report, staff, EntryKind.NOTE, NOTE)
    child = world.child_keys(report, receipt)
    reports.add_entry(world.session, report, child, EntryKind.CHILD, SECOND)
    return report, receipt


def texts(opened: list[reports.ConversationEntry]) -> list[tuple[int, EntryKind, str]]:
    return [(entry.position, entry.kind, entry.text) for entry in opened]


def fresh(world: World, report: Report) -> Report:
    """The report as another session reads it from the database (what was committed)."""
    with Session(world.session.get_bind()) as other:
        found = other.get(Report, report.id, options=[selectinload(Report.entries)])
    assert found is not None
    return found


# ---- routing -------------------------------------------------------------------------------


def test_a_school_reports_to_its_regions_inbox_else_to_the_national_one(world: World) -> None:
    assert reports.inbox_for_school(world.session, world.regional_school).id == world.regional.id
    assert reports.inbox_for_school(world.session, world.national_school).id == world.national.id


def test_without_a_national_inbox_other_regions_have_no_inbox(
    session: Session, config: Config, recovery_file: Path, schools: list[School]
) -> None:
    inside = next(school for school in schools if school.region == REGION)
    outside = next(school for school in schools if school.region != REGION)
    with pytest.raises(reports.NoInbox):
        reports.inbox_for_school(session, inside)
    add_inbox(session, "turkestan", REGION)
    assert reports.inbox_for_school(session, inside).name == "turkestan"
    with pytest.raises(reports.NoInbox):
        reports.inbox_for_school(session, outside)


def test_a_report_without_an_inbox_is_refused_and_not_stored(
    session: Session, recovery_file: Path, schools: list[School]
) -> None:
    with pytest.raises(reports.NoInbox):
        reports.submit_report(
            session,
            schools[0],
            Category.HOME,
            Priority.P1,
            FIRST,
            server_secret="s" * 32,
        )
    assert session.scalar(select(Report)) is None


# ---- submitting and finding ----------------------------------------------------------------


def test_submit_stores_a_sealed_report_with_the_childs_first_message(world: World) -> None:
    report, receipt = world.submit(world.regional_school, FIRST, Priority.P1)
    assert len(receipt) == 16 and receipt.isdigit()
    stored = fresh(world, report)  # committed: the receipt is worth showing (P4)
    assert stored.inbox_id == world.regional.id
    assert stored.school_pk == world.regional_school.id
    assert (stored.category, stored.priority, stored.status) == (
        Category.BULLYING,
        Priority.P1,
        Status.NEW,
    )
    assert stored.receipt_lookup is not None and len(stored.receipt_lookup) == 32
    assert stored.key_for_inbox and stored.key_for_receipt
    assert [(entry.position, entry.kind) for entry in stored.entries] == [(0, EntryKind.CHILD)]
    sealed = stored.entries[0].sealed
    assert sealed is not None and FIRST.encode() not in sealed
    columns = [stored.public_id.encode(), stored.receipt_lookup, stored.key_for_inbox, sealed]
    assert not [column for column in columns if receipt.encode() in column]


def test_submit_returns_the_row_it_stored_with_the_tables_defaults(world: World) -> None:
    """The report and its entries are written with Core: what comes back is the stored row,
    and the tables' Python defaults (status, times to the minute) still apply."""
    stored, receipt = reports.submit_report(
        world.session,
        world.national_school,
        Category.HOME,
        Priority.P2,
        FIRST,
        server_secret=world.config.secret_key,
        grade=10,
        risk_rule="ru:test",
    )
    assert isinstance(stored, reports.StoredReport)
    row = fresh(world, world.session.get_one(Report, stored.id))
    assert (row.public_id, row.inbox_id, row.priority) == (
        stored.public_id,
        stored.inbox_id,
        stored.priority,
    )
    assert (row.school_pk, row.category, row.risk_rule) == (
        world.national_school.id,
        Category.HOME,
        "ru:test",
    )
    assert row.status is Status.NEW and row.created_at == row.updated_at
    assert row.created_at.second == row.created_at.microsecond == 0
    assert [(entry.position, entry.kind) for entry in row.entries] == [
        (0, EntryKind.CHILD),
        (1, EntryKind.INTAKE),
    ]
    assert all(entry.created_at == row.created_at for entry in row.entries)
    keys = world.child_keys(row, receipt)
    assert [entry.text for entry in reports.read_conversation(row, keys)] == [FIRST]


def test_what_is_stored_with_a_report_is_stored_with_it_or_neither_is(world: World) -> None:
    """`also` runs in the report's transaction, given the stored report: when it fails, the
    report and its entries are not stored either."""
    given: list[reports.StoredReport] = []

    def fails(session: Session, stored: reports.StoredReport) -> None:
        given.append(stored)
        raise RuntimeError("the outbox could not be written")

    with pytest.raises(RuntimeError):
        reports.submit_report(
            world.session,
            world.national_school,
            Category.HOME,
            Priority.P1,
            FIRST,
            server_secret=world.config.secret_key,
            also=fails,
        )
    world.session.rollback()
    assert len(given) == 1 and given[0].priority is Priority.P1
    assert world.session.scalar(select(func.count()).select_from(Report)) == 0
    assert world.session.scalar(select(func.count()).select_from(Entry)) == 0


def test_a_clash_of_receipts_draws_a_new_one_and_stores_the_report_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A receipt whose lookup is taken already (a unique clash) is drawn again: the report is
    stored once, under the second receipt."""
    first, first_receipt = world.submit(world.national_school, FIRST)
    drawn = iter([first_receipt, "1111222233334444"])
    monkeypatch.setattr(crypto, "new_receipt", lambda: next(drawn))
    stored, receipt = reports.submit_report(
        world.session,
        world.national_school,
        Category.HOME,
        Priority.P2,
        "second",
        server_secret=world.config.secret_key,
    )
    assert receipt == "1111222233334444" and stored.id != first.id
    assert world.session.scalar(select(func.count()).select_from(Report)) == 2
    assert world.find_by_receipt(receipt) == world.session.get(Report, stored.id)


def test_each_report_gets_its_own_receipt_and_keys(world: World) -> None:
    first, first_receipt = world.submit(world.regional_school, FIRST)
    second, second_receipt = world.submit(world.regional_school, FIRST)
    assert first_receipt != second_receipt
    assert first.public_id != second.public_id
    assert first.receipt_lookup != second.receipt_lookup
    first_keys = world.staff_keys(first, world.regional_member)
    assert first_keys != world.staff_keys(second, world.regional_member)


def test_the_receipt_finds_its_report_however_it_is_typed(
    world: World, filed: tuple[Report, str]
) -> None:
    report, receipt = filed
    dashed = "-".join(receipt[start : start + 4] for start in range(0, 16, 4))
    arabic_indic = "".join(chr(0x0660 + int(digit)) for digit in receipt)
    for typed in (
        receipt,
        crypto.format_receipt(receipt),
        dashed,
        f"  {dashed} ",
        receipt[:8] + " \u2013 " + receipt[8:],
        arabic_indic,
    ):
        found = world.find_by_receipt(typed)
        assert found is not None and found.id == report.id, typed


def test_a_wrong_or_garbage_receipt_finds_nothing(world: World, filed: tuple[Report, str]) -> None:
    _report, receipt = filed
    changed = receipt[:-1] + str((int(receipt[-1]) + 1) % 10)
    for typed in (
        changed,
        crypto.new_receipt(),
        receipt[:-1],
        receipt + "0",
        "",
        "   ",
        "abcd efgh ijkl mnop",
        receipt[:8] + "x" + receipt[8:],
        receipt + "\x00",
        "1" * 10_000,
        "'; DROP TABLE reports; --",
    ):
        assert world.find_by_receipt(typed) is None


def test_without_the_server_secret_a_receipt_finds_nothing(
    world: World, filed: tuple[Report, str]
) -> None:
    _report, receipt = filed
    stretched = reports.stretch_receipt(receipt, "another-secret-" + "z" * 32)
    assert stretched is not None and reports.find_by_receipt(world.session, stretched) is None


# ---- the conversation ----------------------------------------------------------------------


def test_staff_read_every_entry_in_order(world: World, filed: tuple[Report, str]) -> None:
    report, _receipt = filed
    keys = world.staff_keys(fresh(world, report), world.regional_member)
    assert texts(reports.read_conversation(fresh(world, report), keys)) == [
        (0, EntryKind.CHILD, FIRST),
        (1, EntryKind.STAFF, REPLY),
        (2, EntryKind.NOTE, NOTE),
        (3, EntryKind.CHILD, SECOND),
    ]


def test_the_child_reads_the_messages_but_never_the_notes(
    world: World, filed: tuple[Report, str]
) -> None:
    report, receipt = filed
    keys = world.child_keys(fresh(world, report), receipt)
    assert keys.notes_key == b""
    opened = reports.read_conversation(fresh(world, report), keys)
    assert texts(opened) == [
        (0, EntryKind.CHILD, FIRST),
        (1, EntryKind.STAFF, REPLY),
        (3, EntryKind.CHILD, SECOND),
    ]
    assert all(entry.created_at.tzinfo is not None for entry in opened)


def test_the_child_cannot_write_a_note(world: World, filed: tuple[Report, str]) -> None:
    report, receipt = filed
    keys = world.child_keys(report, receipt)
    with pytest.raises(reports.ReportError, match="only staff"):
        reports.add_entry(world.session, report, keys, EntryKind.NOTE, "a note from the child")
    assert len(fresh(world, report).entries) == 4


def test_the_child_cannot_reply_as_staff_nor_staff_write_as_the_child(
    world: World, filed: tuple[Report, str]
) -> None:
    report, receipt = filed
    child_keys = world.child_keys(report, receipt)
    staff_keys = world.staff_keys(report, world.regional_member)
    with pytest.raises(reports.ReportError, match="may not write a staff entry"):
        reports.add_entry(world.session, report, child_keys, EntryKind.STAFF, "We are the staff")
    with pytest.raises(reports.ReportError, match="may not write a child entry"):
        reports.add_entry(world.session, report, staff_keys, EntryKind.CHILD, "I take it back")
    assert len(fresh(world, report).entries) == 4


def test_positions_increase_with_each_entry(world: World) -> None:
    report, _receipt = world.submit(world.regional_school, FIRST)
    keys = world.staff_keys(report, world.regional_member)
    added = [
        reports.add_entry(world.session, report, keys, kind, f"entry {number}")
        for number, kind in enumerate([EntryKind.STAFF, EntryKind.NOTE, EntryKind.STAFF], 1)
    ]
    assert [entry.position for entry in added] == [1, 2, 3]
    assert [entry.position for entry in fresh(world, report).entries] == [0, 1, 2, 3]


def test_a_wrong_receipt_does_not_open_a_report(world: World, filed: tuple[Report, str]) -> None:
    report, _receipt = filed
    _other, other_receipt = world.submit(world.regional_school, FIRST)
    with pytest.raises(crypto.WrongReceipt):
        world.child_keys(report, other_receipt)


def test_another_inboxs_key_does_not_open_a_report(world: World, filed: tuple[Report, str]) -> None:
    """P6: the national inbox does not read the regional inbox's reports."""
    report, _receipt = filed
    national_private = world.inbox_key(world.national, world.national_member)
    with pytest.raises(crypto.WrongKey):
        reports.keys_for_staff(report, national_private)


# ---- erasure -------------------------------------------------------------------------------


def test_an_erased_report_can_no_longer_be_found_read_or_written(
    world: World, filed: tuple[Report, str]
) -> None:
    report, receipt = filed
    child_keys = world.child_keys(report, receipt)
    staff_keys = world.staff_keys(report, world.regional_member)
    reports.erase_report(world.session, report)
    erased = fresh(world, report)
    assert world.find_by_receipt(receipt) is None
    assert (erased.receipt_lookup, erased.key_for_inbox, erased.key_for_receipt) == (
        None,
        None,
        None,
    )
    assert erased.erased_at is not None
    # The message rows go whole: no kind, position or time of the conversation is left.
    assert erased.entries == []
    assert world.session.scalar(select(func.count()).select_from(Entry)) == 0
    with pytest.raises(reports.ReportErased):
        world.child_keys(erased, receipt)
    with pytest.raises(reports.ReportErased):
        world.staff_keys(erased, world.regional_member)
    # Not even the recovery key: it still opens the inbox key, but no wrap of the report is left.
    inbox_private = crypto.open_inbox_key(
        world.regional.key_for_recovery, world.recovery_private, world.regional.name
    )
    with pytest.raises(reports.ReportErased):
        reports.keys_for_staff(erased, inbox_private)
    # Keys opened before the erasure write nothing more, and read nothing.
    for keys, kind in ((child_keys, EntryKind.CHILD), (staff_keys, EntryKind.STAFF)):
        with pytest.raises(reports.ReportErased):
            reports.add_entry(world.session, erased, keys, kind, "after the erasure")
        assert reports.read_conversation(erased, keys) == []
    assert fresh(world, report).entries == []


def test_erasure_keeps_the_triage_metadata_and_other_reports(
    world: World, filed: tuple[Report, str]
) -> None:
    report, _receipt = filed
    other, other_receipt = world.submit(world.regional_school, SECOND)
    reports.erase_report(world.session, report)
    erased = fresh(world, report)
    assert (erased.category, erased.school_pk, erased.inbox_id) == (
        Category.BULLYING,
        world.regional_school.id,
        world.regional.id,
    )
    found = world.find_by_receipt(other_receipt)
    assert found is not None and found.id == other.id
    opened = reports.read_conversation(found, world.child_keys(found, other_receipt))
    assert texts(opened) == [(0, EntryKind.CHILD, SECOND)]


# ---- blobs moved or altered in the database ------------------------------------------------


Tamper = Callable[[Report, Report], None]


def copy_from_other_report(report: Report, other: Report) -> None:
    report.entries[1].sealed = other.entries[1].sealed


def swap_two_positions(report: Report, other: Report) -> None:
    first, third = report.entries[0], report.entries[3]
    first.sealed, third.sealed = third.sealed, first.sealed


def relabel_child_as_staff(report: Report, other: Report) -> None:
    report.entries[3].kind = EntryKind.STAFF


def relabel_staff_as_child(report: Report, other: Report) -> None:
    report.entries[1].kind = EntryKind.CHILD


def relabel_note_as_child(report: Report, other: Report) -> None:
    report.entries[2].kind = EntryKind.CHILD


def relabel_child_as_note(report: Report, other: Report) -> None:
    report.entries[3].kind = EntryKind.NOTE


def flip_a_ciphertext_bit(report: Report, other: Report) -> None:
    sealed = report.entries[1].sealed
    assert sealed is not None
    report.entries[1].sealed = sealed[:-20] + bytes([sealed[-20] ^ 1]) + sealed[-19:]


@pytest.mark.parametrize(
    ("tamper", "error", "who"),
    [
        (copy_from_other_report, crypto.MisplacedMessage, "both"),
        (swap_two_positions, crypto.MisplacedMessage, "both"),
        (relabel_child_as_staff, crypto.MisplacedMessage, "both"),
        (relabel_staff_as_child, crypto.MisplacedMessage, "both"),
        (relabel_note_as_child, crypto.MisplacedMessage, "both"),
        (relabel_child_as_note, crypto.MisplacedMessage, "staff"),
        (flip_a_ciphertext_bit, crypto.TamperedCiphertext, "both"),
    ],
)
def test_a_moved_or_altered_entry_is_refused_never_shown(
    world: World,
    filed: tuple[Report, str],
    tamper: Tamper,
    error: type[crypto.CryptoError],
    who: str,
) -> None:
    report, receipt = filed
    other, _other_receipt = world.submit(world.regional_school, "another child")
    other_keys = world.staff_keys(other, world.regional_member)
    reports.add_entry(world.session, other, other_keys, EntryKind.STAFF, "another reply")
    tamper(report, other)
    world.session.commit()
    tampered = fresh(world, report)
    with pytest.raises(error):
        reports.read_conversation(tampered, world.staff_keys(tampered, world.regional_member))
    child_keys = world.child_keys(tampered, receipt)
    if who == "both":
        with pytest.raises(error):
            reports.read_conversation(tampered, child_keys)
    else:
        # A child message relabelled as a note is hidden from the child, never misattributed.
        assert texts(reports.read_conversation(tampered, child_keys)) == [
            (0, EntryKind.CHILD, FIRST),
            (1, EntryKind.STAFF, REPLY),
        ]


def test_a_report_key_copied_from_another_report_opens_nothing(
    world: World, filed: tuple[Report, str]
) -> None:
    report, _receipt = filed
    other, other_receipt = world.submit(world.regional_school, "another child")
    report.key_for_inbox, report.key_for_receipt = other.key_for_inbox, other.key_for_receipt
    world.session.commit()
    tampered = fresh(world, report)
    with pytest.raises(crypto.TamperedCiphertext):
        world.staff_keys(tampered, world.regional_member)
    with pytest.raises(crypto.WrongReceipt):
        world.child_keys(tampered, other_receipt)
    # The other report's keys, presented for this one, open none of its entries.
    with pytest.raises(crypto.TamperedCiphertext):
        reports.read_conversation(tampered, world.staff_keys(other, world.regional_member))
