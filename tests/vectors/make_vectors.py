"""Generate tests/vectors/v2.json: fixed inputs and the blobs today's code makes from them.

Run by hand only when adding a format version (never to "fix" a failing vector test: old
blobs in real databases must keep opening):  .venv/bin/python -m tests.vectors.make_vectors
v1.json was made the same way by the code before key_for_receipt v2; it stays as it is. Run
it without the tests' cheap fixture: the receipt's Argon2id is at RECEIPT_LOOKUP_KDF.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from portal import crypto

# The newest blob version the code writes (key_for_receipt v2; texts in size classes).
VERSION = max(crypto.FORMAT_VERSION, crypto.RECEIPT_KEY_VERSION)
OUTPUT = Path(__file__).with_name(f"v{VERSION}.json")
CHEAP = crypto.KdfParams(memory_kib=64, iterations=1, lanes=1)

INPUTS: dict[str, Any] = {
    "kdf": {"memory_kib": CHEAP.memory_kib, "iterations": CHEAP.iterations, "lanes": CHEAP.lanes},
    "recovery_private": "a0" * 31 + "01",
    "inbox_private": "b1" * 31 + "02",
    "staff": [
        {"private": "c2" * 31 + "03", "password": "correct horse battery staple"},
        {"private": "d3" * 31 + "04", "password": "Құпия сөз — пароль 2025"},
    ],
    "inbox_id": "Алматы облысы",
    "receipt": "0123456789012345",
    "server_secret": "5e" * 32,
    "report_id": "00112233445566778899aabbccddeeff",
    "messages": [
        {"position": 0, "author": "child", "text": "Мені мектепте ұрады. Помогите, пожалуйста."},
        {"position": 1, "author": "staff", "text": "Мы вас слышим. Сіз қауіпсізсіз бе?"},
        {"position": 3, "author": "child", "text": ""},
    ],
    "notes": [{"position": 2, "text": "Call the school psychologist; проверить 102."}],
    "server_sealed": {
        "purpose": "staff-totp",
        "context": "staff@example.kz",
        "plaintext": "JBSWY3DP",
    },
}


def build_vectors() -> dict[str, Any]:
    """Seal every input with the current code; return inputs, blobs and expected values (hex)."""
    inputs = INPUTS
    params = crypto.KdfParams(**inputs["kdf"])
    secret = bytes.fromhex(inputs["server_secret"])
    inbox_private = bytes.fromhex(inputs["inbox_private"])
    members = [bytes.fromhex(inputs["recovery_private"])]
    members += [bytes.fromhex(staff["private"]) for staff in inputs["staff"]]
    sealed, keys = crypto.seal_report(
        crypto.public_key_of(inbox_private),
        inputs["receipt"],
        secret,
        report_id=inputs["report_id"],
    )
    report_id = sealed.report_id
    server = inputs["server_sealed"]
    return {
        "format_version": VERSION,
        "inputs": inputs,
        "expected": {
            "public_keys": [crypto.public_key_of(member).hex() for member in members],
            "key_ids": [crypto.key_id(crypto.public_key_of(member)).hex() for member in members],
            "receipt_lookup": sealed.receipt_lookup.hex(),
            "message_key": keys.message_key.hex(),
            "notes_key": keys.notes_key.hex(),
            "server_key_receipt_lookup": crypto.derive_server_key(secret, "receipt-lookup").hex(),
        },
        "blobs": {
            "sealed_private_keys": [
                crypto.seal_private_key(bytes.fromhex(s["private"]), s["password"], params).hex()
                for s in inputs["staff"]
            ],
            "grants": [
                crypto.grant_inbox(
                    inbox_private, crypto.public_key_of(member), inputs["inbox_id"]
                ).hex()
                for member in members
            ],
            "key_for_inbox": sealed.key_for_inbox.hex(),
            "key_for_receipt": sealed.key_for_receipt.hex(),
            "messages": [
                crypto.seal_message(
                    keys.message_key,
                    report_id,
                    m["position"],
                    crypto.Author(m["author"]),
                    m["text"],
                ).hex()
                for m in inputs["messages"]
            ],
            "notes": [
                crypto.seal_note(keys.notes_key, report_id, n["position"], n["text"]).hex()
                for n in inputs["notes"]
            ],
            "server_sealed": crypto.seal_with_server_key(
                secret,
                server["purpose"],
                server["plaintext"].encode(),
                context=server["context"].encode(),
            ).hex(),
        },
    }


def main() -> None:
    """Write the newest version's vectors beside this file."""
    text = json.dumps(build_vectors(), ensure_ascii=False, indent=2)
    OUTPUT.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
