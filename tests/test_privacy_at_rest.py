"""P1 at rest: no text, receipt, password or key typed into the portal is in what it stores:
the files of its instance folder and SQLite database, or a pg_dump of its PostgreSQL database and
its Redis keys."""

from __future__ import annotations

from sqlalchemy.orm import Session

from portal import crypto
from portal.enums import EntryKind
from portal.models import Report
from portal.services import reports
from portal.web.context import engine_of
from tests.conftest import found_in, stored_at_rest
from tests.worlds import World

# No word of the school registry ("мектеп" is in many school names): it is plain by design.
CANARIES = ["CANARY-қорқыныш-жасырын-7f3a", "CANARY-plain-ascii-only-91c4"]


def files_at_rest(world: World) -> dict[str, bytes]:
    """Everything stored, once all is committed: the SQLite file, or a dump of PostgreSQL."""
    world.session.close()
    stored = stored_at_rest(world.app)
    assert {"portal.sqlite3", "pg_dump"} & set(stored)
    return stored


def encodings(text: str) -> list[bytes]:
    return [text.encode(codec) for codec in ("utf-8", "utf-16-le", "utf-16-be")]


def write_conversation(world: World, canary: str) -> tuple[Report, str]:
    """A report holding the canary in the child's messages, a staff reply and a staff note."""
    report, receipt = world.submit(world.regional_school, canary)
    staff_keys = world.staff_keys(report, world.regional_member)
    reports.add_entry(world.session, report, staff_keys, EntryKind.STAFF, f"Re: {canary}")
    reports.add_entry(world.session, report, staff_keys, EntryKind.NOTE, f"{canary} (note)")
    child_keys = world.child_keys(report, receipt)
    reports.add_entry(world.session, report, child_keys, EntryKind.CHILD, canary * 3)
    return report, receipt


def test_no_canary_receipt_password_or_key_is_in_the_database_files(world: World) -> None:
    receipts: list[str] = []
    sealed: list[bytes | None] = []
    for canary in CANARIES:
        report, receipt = write_conversation(world, canary)
        receipts.append(receipt)
        sealed += [entry.sealed for entry in report.entries]
        # It was stored: the receipt finds it and the canary reads back, from another session.
        with Session(engine_of(world.app)) as other:
            found = world.find_by_receipt(receipt, other)
            assert found is not None and found.id == report.id
            keys = world.staff_keys(found, world.regional_member)
            opened = [entry.text for entry in reports.read_conversation(found, keys)]
        assert opened == [canary, f"Re: {canary}", f"{canary} (note)", canary * 3]
    held_keys = {
        "recovery key": world.recovery_private,
        "inbox key": world.inbox_key(world.regional, world.regional_member),
        "staff key": world.staff_key(world.regional_member),
    }
    totp = [world.regional_member.totp_secret, world.national_member.totp_secret]

    files = files_at_rest(world)

    # The sealed blobs are there: this is the right database, and it was written.
    assert all(blob and found_in(files, blob) for blob in sealed)
    for canary in CANARIES:
        for encoded in encodings(canary):
            assert not found_in(files, encoded), encoded
        raw = canary.encode("utf-8")
        pieces = {raw[start : start + 8] for start in range(len(raw) - 7)}
        assert not [piece for piece in pieces if found_in(files, piece)]
    for receipt in receipts:
        for form in (receipt, crypto.format_receipt(receipt)):
            for encoded in encodings(form):
                assert not found_in(files, encoded), form
    for password in (world.regional_member.password, world.national_member.password):
        for encoded in encodings(password):
            assert not found_in(files, encoded)
    for name, key in held_keys.items():
        assert not found_in(files, key), name
    for secret in totp:
        assert not found_in(files, secret.encode("ascii"))


def test_an_erased_reports_keys_and_blobs_are_gone_from_the_database_files(world: World) -> None:
    report, receipt = write_conversation(world, CANARIES[0])
    kept, _kept_receipt = write_conversation(world, CANARIES[1])
    destroyed = [report.key_for_inbox, report.key_for_receipt, report.receipt_lookup]
    destroyed += [entry.sealed for entry in report.entries]
    kept_blobs = [kept.key_for_inbox, *[entry.sealed for entry in kept.entries]]
    reports.erase_report(world.session, report)
    with Session(engine_of(world.app)) as other:
        if other.get_bind().dialect.name == "sqlite":
            # Deleted bytes are overwritten, not left in free space (SQLite's secure_delete).
            assert other.connection().exec_driver_sql("PRAGMA secure_delete").scalar() == 1
        assert world.find_by_receipt(receipt, other) is None

    files = files_at_rest(world)

    assert all(blob and found_in(files, blob) for blob in kept_blobs)
    for blob in destroyed:
        assert blob is not None and not found_in(files, blob)
