"""Real servers on loopback for the notification tests and bench: an SMTP server (aiosmtpd)
that keeps what it receives, and an HTTP receiver for the webhook."""

from __future__ import annotations

import asyncio
import email
import hashlib
import hmac
import http.server
import socket
import threading
import time
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


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
            self.received.append(Received(raw, email.message_from_bytes(raw), time.monotonic()))
            self.arrived.notify_all()
        await self._held("data")
        return "250 Message accepted for delivery"


class MailCatcher:
    """An SMTP server on 127.0.0.1 (no TLS, no login: `smtp+plain://`), stopped and started
    again on the same port to play a mail server that is down."""

    def __init__(self) -> None:
        self.port = free_port()
        self.handler = _Handler()
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        """PORTAL_SMTP_URL for it."""
        return f"smtp+plain://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Listen (again)."""
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
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
