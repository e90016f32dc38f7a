"""Real servers on loopback for the notification tests and bench: an SMTP server (aiosmtpd)
that keeps what it receives, and an HTTP receiver for the webhook."""

from __future__ import annotations

import asyncio
import email
import hashlib
import hmac
import http.server
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Received:
    """One message as the server took it: the raw bytes, parsed, and when."""

    raw: bytes
    message: Message
    at: float  # time.monotonic()
    wall: float  # time.time(): compared with instants stored by another process


@dataclass
class _Handler:
    received: list[Received] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)
    # Set by a test: the first message is held at this stage ("rcpt": before the message is
    # sent, "data": the server has it but holds its "250") until `release`; `hold` is set then.
    hold_at: str | None = None
    hold: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    async def _held(self, stage: str) -> None:
        if self.hold_at == stage and not self.hold.is_set():
            self.hold.set()
            while not self.release.is_set():  # the worker waits for our reply meanwhile
                await asyncio.sleep(0.02)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        await self._held("rcpt")
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        with self.arrived:
            self.received.append(
                Received(raw, email.message_from_bytes(raw), time.monotonic(), time.time())
            )
            self.arrived.notify_all()
        await self._held("data")
        return "250 Message accepted for delivery"


class MailCatcher:
    """An SMTP server on 127.0.0.1 (no TLS, no login: `smtp+plain://`), stopped and started
    again on the same port to play a mail server that is down."""

    def __init__(
        self, *, tls: ssl.SSLContext | None = None, login: tuple[str, str] | None = None
    ) -> None:
        self.port = free_port()
        self.handler = _Handler()
        self._controller: Controller | None = None
        self._tls, self._login = tls, login
        self.logins: list[str] = []  # who logged in, in order

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and self._login == (
            data.login.decode(),
            data.password.decode(),
        )
        if ok:
            self.logins.append(data.login.decode())
        return AuthResult(success=ok)

    @property
    def url(self) -> str:
        """PORTAL_SMTP_URL for it."""
        return f"smtp+plain://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Listen (again)."""
        options: dict[str, Any] = {}
        if self._tls is not None:  # STARTTLS required before anything else
            options.update(tls_context=self._tls, require_starttls=True)
        if self._login is not None:  # and a login, over TLS only
            options.update(
                auth_required=True, auth_require_tls=True, authenticator=self._authenticate
            )
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **options)
        self._controller.start()

    def stop(self) -> None:
        """Stop listening: connections are refused until `start`."""
        if self._controller is not None:
            self.handler.release.set()
            self._controller.stop()
            self._controller = None

    @property
    def received(self) -> list[Received]:
        """Every message taken so far, in order."""
        with self.handler.arrived:
            return list(self.handler.received)

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        """Wait until at least `count` messages came; all of them."""
        with self.handler.arrived:
            self.handler.arrived.wait_for(lambda: len(self.handler.received) >= count, timeout)
            return list(self.handler.received)


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 keeping each POST's headers (lower-case names) and body."""

    def __init__(self) -> None:
        self.posts: list[tuple[dict[str, str], bytes]] = []
        posts = self.posts

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                posts.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()


def signature_ok(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The webhook's HMAC-SHA256 header checked as the centre's receiver would."""
    timestamp = headers["x-qr111-timestamp"]
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest(headers["x-qr111-signature"], "sha256=" + expected.hexdigest())


def self_signed_tls(folder: Path) -> tuple[ssl.SSLContext, Path]:
    """A certificate for 127.0.0.1: the server's TLS context, and the file a client trusts it
    by (SSL_CERT_FILE)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        # OpenSSL checks validity against the machine's real time, which tests (and `make
        # calendar`'s --clock) never move: a window around any clock the suite may set.
        .not_valid_before(datetime(2000, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2099, 12, 31, tzinfo=UTC))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context, cert_file
