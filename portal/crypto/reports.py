"""Receipts, a report's data keys, and its sealed conversation (messages and staff notes)."""

from __future__ import annotations

import hmac
import secrets
import struct
import unicodedata
from dataclasses import dataclass, field
from enum import StrEnum

from portal.crypto.envelope import (
    FORMAT_VERSION,
    KEY_BYTES,
    KIND_MESSAGE,
    KIND_NOTE,
    KIND_RECEIPT_KEY,
    PRODUCTION_KDF,
    SALT_BYTES,
    CryptoError,
    InvalidInput,
    MalformedBlob,
    MisplacedMessage,
    TamperedCiphertext,
    WrongReceipt,
    check_key,
    check_length,
    derive_argon2,
    derive_hkdf,
    open_envelope,
    open_under_kdf,
    read_header,
    seal_envelope,
    server_secret_bytes,
)
from portal.crypto.keys import unwrap_key, wrap_key

RECEIPT_DIGITS = 16
REPORT_ID_BYTES = 16
# Texts are padded to one of these sizes (bytes, the 0x80 marker included), the last repeated
# beyond: 5000 characters of Cyrillic fill 10 KB, of emoji 20 KB. Each class tells the length
# only within a factor of two (docs/crypto.md, "Sizes").
PAD_CLASSES = (256, 512, 1024, 2048, 4096, 8192, 16384, 32768)
# key_for_receipt v2 (a receipt's one Argon2id) is the only kind whose format changed; every
# other blob is still written as version 1 (FORMAT_VERSION), so older code still reads them.
RECEIPT_KEY_VERSION = 2
LEGACY_RECEIPT_KEY_VERSION = 1  # its own Argon2id with a per-report salt; opened, never sealed
RECEIPT_KEY_HEADER = struct.Struct(">BB")  # version, kind
TEXT_HEADER = struct.Struct(">BBBI16sI")  # version, kind, author, position, report id, length
# Fixed for the life of a database: changing it makes every stored receipt lookup unfindable.
RECEIPT_LOOKUP_KDF = PRODUCTION_KDF

_ARGON2_RECEIPT = b"qr111/receipt/v1"
_ARGON2_LOOKUP = b"qr111/receipt-lookup/v1"
_HKDF_RECEIPT_KEY = b"qr111/receipt-key/v2|"


@dataclass(frozen=True)
class ReportKeys:
    """A report's two data keys; kept in memory only."""

    message_key: bytes = field(repr=False)
    notes_key: bytes = field(repr=False)


@dataclass(frozen=True)
class InboxSealedReport:
    """What is stored of a report sealed for its inbox only: no receipt can ever open it."""

    report_id: str
    key_for_inbox: bytes


@dataclass(frozen=True)
class SealedReport(InboxSealedReport):
    """What is stored of a new report's keys: a lookup hash and two wrapped keys."""

    receipt_lookup: bytes
    key_for_receipt: bytes


@dataclass(frozen=True)
class StretchedReceipt:
    """A receipt after its one Argon2id: the lookup that finds its report and what opens it."""

    digits: bytes = field(repr=False)
    stretched: bytes = field(repr=False)  # T: never stored, never logged
    lookup: bytes


class Author(StrEnum):
    """Who wrote a message of the conversation."""

    CHILD = "child"
    STAFF = "staff"


_AUTHOR_CODES = {Author.CHILD: 1, Author.STAFF: 2}
_AUTHORS = {code: author for author, code in _AUTHOR_CODES.items()}
_NOTE_AUTHOR = 0


@dataclass(frozen=True)
class OpenedMessage:
    """A decrypted message and its (authenticated) author."""

    author: Author
    text: str


# ---- receipts ------------------------------------------------------------------------------


def new_receipt() -> str:
    """Draw a receipt: 16 uniformly random decimal digits (about 53 bits)."""
    return f"{secrets.randbelow(10**RECEIPT_DIGITS):0{RECEIPT_DIGITS}d}"


def format_receipt(receipt: str) -> str:
    """Group a receipt's digits by four for display: '0123 4567 8901 2345'."""
    digits = _receipt_bytes(receipt, InvalidInput).decode("ascii")
    return " ".join(digits[start : start + 4] for start in range(0, RECEIPT_DIGITS, 4))


def parse_receipt(typed: str) -> str | None:
    """Read a typed receipt (any spacing, dashes, any script's digits); None unless 16 digits."""
    if len(typed) > 4 * RECEIPT_DIGITS:  # bounded work on hostile input
        return None
    digits: list[str] = []
    for char in typed:
        value = unicodedata.decimal(char, None)
        if value is not None:
            digits.append(str(value))
        elif not (char.isspace() or char == "\u2212" or unicodedata.category(char) in ("Pd", "Cf")):
            return None
    return "".join(digits) if len(digits) == RECEIPT_DIGITS else None


def _receipt_bytes(receipt: str, error: type[CryptoError] = WrongReceipt) -> bytes:
    digits = parse_receipt(receipt)
    if digits is None:
        raise error("not a 16-digit receipt")
    return digits.encode("ascii")


def stretch_receipt(receipt: str, server_secret: bytes) -> StretchedReceipt:
    """Run a receipt's one Argon2id (salted from the server secret): its lookup and its key."""
    digits = _receipt_bytes(receipt)
    secret = server_secret_bytes(server_secret)
    # Argon2id first: even with the server secret each guess costs an Argon2id, not an HMAC.
    # Its salt comes from the secret: without it nobody can start guessing, lookup or key.
    salt = hmac.digest(secret, b"receipt-lookup-salt|v1", "sha256")[:SALT_BYTES]
    stretched = derive_argon2(digits, salt, RECEIPT_LOOKUP_KDF, _ARGON2_LOOKUP)
    lookup = hmac.digest(secret, b"receipt-lookup|v1|" + stretched, "sha256")
    return StretchedReceipt(digits=digits, stretched=stretched, lookup=lookup)


def receipt_lookup(receipt: str, server_secret: bytes) -> bytes:
    """Hash a receipt for finding its report: HMAC-SHA256 over Argon2id, keyed by the server."""
    return stretch_receipt(receipt, server_secret).lookup


def _receipt_wrapping_key(receipt: StretchedReceipt, report_id: str) -> bytes:
    # HKDF, not another Argon2id: T is already stretched, and per report id a different key.
    return derive_hkdf(receipt.stretched, _HKDF_RECEIPT_KEY + report_id.encode("ascii"))


# ---- report keys ---------------------------------------------------------------------------


def new_report_id() -> str:
    """Draw a report's public id: 32 hex characters."""
    return secrets.token_hex(REPORT_ID_BYTES)


def _report_id_bytes(report_id: str) -> bytes:
    try:
        raw = bytes.fromhex(report_id)
    except ValueError:
        raw = b""
    if len(raw) != REPORT_ID_BYTES or raw.hex() != report_id:
        raise InvalidInput(f"report id must be {2 * REPORT_ID_BYTES} lowercase hex characters")
    return raw


def _report_context(report_id: str) -> bytes:
    _report_id_bytes(report_id)
    return b"report|" + report_id.encode("ascii")


def seal_report_for_inbox(
    inbox_public: bytes, report_id: str | None = None
) -> tuple[InboxSealedReport, ReportKeys]:
    """Make a report's keys and wrap them for its inbox only: no receipt, no Argon2id."""
    report_id = new_report_id() if report_id is None else report_id
    # The wrap is bound to this report id: a key row copied to another report opens nothing.
    context = _report_context(report_id)
    keys = ReportKeys(secrets.token_bytes(KEY_BYTES), secrets.token_bytes(KEY_BYTES))
    key_for_inbox = wrap_key(keys.message_key + keys.notes_key, inbox_public, context)
    return InboxSealedReport(report_id=report_id, key_for_inbox=key_for_inbox), keys


def seal_report(
    inbox_public: bytes, receipt: str, server_secret: bytes, report_id: str | None = None
) -> tuple[SealedReport, ReportKeys]:
    """Make a report's keys, wrap them for its inbox and for the child's receipt (one Argon2id:
    the receipt's lookup and its wrapping key both come from it)."""
    digits = _receipt_bytes(receipt, InvalidInput).decode("ascii")  # a caller's bug here
    for_inbox, keys = seal_report_for_inbox(inbox_public, report_id)
    stretched = stretch_receipt(digits, server_secret)
    header = RECEIPT_KEY_HEADER.pack(RECEIPT_KEY_VERSION, KIND_RECEIPT_KEY)
    # The child's copy holds the message key only: a receipt never opens staff notes.
    for_receipt = seal_envelope(
        _receipt_wrapping_key(stretched, for_inbox.report_id),
        header,
        keys.message_key,
        _report_context(for_inbox.report_id),
    )
    sealed = SealedReport(
        report_id=for_inbox.report_id,
        key_for_inbox=for_inbox.key_for_inbox,
        receipt_lookup=stretched.lookup,
        key_for_receipt=for_receipt,
    )
    return sealed, keys


def open_report_as_staff(key_for_inbox: bytes, inbox_private: bytes, report_id: str) -> ReportKeys:
    """Unwrap a report's message and notes keys with its inbox's private key."""
    both = unwrap_key(key_for_inbox, inbox_private, _report_context(report_id))
    if len(both) != 2 * KEY_BYTES:
        raise MalformedBlob("a report's inbox wrap holds two 32-byte keys")
    return ReportKeys(message_key=both[:KEY_BYTES], notes_key=both[KEY_BYTES:])


def open_report_with_receipt(
    key_for_receipt: bytes, receipt: StretchedReceipt, report_id: str
) -> bytes:
    """Unwrap a report's message key with the child's stretched receipt (v2: no more Argon2id;
    v1, sealed before: its own); WrongReceipt if it does not open."""
    context = _report_context(report_id)
    try:
        if key_for_receipt[:1] == bytes([LEGACY_RECEIPT_KEY_VERSION]):
            return open_under_kdf(
                key_for_receipt, KIND_RECEIPT_KEY, _ARGON2_RECEIPT, receipt.digits, context
            )
        read_header(key_for_receipt, RECEIPT_KEY_HEADER, KIND_RECEIPT_KEY, RECEIPT_KEY_VERSION)
        check_length(key_for_receipt, RECEIPT_KEY_HEADER.size, KEY_BYTES)
        key = _receipt_wrapping_key(receipt, report_id)
        return open_envelope(key, key_for_receipt, RECEIPT_KEY_HEADER.size, context)
    except TamperedCiphertext:
        raise WrongReceipt("this receipt does not open this report") from None


# ---- the conversation ----------------------------------------------------------------------


def padded_size(size: int) -> int:
    """The size class a text of `size` bytes is padded to (its 0x80 marker included)."""
    wanted = size + 1
    for size_class in PAD_CLASSES:
        if wanted <= size_class:
            return size_class
    return wanted + -wanted % PAD_CLASSES[-1]  # longer than any form allows: whole largest steps


def _pad(data: bytes) -> bytes:
    # A handful of size classes: the stored size tells a text's length within a factor of two.
    # Blobs padded to 128-byte steps before (v1) unpad alike: marker, then zeros.
    padded = data + b"\x80"
    return padded + bytes(padded_size(len(data)) - len(padded))


def _unpad(padded: bytes) -> bytes:
    data = padded.rstrip(b"\x00")
    if not data.endswith(b"\x80"):
        raise MalformedBlob("bad padding")
    return data[:-1]


def _seal_text(
    kind: int, key: bytes, report_id: str, position: int, author: int, text: str
) -> bytes:
    if not 0 <= position <= 0xFFFFFFFF:
        raise InvalidInput(f"position {position} out of range")
    padded = _pad(text.encode("utf-8"))
    header = TEXT_HEADER.pack(
        FORMAT_VERSION, kind, author, position, _report_id_bytes(report_id), len(padded)
    )
    return seal_envelope(check_key(key, "data key"), header, padded)


def _open_text(
    kind: int, blob: bytes, key: bytes, report_id: str, position: int
) -> tuple[int, str]:
    check_key(key, "data key")
    _, _, author, sealed_position, sealed_report, size = read_header(blob, TEXT_HEADER, kind)
    check_length(blob, TEXT_HEADER.size, size)
    # Checked before decrypting: a blob copied to another report or slot is refused, never shown.
    if sealed_report != _report_id_bytes(report_id) or sealed_position != position:
        raise MisplacedMessage("this blob belongs to another report or position")
    padded = open_envelope(key, blob, TEXT_HEADER.size)
    try:
        return author, _unpad(padded).decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedBlob("the text is not UTF-8") from None


def seal_message(
    message_key: bytes, report_id: str, position: int, author: Author, text: str
) -> bytes:
    """Encrypt one message of a conversation, bound to its report, position and author."""
    return _seal_text(KIND_MESSAGE, message_key, report_id, position, _AUTHOR_CODES[author], text)


def open_message(blob: bytes, message_key: bytes, report_id: str, position: int) -> OpenedMessage:
    """Decrypt a message; MisplacedMessage if it belongs elsewhere, TamperedCiphertext if forged."""
    author, text = _open_text(KIND_MESSAGE, blob, message_key, report_id, position)
    if author not in _AUTHORS:
        raise MalformedBlob(f"unknown author code {author}")
    return OpenedMessage(author=_AUTHORS[author], text=text)


def seal_note(notes_key: bytes, report_id: str, position: int, text: str) -> bytes:
    """Encrypt an internal staff note (opened only with the notes key)."""
    return _seal_text(KIND_NOTE, notes_key, report_id, position, _NOTE_AUTHOR, text)


def open_note(blob: bytes, notes_key: bytes, report_id: str, position: int) -> str:
    """Decrypt an internal staff note."""
    author, text = _open_text(KIND_NOTE, blob, notes_key, report_id, position)
    if author != _NOTE_AUTHOR:
        raise MalformedBlob(f"unknown author code {author} for a note")
    return text
