"""The common ground of every blob: format constants, errors, Argon2id cost, the AEAD envelope.

Every blob is version ‖ kind ‖ fixed header fields ‖ nonce ‖ AES-256-GCM ciphertext, and the
whole header (plus an optional binding that is not stored) is the associated data.
"""

from __future__ import annotations

import functools
import secrets
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from argon2.low_level import ARGON2_VERSION, Type, core, error_to_str, ffi
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

FORMAT_VERSION: int = 1

KEY_BYTES = 32
SALT_BYTES = 16
NONCE_BYTES = 12
TAG_BYTES = 16
MIN_SERVER_SECRET_BYTES = 16

KIND_PRIVATE_KEY = 0x01
KIND_WRAPPED_KEY = 0x02
KIND_RECEIPT_KEY = 0x03
KIND_MESSAGE = 0x04
KIND_NOTE = 0x05
KIND_SERVER_SEALED = 0x06
CONVERSATION_KINDS = (KIND_MESSAGE, KIND_NOTE)

KDF_HEADER = struct.Struct(">BBIII16s")  # version, kind, memory KiB, iterations, lanes, salt


class CryptoError(Exception):
    """Base of every error this package raises."""


class InvalidInput(CryptoError, ValueError):
    """An argument of the wrong shape (key length, report id, position, cost): a caller's bug."""


class MalformedBlob(CryptoError):
    """Truncated, wrong length, wrong kind tag or absurd parameters."""


class UnknownVersion(MalformedBlob):
    """A format version this code does not know."""


class WrongKey(CryptoError):
    """Sealed for another recipient key."""


class TamperedCiphertext(CryptoError):
    """The AEAD check failed with the right key: the blob or its binding was altered."""


class WrongPassword(CryptoError):
    """The password does not open this private key."""


class WrongReceipt(CryptoError):
    """The receipt does not open this report (or is not a receipt)."""


class MisplacedMessage(CryptoError):
    """A message or note blob presented for another report, position or kind."""


class WeakKdfParams(CryptoError):
    """Argon2id parameters below the production minimum."""


_MIN_MEMORY_KIB, _MIN_ITERATIONS, _MIN_LANES = 19456, 2, 1  # OWASP's Argon2id minimum
_MAX_MEMORY_KIB, _MAX_ITERATIONS, _MAX_LANES = 1024 * 1024, 10, 8


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost: memory in KiB, passes, lanes."""

    memory_kib: int = _MIN_MEMORY_KIB
    iterations: int = _MIN_ITERATIONS
    lanes: int = _MIN_LANES

    def __post_init__(self) -> None:
        # Upper bounds are a DoS guard: a stored blob cannot make the server allocate 1 TiB.
        if not (
            1 <= self.lanes <= _MAX_LANES
            and 1 <= self.iterations <= _MAX_ITERATIONS
            and 8 * self.lanes <= self.memory_kib <= _MAX_MEMORY_KIB
        ):
            raise InvalidInput(f"absurd Argon2id parameters: {self!r}")

    def check_production(self) -> None:
        """Raise WeakKdfParams if below 19 MiB, 2 passes, 1 lane."""
        if (
            self.memory_kib < _MIN_MEMORY_KIB
            or self.iterations < _MIN_ITERATIONS
            or self.lanes < _MIN_LANES
        ):
            minimum = f"{_MIN_MEMORY_KIB} KiB, {_MIN_ITERATIONS} passes, {_MIN_LANES} lane"
            raise WeakKdfParams(f"{self!r} is below {minimum}")


PRODUCTION_KDF = KdfParams()


def check_key(key: bytes, what: str = "key") -> bytes:
    """Return key if it is 32 bytes, else raise InvalidInput."""
    if len(key) != KEY_BYTES:
        raise InvalidInput(f"{what} must be {KEY_BYTES} bytes, not {len(key)}")
    return key


def server_secret_bytes(server_secret: str | bytes) -> bytes:
    """Encode a configured server secret, refusing short ones."""
    raw = server_secret.encode("utf-8") if isinstance(server_secret, str) else server_secret
    if len(raw) < MIN_SERVER_SECRET_BYTES:
        raise InvalidInput(f"server secret must be at least {MIN_SERVER_SECRET_BYTES} bytes")
    return raw


# Who computes an Argon2id: the caller's thread, unless the caller's context named a runner
# (portal/kdf_bound.py hands each one to a low-priority thread, while the rest of the request
# stays in its own thread at normal priority). A runner is given the computation to call.
DerivationRunner = Callable[[Callable[[], bytes]], bytes]
_derivation_runner: ContextVar[DerivationRunner | None] = ContextVar(
    "derivation_runner", default=None
)


@contextmanager
def derivations_run_by(runner: DerivationRunner) -> Iterator[None]:
    """Within the block, every Argon2id of the current context is computed by `runner`."""
    token = _derivation_runner.set(runner)
    try:
        yield
    finally:
        _derivation_runner.reset(token)


def derive_argon2(secret: bytes, salt: bytes, params: KdfParams, purpose: bytes) -> bytes:
    """Stretch a low-entropy secret into a 32-byte key (purpose is Argon2id's associated data)."""
    compute = functools.partial(_argon2id, secret, salt, params, purpose)
    runner = _derivation_runner.get()
    return compute() if runner is None else runner(compute)


def _buffer(data: bytes) -> Any:
    """A C copy of `data` for argon2_context, or NULL when empty (as libargon2 wants it)."""
    return ffi.new("uint8_t[]", data) if data else ffi.NULL


def _argon2id(secret: bytes, salt: bytes, params: KdfParams, purpose: bytes) -> bytes:
    """Argon2id (version 0x13) through argon2-cffi's binding of libargon2, the reference C.

    The same function as cryptography's Argon2id, bit for bit (tests/vectors, and
    tests/crypto/test_crypto.py compares the two), with ~9 % less CPU on this project's machine
    (docs/crypto.md, "Argon2id cost"). Its low-level API (argon2_context) is the one that takes
    associated data, which our purposes need. cffi releases the GIL during the call, as
    cryptography did.
    """
    out = ffi.new("uint8_t[]", KEY_BYTES)
    # Named, so that they live until the call returns: a struct's pointer fields do not keep
    # cffi's arrays alive, and a temporary one would be freed before libargon2 reads it.
    pwd, salt_c, ad = _buffer(secret), _buffer(salt), _buffer(purpose)
    context = ffi.new(
        "argon2_context *",
        {
            "out": out,
            "outlen": KEY_BYTES,
            "pwd": pwd,
            "pwdlen": len(secret),
            "salt": salt_c,
            "saltlen": len(salt),
            "secret": ffi.NULL,
            "secretlen": 0,
            "ad": ad,
            "adlen": len(purpose),
            "t_cost": params.iterations,
            "m_cost": params.memory_kib,
            "lanes": params.lanes,
            # One thread computes every lane in turn: the result is the same, and the
            # derivation stays in the (niced) thread that kdf_bound gives it.
            "threads": 1,
            "version": ARGON2_VERSION,
            "allocate_cbk": ffi.NULL,
            "free_cbk": ffi.NULL,
            "flags": 0,  # libargon2 wipes its memory blocks before freeing them
        },
    )
    status = core(context, Type.ID.value)
    if status != 0:
        raise InvalidInput(f"Argon2id refused its input: {error_to_str(status)}")
    return bytes(ffi.buffer(out, KEY_BYTES))


def derive_hkdf(material: bytes, info: bytes) -> bytes:
    """Derive a 32-byte key from high-entropy material with HKDF-SHA256."""
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=info).derive(material)


def seal_envelope(key: bytes, header: bytes, plaintext: bytes, bound: bytes = b"") -> bytes:
    """Make header ‖ nonce ‖ AES-256-GCM(plaintext) with associated data header ‖ bound."""
    # Random 96-bit nonces: each key seals few blobs, far below the 2^32 collision bound.
    nonce = secrets.token_bytes(NONCE_BYTES)
    # Header as AAD: version, kind, ids, position and KDF cost cannot be altered unnoticed.
    return header + nonce + AESGCM(key).encrypt(nonce, plaintext, header + bound)


def open_envelope(key: bytes, blob: bytes, header_size: int, bound: bytes = b"") -> bytes:
    """Open an envelope made by seal_envelope; TamperedCiphertext if it does not authenticate."""
    header, nonce = blob[:header_size], blob[header_size : header_size + NONCE_BYTES]
    try:
        return AESGCM(key).decrypt(nonce, blob[header_size + NONCE_BYTES :], header + bound)
    except InvalidTag:
        raise TamperedCiphertext("the blob does not authenticate under this key") from None


def read_header(
    blob: bytes, layout: struct.Struct, kind: int, version: int = FORMAT_VERSION
) -> tuple[Any, ...]:
    """Check a blob's version and kind, and unpack its fixed header."""
    if len(blob) < 2:
        raise MalformedBlob("blob too short")
    if blob[0] != version:
        raise UnknownVersion(f"format version {blob[0]} is unknown")
    if blob[1] != kind:
        if blob[1] in CONVERSATION_KINDS and kind in CONVERSATION_KINDS:
            # A note shown as a message (or the reverse) is misplaced, not merely malformed.
            raise MisplacedMessage(f"a blob of kind {blob[1]} where kind {kind} belongs")
        raise MalformedBlob(f"a blob of kind {blob[1]} where kind {kind} belongs")
    if len(blob) < layout.size:
        raise MalformedBlob("blob too short")
    return layout.unpack_from(blob)


def check_length(blob: bytes, header_size: int, plaintext_size: int) -> None:
    """Raise MalformedBlob unless the blob is exactly as long as its header says."""
    # The header states the length: a truncated or extended blob is refused before decrypting.
    if len(blob) != header_size + NONCE_BYTES + plaintext_size + TAG_BYTES:
        raise MalformedBlob(f"blob of {len(blob)} bytes does not match its header")


def seal_under_kdf(
    kind: int, purpose: bytes, secret: bytes, params: KdfParams, key: bytes, bound: bytes
) -> bytes:
    """Encrypt a 32-byte key under Argon2id(secret, fresh salt); salt and cost in the header."""
    # A fresh random salt per blob: no precomputation, no two blobs share a derived key.
    salt = secrets.token_bytes(SALT_BYTES)
    header = KDF_HEADER.pack(
        FORMAT_VERSION, kind, params.memory_kib, params.iterations, params.lanes, salt
    )
    return seal_envelope(derive_argon2(secret, salt, params, purpose), header, key, bound)


def open_under_kdf(blob: bytes, kind: int, purpose: bytes, secret: bytes, bound: bytes) -> bytes:
    """Decrypt a key sealed by seal_under_kdf; TamperedCiphertext if the secret does not open it."""
    _, _, memory_kib, iterations, lanes, salt = read_header(blob, KDF_HEADER, kind)
    check_length(blob, KDF_HEADER.size, KEY_BYTES)
    try:
        params = KdfParams(memory_kib, iterations, lanes)
    except InvalidInput:
        raise MalformedBlob("absurd Argon2id parameters in the blob") from None  # DoS guard
    key = derive_argon2(secret, salt, params, purpose)
    return open_envelope(key, blob, KDF_HEADER.size, bound)
