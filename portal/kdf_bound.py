"""At most a configured number of key derivations at once per worker; beyond it, a quick 503.

Argon2id costs ~22 ms of one core and 19 MiB per derivation and holds the GIL: a flood of
reports must not make a worker hold many of them in memory and make every page slow. The
requests that derive a key for someone not logged in wait a moment for a slot; when none
frees up they get the kind error page at once, with their text and a Retry-After.
"""

from __future__ import annotations

import threading

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import ServiceUnavailable

# The POSTs that run Argon2id: a report (its receipt key and lookup), a receipt opening the
# conversation or adding to it, a staff login (the password).
KDF_ENDPOINTS = frozenset({"child.send", "child.check", "staff.login"})
# How long a request waits for a slot: the derivations queued before it on a busy machine;
# then a quick 503 with the text, rather than a proxy's timeout page that loses it.
WAIT_SECONDS = 2.0
# What the 503 asks browsers and clients to wait before sending again.
RETRY_AFTER_SECONDS = 10
_EXTENSION = "portal.kdf_bound"


class KdfBound:
    """A per-process semaphore of key derivation slots, taken with a short wait."""

    def __init__(self, limit: int, wait_seconds: float = WAIT_SECONDS) -> None:
        self.limit = limit
        self.wait_seconds = wait_seconds
        self._slots = threading.BoundedSemaphore(limit)

    def acquire(self) -> bool:
        """Take a slot, waiting at most wait_seconds; False when none became free."""
        return self._slots.acquire(timeout=self.wait_seconds)

    def release(self) -> None:
        """Give a slot back."""
        self._slots.release()


def bound_of(app: Flask) -> KdfBound:
    """The app's bound (one per worker process: each builds its own app)."""
    bound: KdfBound = app.extensions[_EXTENSION]
    return bound


def _take_slot() -> None:
    if request.method != "POST" or request.endpoint not in KDF_ENDPOINTS:
        return
    if not bound_of(current_app).acquire():
        g.kdf_refused = True
        # The child's blueprint and the app's error pages render it with the typed text.
        raise ServiceUnavailable()
    g.kdf_slot = True


def _mark_refusal(response: Response) -> Response:
    if g.get("kdf_refused", False):
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        response.headers["Cache-Control"] = "no-store"  # the page carries the typed text
    return response


def _give_slot_back(_exc: BaseException | None) -> None:
    # Teardown runs whatever happened in the view, so a failure never leaks a slot.
    if g.pop("kdf_slot", False):
        bound_of(current_app).release()


def init_app(app: Flask, limit: int) -> None:
    """Bound the key derivations of this app's process to `limit` at once."""
    app.extensions[_EXTENSION] = KdfBound(limit)
    app.before_request(_take_slot)
    app.after_request(_mark_refusal)
    app.teardown_request(_give_slot_back)
