"""The whole key hierarchy end to end: staff, inboxes, a report, erasure, and data at rest."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest

from portal import crypto
from portal.crypto import Author, CryptoError, KdfParams

CHEAP = KdfParams(memory_kib=64, iterations=1, lanes=1)
SECRET = b"server-secret-" + b"x" * 32
CANARY = "CANARY-отличный-мектеп-7f3a"


@dataclass
class World:
    """Everything the database would hold after a short conversation, and what people know."""

    recovery: crypto.KeyPair
    inbox: crypto.KeyPair
    passwords: dict[str, str]
    stored: dict[str, bytes]  # name -> blob, as the database would keep them
    receipt: str
    report_id: str
    positions: dict[str, int]


def build_world(text: str) -> World:
    """Make the recovery key, an inbox, two staff, and a report with messages and a note."""
    recovery, inbox = crypto.generate_keypair(), crypto.generate_keypair()
    passwords = {"aigerim": "Айгерім-құпия-сөз-1", "daniyar": "correct horse battery"}
    stored: dict[str, bytes] = {}
    for name, password in passwords.items():
        pair = crypto.generate_keypair()
        stored[f"staff/{name}/public"] = pair.public
        stored[f"staff/{name}/sealed_private"] = crypto.seal_private_key(
            pair.private, password, CHEAP
        )
        stored[f"grant/{name}"] = crypto.grant_inbox(inbox.private, pair.public, "Алматы")
    stored["grant/recovery"] = crypto.grant_inbox(inbox.private, recovery.public, "Алматы")
    receipt = crypto.new_receipt()
    sealed, keys = crypto.seal_report(inbox.public, receipt, SECRET)
    stored["report/receipt_lookup"] = sealed.receipt_lookup
    stored["report/key_for_inbox"] = sealed.key_for_inbox
    stored["report/key_for_receipt"] = sealed.key_for_receipt
    rid = sealed.report_id
    stored["entry/0"] = crypto.seal_message(keys.message_key, rid, 0, Author.CHILD, text)
    stored["entry/1"] = crypto.seal_message(keys.message_key, rid, 1, Author.STAFF, f"Re: {text}")
    stored["entry/2"] = crypto.seal_note(keys.notes_key, rid, 2, f"note: {text}")
    stored["entry/3"] = crypto.seal_message(keys.message_key, rid, 3, Author.CHILD, text * 3)
    positions = {"entry/0": 0, "entry/1": 1, "entry/2": 2, "entry/3": 3}
    return World(recovery, inbox, passwords, stored, receipt, rid, positions)


def staff_reads(world: World, name: str) -> list[str]:
    """What a staff member reads: password -> private key -> grant -> report keys -> entries."""
    stored = world.stored
    private = crypto.open_private_key(stored[f"staff/{name}/sealed_private"], world.passwords[name])
    inbox_private = crypto.open_inbox_key(stored[f"grant/{name}"], private, "Алматы")
    keys = crypto.open_report_as_staff(
        stored["report/key_for_inbox"], inbox_private, world.report_id
    )
    texts = []
    for entry, position in world.positions.items():
        if position == 2:
            texts.append(crypto.open_note(stored[entry], keys.notes_key, world.report_id, 2))
        else:
            opened = crypto.open_message(stored[entry], keys.message_key, world.report_id, position)
            texts.append(opened.text)
    return texts


def child_reads(world: World, typed_receipt: str) -> list[crypto.OpenedMessage]:
    """What the child reads: receipt -> lookup -> message key -> messages (never the note)."""
    receipt = crypto.parse_receipt(typed_receipt)
    assert receipt is not None
    stretched = crypto.stretch_receipt(receipt, SECRET)  # the one Argon2id of a return visit
    assert stretched.lookup == world.stored["report/receipt_lookup"]
    key = crypto.open_report_with_receipt(
        world.stored["report/key_for_receipt"], stretched, world.report_id
    )
    return [
        crypto.open_message(world.stored[entry], key, world.report_id, position)
        for entry, position in world.positions.items()
        if position != 2
    ]


def test_full_flow_then_erasure() -> None:
    world = build_world("Мені мектепте ұрады")
    expected = ["Мені мектепте ұрады", "Re: Мені мектепте ұрады", "note: Мені мектепте ұрады"]
    expected.append("Мені мектепте ұрады" * 3)
    assert staff_reads(world, "aigerim") == expected
    assert staff_reads(world, "daniyar") == expected
    typed = crypto.format_receipt(world.receipt)
    assert [m.author for m in child_reads(world, typed)] == [
        Author.CHILD,
        Author.STAFF,
        Author.CHILD,
    ]
    assert [m.text for m in child_reads(world, typed)] == [expected[0], expected[1], expected[3]]
    # The recovery key reaches the inbox key, and through it the report.
    inbox_private = crypto.open_inbox_key(
        world.stored["grant/recovery"], world.recovery.private, "Алматы"
    )
    assert inbox_private == world.inbox.private
    # A wrong password, or a member's key on another member's grant, opens nothing.
    with pytest.raises(crypto.WrongPassword):
        crypto.open_private_key(world.stored["staff/aigerim/sealed_private"], "daniyar")
    aigerim = crypto.open_private_key(
        world.stored["staff/aigerim/sealed_private"], world.passwords["aigerim"]
    )
    with pytest.raises(crypto.WrongKey):
        crypto.open_inbox_key(world.stored["grant/daniyar"], aigerim, "Алматы")

    # Erasure: the lead deletes the two wrapped report keys (and the lookup).
    for name in ("report/key_for_inbox", "report/key_for_receipt", "report/receipt_lookup"):
        del world.stored[name]
    with pytest.raises(KeyError):
        staff_reads(world, "aigerim")
    with pytest.raises(KeyError):
        child_reads(world, world.receipt)
    # What remains opens with no key anyone still holds: every long-lived key, every secret.
    daniyar = crypto.open_private_key(
        world.stored["staff/daniyar/sealed_private"], world.passwords["daniyar"]
    )
    held = [aigerim, daniyar, world.inbox.private, world.recovery.private]
    held += [world.inbox.public, world.recovery.public, SECRET[:32]]
    held += [crypto.derive_server_key(SECRET, "receipt-lookup")]
    held += [crypto.key_id(world.inbox.public) * 4, world.receipt.encode() * 2]
    assert all(len(key) == 32 for key in held)  # every one a well-formed AES-256 key
    for entry, position in world.positions.items():
        blob = world.stored[entry]
        for key in held:
            with pytest.raises(crypto.TamperedCiphertext):
                if position == 2:
                    crypto.open_note(blob, key, world.report_id, position)
                else:
                    crypto.open_message(blob, key, world.report_id, position)
            with pytest.raises(CryptoError):  # nor as the other kind
                if position == 2:
                    crypto.open_message(blob, key, world.report_id, position)
                else:
                    crypto.open_note(blob, key, world.report_id, position)


def test_nothing_readable_at_rest(tmp_path: Path) -> None:
    world = build_world(CANARY)
    path = tmp_path / "rest.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB NOT NULL)")
        db.executemany("INSERT INTO blobs (data) VALUES (?)", [(b,) for b in world.stored.values()])
    db.close()
    raw = path.read_bytes()
    assert len(raw) > sum(len(blob) for blob in world.stored.values())  # the blobs are in there
    canary = CANARY.encode("utf-8")
    assert canary not in raw and CANARY.encode("utf-16-le") not in raw
    windows = {canary[start : start + 8] for start in range(len(canary) - 7)}
    assert not [window for window in windows if window in raw]
    for form in (world.receipt, crypto.format_receipt(world.receipt)):
        assert form.encode("ascii") not in raw and form.encode("utf-16-le") not in raw
    for password in world.passwords.values():
        assert password.encode("utf-8") not in raw
    assert world.inbox.private not in raw and world.recovery.private not in raw
