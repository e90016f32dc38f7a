"""One Argon2id per new report and per receipt check (issue 17); reports sealed before (v1 receipt
blobs, two derivations) still open with their receipts through the same service calls."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from portal import crypto
from portal.crypto import envelope
from portal.enums import EntryKind
from portal.models import Report
from portal.services import intake, reports
from tests.worlds import World

TEXT = "Мені мектепте ұрады. Меня бьют в школе."


@contextmanager
def counted_derivations() -> Iterator[list[int]]:
    """Count the Argon2id derivations run in the block (through the kdf_bound hook)."""
    count = [0]

    def runner(derive: Callable[[], bytes]) -> bytes:
        count[0] += 1
        return derive()

    with crypto.derivations_run_by(runner):
        yield count


def reseal_as_v1(world: World, report: Report, receipt: str) -> None:
    """Give a report the receipt blob the code before v2 made: its own Argon2id, a random salt."""
    keys = world.staff_keys(report, world.regional_member)
    report.key_for_receipt = envelope.seal_under_kdf(
        envelope.KIND_RECEIPT_KEY,
        b"qr111/receipt/v1",
        receipt.encode("ascii"),
        world.config.kdf,
        keys.message_key,
        b"report|" + report.public_id.encode("ascii"),
    )
    world.session.commit()


def test_a_new_report_and_a_return_visit_cost_one_argon2id_each(world: World) -> None:
    with counted_derivations() as count:
        report, receipt = world.submit(world.regional_school, TEXT)
    assert count == [1]
    assert report.key_for_receipt is not None and report.key_for_receipt[0] == 2
    with counted_derivations() as count:
        view = intake.open_with_receipt(world.session, world.config, receipt)
    assert count == [1]
    assert view is not None and [entry.text for entry in view.entries] == [TEXT]


def test_a_wrong_receipt_costs_the_same_one_argon2id(world: World) -> None:
    _report, receipt = world.submit(world.regional_school, TEXT)
    wrong = receipt[:-1] + str((int(receipt[-1]) + 1) % 10)
    with counted_derivations() as count:
        assert intake.open_with_receipt(world.session, world.config, wrong) is None
    assert count == [1]
    with counted_derivations() as count:  # not 16 digits: refused before any derivation
        assert intake.open_with_receipt(world.session, world.config, "12345") is None
    assert count == [0]


def test_a_report_sealed_before_v2_still_opens_and_takes_follow_ups(world: World) -> None:
    report, receipt = world.submit(world.regional_school, TEXT)
    reseal_as_v1(world, report, receipt)
    assert report.key_for_receipt is not None and report.key_for_receipt[0] == 1
    with counted_derivations() as count:
        view = intake.open_with_receipt(world.session, world.config, receipt)
    assert count == [2]  # the lookup's, then the old blob's own
    assert view is not None and [entry.text for entry in view.entries] == [TEXT]
    view = intake.add_follow_up(world.session, view, "ещё")
    assert [entry.text for entry in view.entries] == [TEXT, "ещё"]
    staff = reports.read_conversation(report, world.staff_keys(report, world.regional_member))
    assert [(entry.kind, entry.text) for entry in staff] == [
        (EntryKind.CHILD, TEXT),
        (EntryKind.CHILD, "ещё"),
    ]


def test_a_report_sealed_for_its_inbox_only_has_no_receipt_and_costs_no_argon2id() -> None:
    inbox = crypto.generate_keypair()
    with counted_derivations() as count:
        sealed, keys = crypto.seal_report_for_inbox(inbox.public)
    assert count == [0]
    assert not hasattr(sealed, "key_for_receipt") and not hasattr(sealed, "receipt_lookup")
    opened = crypto.open_report_as_staff(sealed.key_for_inbox, inbox.private, sealed.report_id)
    assert opened == keys
