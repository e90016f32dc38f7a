"""Configuration: one frozen dataclass built from the environment at start-up."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import unquote, urlsplit

from limits import parse_many

from portal.crypto import PRODUCTION_KDF, InvalidInput, KdfParams, WeakKdfParams


class ConfigError(RuntimeError):
    """The environment does not describe a configuration we can safely run with."""


class Environment(StrEnum):
    """Where the portal runs: a developer's machine or a real deployment."""

    DEVELOPMENT = "development"
    PRODUCTION = "production"


DEFAULT_BASE_URL = "http://127.0.0.1:5000"
SECRET_KEY_FILE = "secret_key"  # noqa: S105 -- a file name, not a secret
MIN_SECRET_KEY_LENGTH = 32
# The Argon2id cost when the environment names none; tests swap in a cheap one (conftest).
DEFAULT_KDF: KdfParams = PRODUCTION_KDF


DEFAULT_EXIT_URL = "https://www.google.com/search?q=weather"
DEFAULT_RETENTION_DAYS = 90
MAX_RETENTION_DAYS = 36500  # a hundred years: anything longer is not a retention period
REDIS_SCHEMES = ("redis", "rediss", "unix")
DEFAULT_REDIS_PREFIX = "qr111"
LIMIT_STORAGE_SCHEMES = ("memory", "redis", "rediss", "redis+sentinel", "redis+unix")
# Proxies in front of us whose X-Forwarded-For/-Proto we believe; more than this is a typo.
MAX_TRUSTED_PROXIES = 5
# Argon2id releases the GIL while it hashes (measured: docs/deploy.md, "Floods"), so a worker's
# other threads keep serving pages; with one worker per core, one derivation per worker keeps
# every core busy and its memory (19 MiB each) bounded: more would only share the same cores.
DEFAULT_MAX_KDF_CONCURRENCY = 1
MAX_KDF_CONCURRENCY = 64


@dataclass(frozen=True)
class RateLimits:
    """Flask-Limiter limits ("N per period", several joined by ';') and where counts live."""

    # Per client (a keyed hash of the address that changes daily): a child writes a few times.
    client_messages: str = "5/minute;30/hour;100/day"
    # Per school: a class that floods its poster must not drown the others.
    school_messages: str = "120/hour"
    # All schools together: the server's ceiling, below the Argon2id cost of 2 cores.
    all_messages: str = "40/second"
    # Wrong receipts per client: 10^16 receipts make guessing hopeless, this makes it slow too.
    receipt_failures: str = "10/hour;30/day"
    # Wrong receipts of every client that failed before today, together: a spread of addresses
    # gets no more than this beyond one free try each (a client's first check always runs).
    receipt_failures_all: str = "300/hour"
    # Checks of clients past their own limit, all together: one pupil mistyping behind a school's
    # shared address must not lock the classmates' right codes out (bench/flood.py (d)).
    receipt_retries: str = "30/minute"
    storage_url: str = "memory://"


@dataclass(frozen=True)
class TriagePolicy:
    """Staff sessions and the target times of the inbox, in minutes."""

    idle_minutes: int = 15  # a desk left alone locks itself
    session_minutes: int = 10 * 60  # one working day at most, then log in again
    p1_target_minutes: int = 15
    p2_target_minutes: int = 24 * 60
    p3_target_minutes: int = 72 * 60


# SMTP URL schemes: STARTTLS on submission (smtp://, port 587 by default), TLS from the first
# byte (smtps://, 465), or no TLS at all (smtp+plain://), which only a relay on this machine
# may be: a notification in the clear on a network tells whoever watches it that a P1 arrived.
SMTP_SCHEMES = {"smtp": 587, "smtps": 465, "smtp+plain": 25}
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
MIN_WEBHOOK_SECRET_LENGTH = 32
DEFAULT_DIGEST_HOUR = 8  # Kazakhstan time: the digest is read when the working day starts


@dataclass(frozen=True)
class SmtpServer:
    """Where notification e-mail is submitted, parsed from PORTAL_SMTP_URL."""

    host: str
    port: int
    tls: str  # "starttls", "implicit" or "none" (a relay on loopback only)
    username: str | None = None
    password: str | None = None

    def __repr__(self) -> str:  # never print the password in a traceback or a log
        return f"SmtpServer({self.host!r}, {self.port}, {self.tls!r}, user={self.username!r})"


@dataclass(frozen=True)
class Notifications:
    """How staff are told of new and unopened P1 reports (services/notify.py)."""

    smtp: SmtpServer | None = None
    mail_from: str = "QR 111 <qr111@localhost>"
    webhook_url: str | None = None
    webhook_secret: str | None = None
    digest_hour: int = DEFAULT_DIGEST_HOUR

    def __repr__(self) -> str:
        return f"Notifications(smtp={self.smtp!r}, webhook={self.webhook_url!r})"


@dataclass(frozen=True)
class Config:
    """Everything the app needs to know; nothing else reads the environment."""

    env: Environment
    secret_key: str
    database_url: str
    base_url: str
    instance_path: Path
    kdf: KdfParams = PRODUCTION_KDF
    limits: RateLimits = RateLimits()
    triage: TriagePolicy = TriagePolicy()
    # Where the child's quick-exit button leads: an ordinary page, never ours.
    exit_url: str = DEFAULT_EXIT_URL
    # Closed reports are erased (their keys destroyed) this many days after closing.
    retention_days: int = DEFAULT_RETENTION_DAYS
    # Redis shared by every instance: rate-limit counts and the server half of staff sessions.
    # None keeps both in the process and the database (one instance only).
    redis_url: str | None = None
    # Every Redis key starts with it: several deployments (or test runs) can share one Redis.
    redis_prefix: str = DEFAULT_REDIS_PREFIX
    # Reverse proxies in front (nginx, a load balancer): 0 means we are reached directly.
    trusted_proxies: int = 0
    # Key derivations (Argon2id) running at once in one worker process; beyond it, a 503.
    max_kdf_concurrency: int = DEFAULT_MAX_KDF_CONCURRENCY
    notifications: Notifications = Notifications()
    testing: bool = False

    @property
    def is_production(self) -> bool:
        """True when running as a real deployment."""
        return self.env is Environment.PRODUCTION

    @property
    def trusted_hosts(self) -> list[str] | None:
        """The Host headers answered: in production only PORTAL_BASE_URL's; None, any."""
        # A redirect is built from the Host a request names: answering any would send a
        # child to whatever site a forged Host (or a poisoned cache in between) names.
        # Development answers any, as it is reached by 127.0.0.1, localhost or a LAN address.
        if not self.is_production:
            return None
        return [urlsplit(self.base_url).hostname or ""]


def load_config(env: Mapping[str, str] | None = None) -> Config:
    """Build the configuration from environment variables (`os.environ` by default)."""
    if env is None:
        env = os.environ
    environment = _parse_environment(env.get("PORTAL_ENV", Environment.DEVELOPMENT.value))
    instance_path = Path(env.get("PORTAL_INSTANCE_PATH") or Path.cwd() / "instance").resolve()
    return Config(
        env=environment,
        secret_key=_secret_key(env, environment, instance_path),
        database_url=_database_url(env, environment, instance_path),
        base_url=_base_url(env, environment),
        instance_path=instance_path,
        kdf=_kdf_params(env, environment),
        limits=_rate_limits(env, environment),
        triage=_triage_policy(env),
        exit_url=_exit_url(env),
        retention_days=_retention_days(env),
        redis_url=_redis_url(env),
        redis_prefix=_redis_prefix(env),
        trusted_proxies=_bounded_int(env, "PORTAL_TRUSTED_PROXIES", 0, 0, MAX_TRUSTED_PROXIES),
        max_kdf_concurrency=_bounded_int(
            env,
            "PORTAL_MAX_KDF_CONCURRENCY",
            DEFAULT_MAX_KDF_CONCURRENCY,
            1,
            MAX_KDF_CONCURRENCY,
        ),
        notifications=_notifications(env, environment),
    )


def _parse_environment(value: str) -> Environment:
    try:
        return Environment(value.strip().lower())
    except ValueError:
        allowed = ", ".join(e.value for e in Environment)
        raise ConfigError(f"PORTAL_ENV={value!r} is not one of: {allowed}") from None


def _secret_key(env: Mapping[str, str], environment: Environment, instance: Path) -> str:
    key = env.get("PORTAL_SECRET_KEY", "")
    if key:
        if len(key) < MIN_SECRET_KEY_LENGTH:
            raise ConfigError(
                f"PORTAL_SECRET_KEY is too short: use at least {MIN_SECRET_KEY_LENGTH} characters"
            )
        return key
    # Threat model: a default or guessable key would let anyone forge signed tokens.
    if environment is Environment.PRODUCTION:
        raise ConfigError("PORTAL_SECRET_KEY must be set in production")
    return _development_secret_key(instance)


def _development_secret_key(instance: Path) -> str:
    """Create a random key in the instance folder once, and reuse it afterwards."""
    path = instance / SECRET_KEY_FILE
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key


def _database_url(env: Mapping[str, str], environment: Environment, instance: Path) -> str:
    url = env.get("PORTAL_DATABASE_URL", "")
    if url:
        return url
    if environment is Environment.PRODUCTION:
        raise ConfigError("PORTAL_DATABASE_URL must be set in production")
    instance.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{instance / 'portal.sqlite3'}"


def _base_url(env: Mapping[str, str], environment: Environment) -> str:
    url = env.get("PORTAL_BASE_URL", "")
    if not url:
        if environment is Environment.PRODUCTION:
            raise ConfigError(
                "PORTAL_BASE_URL must be set in production (it is printed on posters)"
            )
        return DEFAULT_BASE_URL
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(f"PORTAL_BASE_URL={url!r} must be an http(s) URL with no query")
    if environment is Environment.PRODUCTION and parts.scheme != "https":
        raise ConfigError("PORTAL_BASE_URL must use https in production")
    return url.rstrip("/")


def _kdf_params(env: Mapping[str, str], environment: Environment) -> KdfParams:
    names = ("PORTAL_KDF_MEMORY_KIB", "PORTAL_KDF_ITERATIONS", "PORTAL_KDF_LANES")
    if not any(env.get(name) for name in names):
        return DEFAULT_KDF
    values = []
    for name, default in zip(
        names, (DEFAULT_KDF.memory_kib, DEFAULT_KDF.iterations, DEFAULT_KDF.lanes), strict=True
    ):
        text = env.get(name) or str(default)
        if not text.isdigit() or int(text) < 1:
            raise ConfigError(f"{name}={text!r} must be a positive whole number")
        values.append(int(text))
    try:
        params = KdfParams(memory_kib=values[0], iterations=values[1], lanes=values[2])
    except InvalidInput as exc:
        raise ConfigError(f"{', '.join(names)}: {exc}") from None
    if environment is Environment.PRODUCTION:
        try:
            params.check_production()
        except WeakKdfParams as exc:
            raise ConfigError(f"Argon2id parameters too weak for production: {exc}") from None
    return params


_LIMIT_VARIABLES = {
    "client_messages": "PORTAL_LIMIT_CLIENT",
    "school_messages": "PORTAL_LIMIT_SCHOOL",
    "all_messages": "PORTAL_LIMIT_GLOBAL",
    "receipt_failures": "PORTAL_LIMIT_RECEIPT_FAILURES",
    "receipt_failures_all": "PORTAL_LIMIT_RECEIPT_FAILURES_ALL",
    "receipt_retries": "PORTAL_LIMIT_RECEIPT_RETRIES",
}


def _rate_limits(env: Mapping[str, str], environment: Environment) -> RateLimits:
    defaults = RateLimits()
    values: dict[str, str] = {}
    for field, name in _LIMIT_VARIABLES.items():
        text = env.get(name) or getattr(defaults, field)
        try:
            parsed = parse_many(text)
        except ValueError:
            parsed = []
        if not parsed:
            raise ConfigError(f"{name}={text!r} is not a limit like '5/minute;30/hour'")
        values[field] = text
    # The limits count in the shared Redis when there is one, unless told otherwise.
    shared = _redis_url(env) or ""
    if shared.startswith("unix:"):
        shared = "redis+" + shared  # the limits library's name for Redis on a Unix socket
    storage = env.get("PORTAL_RATELIMIT_STORAGE_URL") or shared or defaults.storage_url
    if urlsplit(storage).scheme not in LIMIT_STORAGE_SCHEMES:
        raise ConfigError(f"PORTAL_RATELIMIT_STORAGE_URL={storage!r}: use memory:// or redis://")
    # Counts in memory are each process's own: gunicorn's workers (one per core) would each
    # allow the whole limit, and the config cannot know how many workers will run. Production
    # counts in Redis, always (docs/deploy.md, "Floods").
    if environment is Environment.PRODUCTION and storage.startswith("memory"):
        raise ConfigError(
            "PORTAL_REDIS_URL must be set in production: rate limits kept in memory are counted "
            "by each gunicorn worker alone (or set PORTAL_RATELIMIT_STORAGE_URL=redis://...)"
        )
    return RateLimits(storage_url=storage, **values)


def _redis_url(env: Mapping[str, str]) -> str | None:
    url = env.get("PORTAL_REDIS_URL", "").strip()
    if not url:
        return None
    if urlsplit(url).scheme not in REDIS_SCHEMES:
        raise ConfigError(
            f"PORTAL_REDIS_URL: use redis://host:6379/0, rediss:// or unix:// (got {url!r})"
        )
    return url


def _redis_prefix(env: Mapping[str, str]) -> str:
    prefix = env.get("PORTAL_REDIS_PREFIX") or DEFAULT_REDIS_PREFIX
    if not (prefix.isascii() and prefix.replace("-", "").replace("_", "").isalnum()):
        raise ConfigError(f"PORTAL_REDIS_PREFIX={prefix!r}: use letters, digits, '-' and '_'")
    return prefix


def _exit_url(env: Mapping[str, str]) -> str:
    url = env.get("PORTAL_EXIT_URL") or DEFAULT_EXIT_URL
    if urlsplit(url).scheme != "https":
        raise ConfigError(f"PORTAL_EXIT_URL={url!r} must be an https URL")
    return url


def _retention_days(env: Mapping[str, str]) -> int:
    text = env.get("PORTAL_RETENTION_DAYS") or str(DEFAULT_RETENTION_DAYS)
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_RETENTION_DAYS:
        raise ConfigError(
            f"PORTAL_RETENTION_DAYS={text!r} must be a whole number of days "
            f"(1 to {MAX_RETENTION_DAYS})"
        )
    return int(text)


def _bounded_int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = (env.get(name) or str(default)).strip()
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise ConfigError(f"{name}={text!r} must be a whole number from {low} to {high}")
    return int(text)


_TRIAGE_VARIABLES = {
    "idle_minutes": "PORTAL_STAFF_IDLE_MINUTES",
    "session_minutes": "PORTAL_STAFF_SESSION_MINUTES",
    "p1_target_minutes": "PORTAL_TARGET_P1_MINUTES",
    "p2_target_minutes": "PORTAL_TARGET_P2_MINUTES",
    "p3_target_minutes": "PORTAL_TARGET_P3_MINUTES",
}


def _triage_policy(env: Mapping[str, str]) -> TriagePolicy:
    defaults = TriagePolicy()
    values: dict[str, int] = {}
    for field, name in _TRIAGE_VARIABLES.items():
        text = env.get(name) or str(getattr(defaults, field))
        if not text.isdigit() or not 1 <= int(text) <= 525_600:
            raise ConfigError(f"{name}={text!r} must be a whole number of minutes (1 to a year)")
        values[field] = int(text)
    return TriagePolicy(**values)


def _notifications(env: Mapping[str, str], environment: Environment) -> Notifications:
    base_host = urlsplit(_base_url(env, environment)).hostname or "localhost"
    webhook_url = env.get("PORTAL_WEBHOOK_URL", "").strip() or None
    secret = env.get("PORTAL_WEBHOOK_SECRET", "").strip() or None
    if webhook_url is not None:
        _check_webhook_url(webhook_url, environment)
        # No default: a guessable secret would let anyone feed the centre's system false alarms.
        if secret is None or len(secret) < MIN_WEBHOOK_SECRET_LENGTH:
            raise ConfigError(
                f"PORTAL_WEBHOOK_SECRET must be set to at least {MIN_WEBHOOK_SECRET_LENGTH} "
                "characters when PORTAL_WEBHOOK_URL is"
            )
    return Notifications(
        smtp=_smtp_server(env.get("PORTAL_SMTP_URL", "").strip()),
        mail_from=env.get("PORTAL_MAIL_FROM", "").strip() or f"QR 111 <qr111@{base_host}>",
        webhook_url=webhook_url,
        webhook_secret=secret if webhook_url else None,
        digest_hour=_bounded_int(env, "PORTAL_NOTIFY_DIGEST_HOUR", DEFAULT_DIGEST_HOUR, 0, 23),
    )


def _smtp_server(url: str) -> SmtpServer | None:
    if not url:
        return None
    parts = urlsplit(url)
    shown = parts._replace(netloc=parts.hostname or "").geturl()  # never echo the password
    if parts.scheme not in SMTP_SCHEMES or not parts.hostname:
        raise ConfigError(
            f"PORTAL_SMTP_URL={shown!r}: use smtp://user:password@host:587 (STARTTLS), "
            "smtps://... (TLS) or smtp+plain://127.0.0.1:25 (a relay on this machine)"
        )
    if parts.scheme == "smtp+plain" and parts.hostname not in LOOPBACK_HOSTS:
        raise ConfigError(f"PORTAL_SMTP_URL={shown!r}: smtp+plain:// is for a loopback relay only")
    try:
        port = parts.port or SMTP_SCHEMES[parts.scheme]
    except ValueError:
        raise ConfigError(f"PORTAL_SMTP_URL={shown!r}: the port is not a number") from None
    tls = {"smtp": "starttls", "smtps": "implicit", "smtp+plain": "none"}[parts.scheme]
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return SmtpServer(parts.hostname, port, tls, username, password)


def _check_webhook_url(url: str, environment: Environment) -> None:
    parts = urlsplit(url)
    loopback = parts.hostname in LOOPBACK_HOSTS
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"PORTAL_WEBHOOK_URL={url!r} must be an http(s) URL")
    if parts.scheme == "http" and environment is Environment.PRODUCTION and not loopback:
        raise ConfigError("PORTAL_WEBHOOK_URL must use https in production (or be on loopback)")
