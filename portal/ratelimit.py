"""Rate limits of the child's side (Flask-Limiter), keyed without keeping any address."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime

from flask import Flask, current_app, request
from flask_limiter import Limiter

from portal import crypto
from portal.codes import normalize_code
from portal.config import Config

_CLIENT_KEY = "portal.rate_limit_client_key"
CLIENT_KEY_PURPOSE = "rate-limit-client"


def client_key() -> str:
    """A pseudonym of the client address that changes every UTC day (P3).

    The address itself is never stored: the limiter's storage (memory or Redis) sees only
    HMAC(server key, day | address). With the day in the message yesterday's keys cannot
    be linked to today's, and without the server key they cannot be linked to an address.
    """
    key: bytes = current_app.extensions[_CLIENT_KEY]
    day = datetime.now(UTC).date().isoformat()
    address = request.remote_addr or "unknown"
    message = f"{day}|{address}".encode()
    return "client:" + hmac.digest(key, message, "sha256")[:16].hex()


def school_key() -> str:
    """All messages to one school's page share a count (the code as the poster prints it)."""
    code = (request.view_args or {}).get("code", "")
    return "school:" + (normalize_code(str(code)) or "unknown")


def everyone_key() -> str:
    """One count for the whole service."""
    return "everyone"


def _config() -> Config:
    config: Config = current_app.extensions["portal.config"]
    return config


def client_messages() -> str:
    """The configured per-client limit of messages (reports and follow-ups)."""
    return _config().limits.client_messages


def school_messages() -> str:
    """The configured per-school limit of new reports."""
    return _config().limits.school_messages


def all_messages() -> str:
    """The configured limit of messages over the whole service."""
    return _config().limits.all_messages


def receipt_failures() -> str:
    """The configured limit of wrong receipts per client."""
    return _config().limits.receipt_failures


limiter = Limiter(key_func=client_key, headers_enabled=False, strategy="moving-window")


def init_app(app: Flask, config: Config) -> None:
    """Bind the limiter to the app with the configured storage (memory, or Redis)."""
    app.extensions[_CLIENT_KEY] = crypto.derive_server_key(config.secret_key, CLIENT_KEY_PURPOSE)
    app.config["RATELIMIT_STORAGE_URI"] = config.limits.storage_url
    app.config["RATELIMIT_KEY_PREFIX"] = "qr111"
    if config.limits.storage_url.startswith("redis"):
        # The limits library's own prefix (the one above is Flask-Limiter's and stays with the
        # first app): the counts live beside the staff sessions, under the deployment's prefix.
        app.config["RATELIMIT_STORAGE_OPTIONS"] = {"key_prefix": limits_prefix(config)}
    limiter.init_app(app)


def limits_prefix(config: Config) -> str:
    """The prefix of every rate-limit key in Redis (`LIMITS` would mix deployments)."""
    return f"{config.redis_prefix}:limits"
