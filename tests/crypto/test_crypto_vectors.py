"""Blobs sealed by earlier versions of the code (tests/vectors/v1.json, v2.json) must still open
with today's code: v1's receipt blob (its own Argon2id) as well as v2's (the lookup's)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from portal import crypto
from tests.vectors.make_vectors import INPUTS, build_vectors

VECTORS = Path(__file__).resolve().parents[1] / "vectors"


def frozen(version: int) -> dict[str, Any]:
    """The vector set a version of the code wrote (never regenerated)."""
    vectors: dict[str, Any] = json.loads((VECTORS / f"v{version}.json").read_text("utf-8"))
    return vectors


def check_vectors(vectors: dict[str, Any]) -> None:
    """Open every blob of a vector set and compare with the expected plaintexts."""
    inputs, blobs, expected = vectors["inputs"], vectors["blobs"], vectors["expected"]
    secret = bytes.fromhex(inputs["server_secret"])
    report_id, inbox_id = inputs["report_id"], inputs["inbox_id"]
    members = [bytes.fromhex(inputs["recovery_private"])]
    members += [bytes.fromhex(staff["private"]) for staff in inputs["staff"]]
    assert [crypto.public_key_of(m).hex() for m in members] == expected["public_keys"]
    keys_ids = [crypto.key_id(crypto.public_key_of(m)).hex() for m in members]
    assert keys_ids == expected["key_ids"]
    # Deterministic derivations must not change either: stored lookups would stop matching.
    receipt = crypto.stretch_receipt(inputs["receipt"], secret)
    assert receipt.lookup.hex() == expected["receipt_lookup"]
    lookup_key = crypto.derive_server_key(secret, "receipt-lookup").hex()
    assert lookup_key == expected["server_key_receipt_lookup"]

    for staff, blob in zip(inputs["staff"], blobs["sealed_private_keys"], strict=True):
        private = crypto.open_private_key(bytes.fromhex(blob), staff["password"])
        assert private.hex() == staff["private"]
    for member, grant in zip(members, blobs["grants"], strict=True):
        inbox_key = crypto.open_inbox_key(bytes.fromhex(grant), member, inbox_id)
        assert inbox_key.hex() == inputs["inbox_private"]
    inbox_private = bytes.fromhex(inputs["inbox_private"])
    keys = crypto.open_report_as_staff(
        bytes.fromhex(blobs["key_for_inbox"]), inbox_private, report_id
    )
    assert (keys.message_key.hex(), keys.notes_key.hex()) == (
        expected["message_key"],
        expected["notes_key"],
    )
    child_key = crypto.open_report_with_receipt(
        bytes.fromhex(blobs["key_for_receipt"]), receipt, report_id
    )
    assert child_key == keys.message_key
    for message, blob in zip(inputs["messages"], blobs["messages"], strict=True):
        opened = crypto.open_message(bytes.fromhex(blob), child_key, report_id, message["position"])
        assert (opened.author.value, opened.text) == (message["author"], message["text"])
    for note, blob in zip(inputs["notes"], blobs["notes"], strict=True):
        text = crypto.open_note(bytes.fromhex(blob), keys.notes_key, report_id, note["position"])
        assert text == note["text"]
    server = inputs["server_sealed"]
    plaintext = crypto.open_with_server_key(
        secret,
        server["purpose"],
        bytes.fromhex(blobs["server_sealed"]),
        context=server["context"].encode(),
    )
    assert plaintext.decode() == server["plaintext"]


@pytest.mark.production_kdf
@pytest.mark.parametrize("version", [1, 2])
def test_frozen_vectors_still_open(version: int) -> None:
    vectors = frozen(version)
    assert vectors["format_version"] == version
    assert vectors["inputs"] == INPUTS  # the files and the generator agree
    # v1's receipt blob has its own Argon2id and salt (90 bytes), v2's none (62 bytes).
    receipt_blob = bytes.fromhex(vectors["blobs"]["key_for_receipt"])
    assert (receipt_blob[0], len(receipt_blob)) == ((1, 90) if version == 1 else (2, 62))
    check_vectors(vectors)


@pytest.mark.production_kdf
def test_the_lookup_did_not_change_from_v1_to_v2() -> None:
    """A report sealed before v2 is still found by its receipt: no stored lookup to migrate."""
    assert frozen(1)["expected"]["receipt_lookup"] == frozen(2)["expected"]["receipt_lookup"]


def test_new_code_writes_the_newest_version() -> None:
    vectors = build_vectors()
    assert vectors["format_version"] == 2
    assert bytes.fromhex(vectors["blobs"]["key_for_receipt"])[0] == 2


def test_freshly_generated_vectors_open() -> None:
    check_vectors(build_vectors())


@pytest.mark.production_kdf
def test_a_vector_with_one_byte_changed_fails() -> None:
    vectors = frozen(1)
    message = bytearray.fromhex(vectors["blobs"]["messages"][0])
    message[-1] ^= 1
    vectors["blobs"]["messages"][0] = message.hex()
    with pytest.raises(crypto.TamperedCiphertext):
        check_vectors(vectors)
