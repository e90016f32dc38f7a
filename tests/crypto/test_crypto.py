"""Unit tests of portal.crypto: round trips, every failure mode, tampering and truncation."""

from __future__ import annotations

import ast
import re
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from portal import crypto
from portal.crypto import (
    Author,
    CryptoError,
    InvalidInput,
    KdfParams,
    MalformedBlob,
    MisplacedMessage,
    TamperedCiphertext,
    UnknownVersion,
    WeakKdfParams,
    WrongKey,
    WrongPassword,
    WrongReceipt,
)
from portal.crypto.envelope import seal_envelope

CHEAP = KdfParams(memory_kib=64, iterations=1, lanes=1)
SECRET = b"s" * 32
RECEIPT = "0123456789012345"
PASSWORD = "correct horse battery staple"
REPORT_ID = "0f" * 16
OTHER_REPORT_ID = "a1" * 16
PACKAGE = Path(crypto.__file__).parent
PROD = crypto.PRODUCTION_KDF


@dataclass(frozen=True)
class Sample:
    """One blob of a kind and the call that opens it."""

    blob: bytes
    open: Callable[[bytes], object]


@pytest.fixture(scope="module")
def samples() -> dict[str, Sample]:
    """One blob of every kind, with the right key to open it."""
    staff, inbox = crypto.generate_keypair(), crypto.generate_keypair()
    stretched = crypto.stretch_receipt(RECEIPT, SECRET)
    sealed, keys = crypto.seal_report(inbox.public, RECEIPT, SECRET, report_id=REPORT_ID)
    message = crypto.seal_message(keys.message_key, REPORT_ID, 3, Author.CHILD, "помогите")
    note = crypto.seal_note(keys.notes_key, REPORT_ID, 4, "ескертпе")
    return {
        "private_key": Sample(
            crypto.seal_private_key(staff.private, PASSWORD, CHEAP),
            lambda blob: crypto.open_private_key(blob, PASSWORD),
        ),
        "grant": Sample(
            crypto.grant_inbox(inbox.private, staff.public, "national"),
            lambda blob: crypto.open_inbox_key(blob, staff.private, "national"),
        ),
        "key_for_inbox": Sample(
            sealed.key_for_inbox,
            lambda blob: crypto.open_report_as_staff(blob, inbox.private, REPORT_ID),
        ),
        "key_for_receipt": Sample(
            sealed.key_for_receipt,
            lambda blob: crypto.open_report_with_receipt(blob, stretched, REPORT_ID),
        ),
        "message": Sample(
            message, lambda blob: crypto.open_message(blob, keys.message_key, REPORT_ID, 3)
        ),
        "note": Sample(note, lambda blob: crypto.open_note(blob, keys.notes_key, REPORT_ID, 4)),
        "server_sealed": Sample(
            crypto.seal_with_server_key(SECRET, "totp", b"JBSWY3DP", context=b"a@b.kz"),
            lambda blob: crypto.open_with_server_key(SECRET, "totp", blob, context=b"a@b.kz"),
        ),
    }


KINDS = ["private_key", "grant", "key_for_inbox", "key_for_receipt", "message", "note"]
KINDS.append("server_sealed")


# ---- the blob formats under attack -----------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_every_sample_opens(samples: dict[str, Sample], kind: str) -> None:
    sample = samples[kind]
    assert sample.open(sample.blob)
    # Only the receipt's blob changed format (v2); the others stay v1, which older code reads.
    version = crypto.RECEIPT_KEY_VERSION if kind == "key_for_receipt" else crypto.FORMAT_VERSION
    assert sample.blob[0] == version


@pytest.mark.parametrize("kind", KINDS)
def test_a_flipped_bit_anywhere_is_refused(samples: dict[str, Sample], kind: str) -> None:
    sample = samples[kind]
    for index in range(len(sample.blob)):
        for mask in (0x01, 0x80):
            tampered = bytearray(sample.blob)
            tampered[index] ^= mask
            with pytest.raises(CryptoError):
                sample.open(bytes(tampered))


@pytest.mark.parametrize("kind", KINDS)
def test_truncated_or_extended_blobs_are_malformed(samples: dict[str, Sample], kind: str) -> None:
    sample = samples[kind]
    for length in range(len(sample.blob)):
        with pytest.raises(MalformedBlob):
            sample.open(sample.blob[:length])
    with pytest.raises(MalformedBlob):
        sample.open(sample.blob + b"\x00")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("version", [0, 3, 255])
def test_unknown_versions_are_refused(samples: dict[str, Sample], kind: str, version: int) -> None:
    blob = bytes([version]) + samples[kind].blob[1:]
    with pytest.raises(UnknownVersion):
        samples[kind].open(blob)


def test_kind_tags_are_distinct_and_checked(samples: dict[str, Sample]) -> None:
    tags = {name: sample.blob[1] for name, sample in samples.items()}
    assert tags["grant"] == tags["key_for_inbox"]  # both are X25519 key wraps
    assert len(set(tags.values())) == len(KINDS) - 1
    for name, sample in samples.items():
        for other in samples.values():
            if other.blob[1] != tags[name]:
                with pytest.raises((MalformedBlob, MisplacedMessage)):
                    sample.open(other.blob)


def test_note_and_message_are_never_confused(samples: dict[str, Sample]) -> None:
    with pytest.raises(MisplacedMessage):
        samples["message"].open(samples["note"].blob)
    with pytest.raises(MisplacedMessage):
        samples["note"].open(samples["message"].blob)


def test_absurd_kdf_params_in_a_blob_are_refused_before_any_work(
    samples: dict[str, Sample],
) -> None:
    blob = bytearray(samples["private_key"].blob)
    for offset, value in ((2, 0xFFFFFFFF), (6, 1000), (10, 64), (10, 0), (6, 0)):
        forged = bytearray(blob)
        forged[offset : offset + 4] = value.to_bytes(4, "big")
        started = time.perf_counter()
        with pytest.raises(MalformedBlob):
            crypto.open_private_key(bytes(forged), PASSWORD)
        assert time.perf_counter() - started < 0.5


# ---- keys ------------------------------------------------------------------------------------


def test_keypairs() -> None:
    pair, other = crypto.generate_keypair(), crypto.generate_keypair()
    assert len(pair.private) == len(pair.public) == 32
    assert crypto.public_key_of(pair.private) == pair.public
    assert pair.private != other.private and pair.public != other.public
    assert pair.private.hex() not in repr(pair)
    assert crypto.key_id(pair.public) == crypto.key_id(pair.public)
    assert len(crypto.key_id(pair.public)) == 8
    assert crypto.key_id(pair.public) != crypto.key_id(other.public)
    with pytest.raises(InvalidInput):
        crypto.public_key_of(b"short")
    with pytest.raises(ValueError):  # InvalidInput is also a ValueError
        crypto.key_id(b"x" * 31)


def test_private_key_sealed_under_a_password() -> None:
    pair = crypto.generate_keypair()
    blob = crypto.seal_private_key(pair.private, PASSWORD, CHEAP)
    assert crypto.open_private_key(blob, PASSWORD) == pair.private
    assert pair.private not in blob
    assert blob != crypto.seal_private_key(pair.private, PASSWORD, CHEAP)  # fresh salt, nonce
    with pytest.raises(WrongPassword):
        crypto.open_private_key(blob, PASSWORD + " ")
    with pytest.raises(InvalidInput):
        crypto.seal_private_key(pair.private, "", CHEAP)


def test_password_is_unicode_normalized() -> None:
    composed = "қауіпсіз-йога-2025"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    pair = crypto.generate_keypair()
    blob = crypto.seal_private_key(pair.private, composed, CHEAP)
    assert crypto.open_private_key(blob, decomposed) == pair.private


def test_kdf_params() -> None:
    crypto.PRODUCTION_KDF.check_production()
    assert (PROD.memory_kib, PROD.iterations, PROD.lanes) == (19456, 2, 1)
    KdfParams(65536, 3, 4).check_production()
    for weak in (KdfParams(19455, 2, 1), KdfParams(19456, 1, 1), CHEAP):
        with pytest.raises(WeakKdfParams):
            weak.check_production()
    for absurd in ((2 * 1024 * 1024, 2, 1), (19456, 11, 1), (19456, 2, 9), (19456, 0, 1)):
        with pytest.raises(InvalidInput):
            KdfParams(*absurd)
    with pytest.raises(InvalidInput):
        KdfParams(memory_kib=15, iterations=1, lanes=2)  # Argon2id needs 8 KiB per lane


@pytest.mark.parametrize("size", [1, 32, 64, 1000])
def test_wrap_round_trip(size: int) -> None:
    pair = crypto.generate_keypair()
    secret = bytes(range(256)) * 4
    blob = crypto.wrap_key(secret[:size], pair.public, b"ctx")
    assert crypto.unwrap_key(blob, pair.private, b"ctx") == secret[:size]
    assert crypto.wrap_key(secret[:size], pair.public, b"ctx") != blob  # ephemeral key, nonce


def test_wrap_refuses_another_key_and_another_context() -> None:
    pair, other = crypto.generate_keypair(), crypto.generate_keypair()
    blob = crypto.wrap_key(b"k" * 32, pair.public, b"report|1")
    with pytest.raises(WrongKey):
        crypto.unwrap_key(blob, other.private, b"report|1")
    for context in (b"report|2", b"", b"report|1 ", b"inbox|report|1"):
        with pytest.raises(TamperedCiphertext):
            crypto.unwrap_key(blob, pair.private, context)


def test_wrap_refuses_bad_input() -> None:
    pair = crypto.generate_keypair()
    with pytest.raises(InvalidInput):
        crypto.wrap_key(b"", pair.public, b"c")
    with pytest.raises(InvalidInput):
        crypto.wrap_key(b"k" * 32, bytes(32), b"c")  # a low-order point: no shared secret
    with pytest.raises(InvalidInput):
        crypto.wrap_key(b"k" * 32, pair.public[:31], b"c")


def test_low_order_ephemeral_key_is_tampering() -> None:
    pair = crypto.generate_keypair()
    blob = bytearray(crypto.wrap_key(b"k" * 32, pair.public, b"c"))
    blob[10:42] = bytes(32)
    with pytest.raises(TamperedCiphertext):
        crypto.unwrap_key(bytes(blob), pair.private, b"c")


def test_inbox_grants() -> None:
    inbox, alice, bob = (crypto.generate_keypair() for _ in range(3))
    grant = crypto.grant_inbox(inbox.private, alice.public, "Алматы")
    assert crypto.open_inbox_key(grant, alice.private, "Алматы") == inbox.private
    with pytest.raises(WrongKey):
        crypto.open_inbox_key(grant, bob.private, "Алматы")
    with pytest.raises(TamperedCiphertext):
        crypto.open_inbox_key(grant, alice.private, "national")
    with pytest.raises(InvalidInput):
        crypto.grant_inbox(inbox.private + b"x", alice.public, "Алматы")


def test_a_report_wrap_is_not_an_inbox_grant() -> None:
    inbox, alice = crypto.generate_keypair(), crypto.generate_keypair()
    sealed, _ = crypto.seal_report(inbox.public, RECEIPT, SECRET, report_id=REPORT_ID)
    with pytest.raises(TamperedCiphertext):
        crypto.open_inbox_key(sealed.key_for_inbox, inbox.private, "report")
    grant = crypto.grant_inbox(inbox.private, alice.public, REPORT_ID)
    with pytest.raises(TamperedCiphertext):
        crypto.open_report_as_staff(grant, alice.private, REPORT_ID)


def test_server_keys() -> None:
    key = crypto.derive_server_key("x" * 32, "receipt-lookup")
    assert len(key) == 32 and key == crypto.derive_server_key(b"x" * 32, "receipt-lookup")
    assert key != crypto.derive_server_key("x" * 32, "other")
    assert key != crypto.derive_server_key("y" * 32, "receipt-lookup")
    blob = crypto.seal_with_server_key("x" * 32, "totp", b"JBSWY3DP", context=b"a@b.kz")
    assert crypto.open_with_server_key("x" * 32, "totp", blob, context=b"a@b.kz") == b"JBSWY3DP"
    for secret, purpose, context in (
        ("y" * 32, "totp", b"a@b.kz"),
        ("x" * 32, "other", b"a@b.kz"),
        ("x" * 32, "totp", b"c@d.kz"),
    ):
        with pytest.raises(TamperedCiphertext):
            crypto.open_with_server_key(secret, purpose, blob, context=context)
    with pytest.raises(InvalidInput):
        crypto.derive_server_key("short", "totp")


def test_split_and_join() -> None:
    secret = crypto.generate_keypair().private
    cookie, server = crypto.split_secret(secret)
    assert len(cookie) == len(server) == 32
    assert bytes(a ^ b for a, b in zip(cookie, server, strict=True)) == secret
    assert crypto.join_secret(cookie, server) == secret
    assert secret not in (cookie, server)
    cookie2, server2 = crypto.split_secret(secret)
    assert cookie2 != cookie and server2 != server  # fresh pad every time
    assert crypto.join_secret(cookie2, server) != secret  # shares of two splits do not mix
    # An all-zero secret shows the pad itself: both shares are the same random bytes.
    zero_cookie, zero_server = crypto.split_secret(bytes(32))
    assert zero_cookie == zero_server and zero_cookie != bytes(32)
    with pytest.raises(MalformedBlob):
        crypto.join_secret(cookie, server[:-1])
    with pytest.raises(MalformedBlob):
        crypto.join_secret(b"", b"")
    with pytest.raises(InvalidInput):
        crypto.split_secret(b"")


def test_split_shares_look_uniform() -> None:
    # Each share alone is uniform whatever the secret: bit balance over many splits of 0xFF…
    ones = sum(
        bin(byte).count("1") for _ in range(200) for byte in crypto.split_secret(b"\xff" * 32)[1]
    )
    assert abs(ones / (200 * 32 * 8) - 0.5) < 0.03


# ---- receipts --------------------------------------------------------------------------------


def test_new_receipt() -> None:
    receipts = {crypto.new_receipt() for _ in range(500)}
    assert len(receipts) == 500
    assert all(re.fullmatch(r"[0-9]{16}", receipt) for receipt in receipts)
    assert {receipt[0] for receipt in receipts} == set("0123456789")  # leading zeros too


def test_format_receipt() -> None:
    assert crypto.format_receipt("0123456789012345") == "0123 4567 8901 2345"
    assert crypto.format_receipt("0123-4567-8901-2345") == "0123 4567 8901 2345"
    with pytest.raises(InvalidInput):
        crypto.format_receipt("123")


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("0123456789012345", RECEIPT),
        ("0123 4567 8901 2345", RECEIPT),
        ("  0123-4567-8901-2345\n", RECEIPT),
        ("0123\u00a04567\u202f8901\u20132345", RECEIPT),  # NBSP, narrow NBSP, en dash
        ("0123—4567−8901‐2345", RECEIPT),  # em dash, minus sign, hyphen
        ("０１２３ ４５６７ ８９０１ ２３４５", RECEIPT),  # full-width
        ("٠١٢٣٤٥٦٧٨٩٠١٢٣٤٥", RECEIPT),  # Arabic-Indic
        ("۰۱۲۳ ۴۵۶۷ ۸۹۰۱ ۲۳۴۵", RECEIPT),  # extended Arabic-Indic
        ("\u200e0123 4567 8901 2345\u200f", RECEIPT),  # direction marks from a paste
        ("0000000000000000", "0000000000000000"),
        ("012345678901234", None),
        ("01234567890123456", None),
        ("0123 4567 8901 234O", None),
        ("0123.4567.8901.2345", None),
        ("¹²³⁴0123456789012", None),  # superscripts are not decimal digits
        ("", None),
        ("-" * 100 + RECEIPT, None),
        ("0123_4567_8901_2345", None),
    ],
)
def test_parse_receipt(typed: str, expected: str | None) -> None:
    assert crypto.parse_receipt(typed) == expected


def test_receipt_lookup() -> None:
    lookup = crypto.receipt_lookup(RECEIPT, SECRET)
    assert len(lookup) == 32
    assert lookup == crypto.receipt_lookup("0123 4567 8901 2345", SECRET)
    assert lookup != crypto.receipt_lookup(RECEIPT, b"t" * 32)  # depends on the server secret
    assert lookup != crypto.receipt_lookup("0123456789012346", SECRET)
    assert RECEIPT.encode() not in lookup
    with pytest.raises(WrongReceipt):
        crypto.receipt_lookup("12345", SECRET)
    with pytest.raises(InvalidInput):
        crypto.receipt_lookup(RECEIPT, b"short")


@pytest.mark.production_kdf
def test_receipt_lookup_costs_an_argon2id_per_guess() -> None:
    started = time.perf_counter()
    crypto.receipt_lookup(RECEIPT, SECRET)
    assert crypto.RECEIPT_LOOKUP_KDF == crypto.PRODUCTION_KDF
    assert time.perf_counter() - started > 0.002  # an HMAC alone takes microseconds


# ---- reports and their conversation ----------------------------------------------------------


def test_new_report_id() -> None:
    ids = {crypto.new_report_id() for _ in range(100)}
    assert len(ids) == 100 and all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)


def test_seal_and_open_a_report() -> None:
    inbox = crypto.generate_keypair()
    sealed, keys = crypto.seal_report(inbox.public, RECEIPT, SECRET)
    assert re.fullmatch(r"[0-9a-f]{32}", sealed.report_id)
    assert sealed.receipt_lookup == crypto.receipt_lookup(RECEIPT, SECRET)
    assert len(keys.message_key) == len(keys.notes_key) == 32
    assert keys.message_key != keys.notes_key
    assert keys.message_key.hex() not in repr(keys)
    staff_keys = crypto.open_report_as_staff(sealed.key_for_inbox, inbox.private, sealed.report_id)
    assert staff_keys == keys
    stretched = crypto.stretch_receipt(RECEIPT, SECRET)
    assert stretched.lookup == sealed.receipt_lookup
    assert RECEIPT not in repr(stretched) and stretched.stretched.hex() not in repr(stretched)
    child_key = crypto.open_report_with_receipt(sealed.key_for_receipt, stretched, sealed.report_id)
    assert child_key == keys.message_key
    typed = crypto.stretch_receipt("0123-4567-8901-2345", SECRET)
    assert crypto.open_report_with_receipt(sealed.key_for_receipt, typed, sealed.report_id)


def test_report_refuses_wrong_receipt_key_or_report() -> None:
    inbox, other = crypto.generate_keypair(), crypto.generate_keypair()
    sealed, _ = crypto.seal_report(inbox.public, RECEIPT, SECRET, report_id=REPORT_ID)
    for receipt in ("0123456789012346", "9999999999999999"):
        with pytest.raises(WrongReceipt):
            crypto.open_report_with_receipt(
                sealed.key_for_receipt, crypto.stretch_receipt(receipt, SECRET), REPORT_ID
            )
    with pytest.raises(WrongReceipt):
        crypto.stretch_receipt("not a receipt", SECRET)
    stretched = crypto.stretch_receipt(RECEIPT, SECRET)
    with pytest.raises(WrongReceipt):  # the receipt blob is bound to its report
        crypto.open_report_with_receipt(sealed.key_for_receipt, stretched, OTHER_REPORT_ID)
    with pytest.raises(WrongReceipt):  # and to the server secret (T's salt comes from it)
        crypto.open_report_with_receipt(
            sealed.key_for_receipt, crypto.stretch_receipt(RECEIPT, b"t" * 32), REPORT_ID
        )
    with pytest.raises(WrongKey):
        crypto.open_report_as_staff(sealed.key_for_inbox, other.private, REPORT_ID)
    with pytest.raises(TamperedCiphertext):
        crypto.open_report_as_staff(sealed.key_for_inbox, inbox.private, OTHER_REPORT_ID)


def test_seal_report_refuses_bad_input() -> None:
    inbox = crypto.generate_keypair()
    with pytest.raises(InvalidInput):
        crypto.seal_report(inbox.public, "123", SECRET)
    for bad_id in ("0F" * 16, "0f" * 15, "xyz", ""):
        with pytest.raises(InvalidInput):
            crypto.seal_report(inbox.public, RECEIPT, SECRET, report_id=bad_id)


def test_the_receipt_never_opens_the_notes_key() -> None:
    inbox = crypto.generate_keypair()
    sealed, keys = crypto.seal_report(inbox.public, RECEIPT, SECRET, report_id=REPORT_ID)
    # The receipt blob holds one 32-byte key: header 2 + nonce 12 + key 32 + tag 16.
    assert len(sealed.key_for_receipt) == 62
    stretched = crypto.stretch_receipt(RECEIPT, SECRET)
    child_key = crypto.open_report_with_receipt(sealed.key_for_receipt, stretched, REPORT_ID)
    assert child_key != keys.notes_key
    note = crypto.seal_note(keys.notes_key, REPORT_ID, 1, "staff only")
    with pytest.raises(TamperedCiphertext):
        crypto.open_note(note, child_key, REPORT_ID, 1)


@pytest.mark.parametrize("text", ["", "a", "Мені ұрады 😢", "x" * 5000, "line\nbreak\ttab"])
def test_message_and_note_round_trip(text: str) -> None:
    key, notes = b"m" * 32, b"n" * 32
    for author in Author:
        blob = crypto.seal_message(key, REPORT_ID, 7, author, text)
        assert crypto.open_message(blob, key, REPORT_ID, 7) == crypto.OpenedMessage(author, text)
    assert (
        crypto.open_note(crypto.seal_note(notes, REPORT_ID, 8, text), notes, REPORT_ID, 8) == text
    )


def test_texts_are_padded_to_a_handful_of_size_classes() -> None:
    key = b"m" * 32
    # Up to 255 bytes of text (+ one padding marker byte) all seal to the same size.
    sizes = {len(crypto.seal_message(key, REPORT_ID, 0, Author.CHILD, "x" * n)) for n in range(256)}
    assert sizes == {27 + 12 + 256 + 16}
    assert (
        len(crypto.seal_message(key, REPORT_ID, 0, Author.CHILD, "x" * 256)) == 27 + 12 + 512 + 16
    )
    # Every text a form accepts (5000 characters, of any script) lands in one of 8 classes.
    longest = 4 * 5000
    classes = {crypto.padded_size(size) for size in range(longest + 1)}
    assert classes == set(crypto.PAD_CLASSES) and len(classes) == 8
    assert all(crypto.padded_size(size) < 2 * (size + 1) for size in range(256, longest + 1))
    assert crypto.padded_size(40_000) == 2 * crypto.PAD_CLASSES[-1]  # beyond: whole largest steps


def test_texts_padded_to_128_byte_steps_still_open() -> None:
    key = b"m" * 32
    old = crypto.seal_message(key, REPORT_ID, 0, Author.CHILD, "x" * 100)
    # Re-seal its padded plaintext as v1 code did (128-byte step) under the same header layout.
    text = b"x" * 100 + b"\x80" + bytes(27)
    header = bytes(old[:23]) + len(text).to_bytes(4, "big")
    legacy = seal_envelope(key, header, text)
    assert len(legacy) == 27 + 12 + 128 + 16
    assert crypto.open_message(legacy, key, REPORT_ID, 0).text == "x" * 100


def test_misplaced_messages_are_refused() -> None:
    key = b"m" * 32
    blob = crypto.seal_message(key, REPORT_ID, 2, Author.STAFF, "reply")
    with pytest.raises(MisplacedMessage):
        crypto.open_message(blob, key, OTHER_REPORT_ID, 2)
    with pytest.raises(MisplacedMessage):
        crypto.open_message(blob, key, REPORT_ID, 3)
    # Rewriting the header to fit another slot breaks the AEAD: the header is the AAD.
    moved = bytearray(blob)
    moved[3:7] = (3).to_bytes(4, "big")
    with pytest.raises(TamperedCiphertext):
        crypto.open_message(bytes(moved), key, REPORT_ID, 3)
    moved = bytearray(blob)
    moved[2] = 1  # staff -> child
    with pytest.raises(TamperedCiphertext):
        crypto.open_message(bytes(moved), key, REPORT_ID, 2)


def test_messages_refuse_wrong_key_and_bad_input() -> None:
    blob = crypto.seal_message(b"m" * 32, REPORT_ID, 0, Author.CHILD, "hi")
    with pytest.raises(TamperedCiphertext):
        crypto.open_message(blob, b"o" * 32, REPORT_ID, 0)
    with pytest.raises(InvalidInput):
        crypto.open_message(blob, b"m" * 16, REPORT_ID, 0)  # an AES-128 key is not accepted
    with pytest.raises(InvalidInput):
        crypto.seal_message(b"m" * 32, REPORT_ID, -1, Author.CHILD, "hi")
    with pytest.raises(InvalidInput):
        crypto.seal_note(b"m" * 32, REPORT_ID, 2**32, "hi")


def test_a_derivation_runner_computes_the_same_key_and_only_within_its_block() -> None:
    derive = crypto.envelope.derive_argon2
    salt = bytes(16)
    plain = derive(b"1234 5678", salt, CHEAP, b"purpose")
    computed: list[bytes] = []

    def runner(work: Callable[[], bytes]) -> bytes:
        computed.append(work())
        return computed[-1]

    with crypto.derivations_run_by(runner):
        assert derive(b"1234 5678", salt, CHEAP, b"purpose") == plain
    assert computed == [plain]
    derive(b"1234 5678", salt, CHEAP, b"purpose")
    assert len(computed) == 1, "the runner was left in place after its block"


@pytest.mark.parametrize(
    ("secret", "salt", "params", "purpose"),
    [
        (b"1234567890123456", bytes(range(16)), CHEAP, b"qr111/receipt-lookup/v1"),
        (b"", b"8 bytes!", CHEAP, b""),  # empty password and purpose: NULL pointers
        ("пароль".encode(), b"s" * 32, KdfParams(memory_kib=256, iterations=3, lanes=2), b"x"),
        (b"1234 5678", bytes(16), KdfParams(memory_kib=64, iterations=1, lanes=4), b"p" * 300),
    ],
)
def test_argon2id_is_cryptographys_bit_for_bit(
    secret: bytes, salt: bytes, params: KdfParams, purpose: bytes
) -> None:
    """argon2-cffi computes what cryptography's Argon2id computed before (and the vectors
    made with it): the same key from the same input, lanes and associated data included."""
    from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

    expected = Argon2id(
        salt=salt,
        length=32,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_kib,
        ad=purpose or None,
    ).derive(secret)
    assert crypto.envelope.derive_argon2(secret, salt, params, purpose) == expected


@pytest.mark.production_kdf
def test_argon2id_at_the_production_cost_is_cryptographys() -> None:
    from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

    salt = bytes(range(16))
    expected = Argon2id(
        salt=salt, length=32, iterations=2, lanes=1, memory_cost=19456, ad=b"qr111/password/v1"
    ).derive(b"correct horse")
    derived = crypto.envelope.derive_argon2(
        b"correct horse", salt, crypto.PRODUCTION_KDF, b"qr111/password/v1"
    )
    assert derived == expected


def test_argon2id_refuses_what_libargon2_refuses() -> None:
    with pytest.raises(InvalidInput, match="Argon2id"):
        crypto.envelope.derive_argon2(b"x", b"short", CHEAP, b"p")  # a salt under 8 bytes


# ---- the code itself -------------------------------------------------------------------------


def test_the_package_imports_only_what_it_may() -> None:
    allowed = {"__future__", "dataclasses", "enum", "hashlib", "hmac", "secrets", "struct"}
    allowed |= {"typing", "unicodedata", "cryptography", "portal"}
    # Argon2id only (envelope._argon2id): the same function as cryptography's, less CPU.
    allowed |= {"argon2"}
    # Plumbing of the derivation runner (kdf_bound's low-priority thread): no I/O, no randomness.
    allowed |= {"collections", "contextlib", "contextvars", "functools"}
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name} imports {name}"
                if name.startswith("portal"):
                    assert name.startswith("portal.crypto"), f"{path.name} imports {name}"


def test_randomness_comes_from_secrets_only() -> None:
    source = "\n".join(path.read_text(encoding="utf-8") for path in PACKAGE.glob("*.py"))
    assert "import random" not in source and "os.urandom" not in source
    assert ".generate()" not in source  # key pairs are made from secrets.token_bytes
