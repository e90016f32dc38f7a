"""Key pairs, password-sealed private keys, key wrapping, inbox grants, server keys, sessions."""

from __future__ import annotations

import hashlib
import secrets
import struct
import unicodedata
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from portal.crypto.envelope import (
    FORMAT_VERSION,
    KEY_BYTES,
    KIND_PRIVATE_KEY,
    KIND_SERVER_SEALED,
    KIND_WRAPPED_KEY,
    SALT_BYTES,
    InvalidInput,
    KdfParams,
    MalformedBlob,
    TamperedCiphertext,
    WrongKey,
    WrongPassword,
    check_key,
    check_length,
    derive_argon2,
    derive_hkdf,
    open_envelope,
    open_under_kdf,
    read_header,
    seal_envelope,
    seal_under_kdf,
    server_secret_bytes,
)

KEY_ID_BYTES = 8
WRAP_HEADER = struct.Struct(">BB8s32sH")  # version, kind, key id, ephemeral public, length
SERVER_HEADER = struct.Struct(">BBI")  # version, kind, length

_ARGON2_PASSWORD = b"qr111/password/v1"
_HKDF_WRAP = b"qr111/wrap/v1|"
_HKDF_SERVER_KEY = b"qr111/server-key/v1|"
_HKDF_SERVER_SEAL = b"qr111/server-seal/v1|"


@dataclass(frozen=True)
class KeyPair:
    """A raw X25519 key pair."""

    private: bytes = field(repr=False)  # never in a log line or a traceback's repr
    public: bytes


def generate_keypair() -> KeyPair:
    """Make a new X25519 key pair from the OS random source."""
    private = secrets.token_bytes(KEY_BYTES)
    return KeyPair(private=private, public=public_key_of(private))


def public_key_of(private: bytes) -> bytes:
    """Compute the raw public key of a raw X25519 private key."""
    key = X25519PrivateKey.from_private_bytes(check_key(private, "private key"))
    return key.public_key().public_bytes_raw()


def key_id(public: bytes) -> bytes:
    """Fingerprint a public key: the first 8 bytes of its SHA-256."""
    return hashlib.sha256(check_key(public, "public key")).digest()[:KEY_ID_BYTES]


def _password_bytes(password: str) -> bytes:
    # NFC: the same password typed with another keyboard or input method derives the same key.
    return unicodedata.normalize("NFC", password).encode("utf-8")


def seal_private_key(private: bytes, password: str, params: KdfParams) -> bytes:
    """Encrypt a staff private key under Argon2id(password, random salt)."""
    if not password:
        raise InvalidInput("empty password")
    key = check_key(private, "private key")
    secret = _password_bytes(password)
    return seal_under_kdf(KIND_PRIVATE_KEY, _ARGON2_PASSWORD, secret, params, key, b"")


def open_private_key(blob: bytes, password: str) -> bytes:
    """Decrypt a staff private key; WrongPassword if the password does not open it."""
    secret = _password_bytes(password)
    try:
        return open_under_kdf(blob, KIND_PRIVATE_KEY, _ARGON2_PASSWORD, secret, b"")
    except TamperedCiphertext:
        raise WrongPassword("wrong password (or a damaged key blob)") from None


def spend_password_check(password: str, params: KdfParams) -> None:
    """Spend what opening a sealed private key costs, for a login with no such account.

    Threat model: without it, a quick "wrong" answer would tell who has an account.
    """
    derive_argon2(
        _password_bytes(password), secrets.token_bytes(SALT_BYTES), params, _ARGON2_PASSWORD
    )


def _wrapping_key(shared: bytes, ephemeral: bytes, recipient: bytes, context: bytes) -> bytes:
    # info binds both public keys and the context: a wrap opens only for whom and where made.
    return derive_hkdf(shared, _HKDF_WRAP + ephemeral + recipient + context)


def wrap_key(secret: bytes, recipient_public: bytes, context: bytes) -> bytes:
    """Encrypt a secret for a public key: ephemeral X25519, HKDF-SHA256, AES-256-GCM."""
    if not 1 <= len(secret) <= 0xFFFF:
        raise InvalidInput("the secret to wrap must be 1 to 65535 bytes")
    # A fresh ephemeral key per wrap: no two wraps ever share a wrapping key.
    ephemeral = X25519PrivateKey.from_private_bytes(secrets.token_bytes(KEY_BYTES))
    ephemeral_public = ephemeral.public_key().public_bytes_raw()
    try:
        recipient = X25519PublicKey.from_public_bytes(check_key(recipient_public, "public key"))
        shared = ephemeral.exchange(recipient)
    except ValueError:
        raise InvalidInput("not a usable X25519 public key") from None
    header = WRAP_HEADER.pack(
        FORMAT_VERSION, KIND_WRAPPED_KEY, key_id(recipient_public), ephemeral_public, len(secret)
    )
    key = _wrapping_key(shared, ephemeral_public, recipient_public, context)
    return seal_envelope(key, header, secret)


def unwrap_key(blob: bytes, recipient_private: bytes, context: bytes) -> bytes:
    """Decrypt a wrapped secret; WrongKey if made for another key, TamperedCiphertext if altered."""
    _, _, sealed_key_id, ephemeral_public, size = read_header(blob, WRAP_HEADER, KIND_WRAPPED_KEY)
    check_length(blob, WRAP_HEADER.size, size)
    private = X25519PrivateKey.from_private_bytes(check_key(recipient_private, "private key"))
    recipient_public = private.public_key().public_bytes_raw()
    # The key id only routes (WrongKey early); a forged id still fails the AEAD below.
    if sealed_key_id != key_id(recipient_public):
        raise WrongKey("wrapped for another key")
    try:
        shared = private.exchange(X25519PublicKey.from_public_bytes(ephemeral_public))
    except ValueError:  # a low-order ephemeral point can only come from tampering
        raise TamperedCiphertext("invalid ephemeral key") from None
    key = _wrapping_key(shared, ephemeral_public, recipient_public, context)
    return open_envelope(key, blob, WRAP_HEADER.size)


def _inbox_context(inbox_id: str) -> bytes:
    return b"inbox|" + inbox_id.encode("utf-8")


def grant_inbox(inbox_private: bytes, member_public: bytes, inbox_id: str) -> bytes:
    """Wrap an inbox private key for a staff member (or the recovery key)."""
    secret = check_key(inbox_private, "inbox private key")
    return wrap_key(secret, member_public, _inbox_context(inbox_id))


def open_inbox_key(grant: bytes, member_private: bytes, inbox_id: str) -> bytes:
    """Unwrap an inbox private key from a grant."""
    inbox_private = unwrap_key(grant, member_private, _inbox_context(inbox_id))
    if len(inbox_private) != KEY_BYTES:
        raise MalformedBlob("a grant holds a 32-byte key")
    return inbox_private


# Server-held keys are not end to end: the server alone opens what they seal (e.g. TOTP secrets).


def derive_server_key(server_secret: str | bytes, purpose: str) -> bytes:
    """Derive a 32-byte key for one purpose from the server's configured secret."""
    info = _HKDF_SERVER_KEY + purpose.encode("utf-8")
    return derive_hkdf(server_secret_bytes(server_secret), info)


def _server_sealing_key(server_secret: str | bytes, purpose: str) -> bytes:
    info = _HKDF_SERVER_SEAL + purpose.encode("utf-8")
    return derive_hkdf(server_secret_bytes(server_secret), info)


def seal_with_server_key(
    server_secret: str | bytes, purpose: str, plaintext: bytes, *, context: bytes = b""
) -> bytes:
    """Encrypt data the server itself must read back, bound to a purpose and a context."""
    header = SERVER_HEADER.pack(FORMAT_VERSION, KIND_SERVER_SEALED, len(plaintext))
    return seal_envelope(_server_sealing_key(server_secret, purpose), header, plaintext, context)


def open_with_server_key(
    server_secret: str | bytes, purpose: str, blob: bytes, *, context: bytes = b""
) -> bytes:
    """Decrypt a blob made by seal_with_server_key for the same purpose and context."""
    _, _, size = read_header(blob, SERVER_HEADER, KIND_SERVER_SEALED)
    check_length(blob, SERVER_HEADER.size, size)
    key = _server_sealing_key(server_secret, purpose)
    return open_envelope(key, blob, SERVER_HEADER.size, context)


def split_secret(secret: bytes) -> tuple[bytes, bytes]:
    """Split a secret into (cookie_share, server_share); either alone is uniform noise."""
    if not secret:
        raise InvalidInput("nothing to split")
    # A one-time pad from the OS random source: each share alone says nothing about the secret.
    cookie_share = secrets.token_bytes(len(secret))
    return cookie_share, bytes(a ^ b for a, b in zip(secret, cookie_share, strict=True))


def join_secret(cookie_share: bytes, server_share: bytes) -> bytes:
    """Join the two shares of split_secret; MalformedBlob if their lengths differ."""
    if not cookie_share or len(cookie_share) != len(server_share):
        raise MalformedBlob("the two shares differ in length")
    return bytes(a ^ b for a, b in zip(cookie_share, server_share, strict=True))
