"""Blobs sealed by an earlier version of the code (tests/vectors/v1.json) must still open."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from portal import crypto
from tests.vectors.make_vectors import INPUTS, build_vectors

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "v1.json"


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
    assert crypto.receipt_lookup(inputs["receipt"], secret).hex() == expected["receipt_lookup"]
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
        bytes.fromhex(blobs["key_for_receipt"]), inputs["receipt"], report_id
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
def test_v1_vectors_still_open() -> None:
    vectors = json.loads(VECTORS.read_text(encoding="utf-8"))
    assert vectors["format_version"] == 1
    assert vectors["inputs"] == INPUTS  # the file and its generator agree
    check_vectors(vectors)


def test_freshly_generated_vectors_open() -> None:
    check_vectors(build_vectors())


@pytest.mark.production_kdf
def test_a_vector_with_one_byte_changed_fails() -> None:
    vectors = json.loads(VECTORS.read_text(encoding="utf-8"))
    message = bytearray.fromhex(vectors["blobs"]["messages"][0])
    message[-1] ^= 1
    vectors["blobs"]["messages"][0] = message.hex()
    with pytest.raises(crypto.TamperedCiphertext):
        check_vectors(vectors)
