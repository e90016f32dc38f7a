"""Rate limits of the child's side (Flask-Limiter), keyed without keeping any address."""

from __future__ import annotations

import functools
import hmac
import ipaddress
import logging
import math
import secrets
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple, ParamSpec, cast

from flask import Flask, Response, current_app, g, request
from flask_limiter import Limiter
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisSentinelStorage, RedisStorage, Storage

from portal import clock
from portal.config import Config
from portal.services.codes import normalize_code
from portal.web.context import get_config

if TYPE_CHECKING:  # redis is needed only with a Redis storage (the prod extra installs it)
    import redis
    from limits.storage.base import MovingWindowSupport

_DAY_KEYS = "portal.rate_limit_day_keys"
DAY_KEY_BYTES = 32
# One client per IPv6 /64: what a carrier gives one subscriber (RFC 6177), one phone's SLAAC.
IPV6_CLIENT_PREFIX = 64
# Flask-Limiter's first identifier: counts taken here and by its decorators share one namespace.
KEY_PREFIX = "qr111"
P = ParamSpec("P")
# Every refusal of a child's form (a client, a school or the whole service over its limit, or
# no key derivation slot free) comes this much later. A client sending at full speed (a closed
# loop: the next request leaves when the answer arrives) then sends one request a second per
# connection instead of hundreds, and a spread of addresses, which no per-client count sees,
# cannot spin on quick refusals either: the CPU stays with the children and the staff
# (bench/flood.py (c)). A child meets the wait only when refused, and gets the text back.
SLOW_REFUSAL_SECONDS = 1.0
# Of the whole service's count (all_messages), the share that messages of clients that sent
# before may take; the rest stays for first messages. Junk sent at full speed from a few
# addresses is all repeats after each address's first: without this, its first seconds filled
# the count, and children at new addresses got 429 (bench/flood.py (e), issue 14). A quarter of
# the default is 10 a second, thousands of times the real line's second messages.
REPEAT_SHARE = 0.25
# Refusals held back at once in one worker: each holds one of its threads (gunicorn.conf.py:
# 128) and no CPU, memory or database connection to speak of. Beyond these the refusal comes
# at once, so the rest of the threads always stay with the pages.
SLOW_REFUSALS_PER_WORKER = 100
_SLOW_LANE = "portal.rate_limit_slow_lane"
_COUNTS = "portal.rate_limit_counts"
REDIS_TIMEOUT_SECONDS = 2
_log = logging.getLogger(__name__)


def client_address() -> str:
    """The client as the limits count it: an IPv4 address, or the /64 of an IPv6 one.

    A phone on IPv6 holds many addresses of one /64 (privacy extensions rotate them), and a
    carrier gives each subscriber a /64 or more: counted by the full address, one phone could
    spread its requests over as many clients as it likes. An IPv4 address written as IPv6
    (::ffff:a.b.c.d) is that IPv4 address. The result is only ever hashed (client_key).
    """
    address = request.remote_addr or "unknown"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, IPV6_CLIENT_PREFIX), strict=False))
    return str(parsed)


def client_key() -> str:
    """A pseudonym of the client (client_address) that changes every UTC day (P3).

    The address itself is never stored: the limiter's storage (memory or Redis) sees only
    HMAC(day key, address), and the day key is random, shared by the instances through the
    limiter's storage and forgotten when the day ends (DayKeys): nobody, not even with the
    server secret and Redis, can test yesterday's keys against a known address.
    The day turns at 00:00 UTC, 05:00 in Kazakhstan: at night there, when the fewest
    children write, rather than at midnight, when many still do.
    """
    now = clock.now()
    key = day_keys_of(current_app).key_for(now)
    message = f"{now.date().isoformat()}|{client_address()}".encode()
    return "client:" + hmac.digest(key, message, "sha256")[:16].hex()


class DayKeys:
    """The limiter's key of the day: random, one for every instance, gone at the day's end.

    Kept where the counts are: in Redis (SET NX, expiring at the end of the UTC day, so the
    first instance to need it draws it and the others read it), or in this process's memory
    (one instance). While Redis does not answer, a key of this process's own, drawn for the
    outage only: its counts are this process's alone then anyway (Counts).
    """

    def __init__(self, counts: Counts, prefix: str) -> None:
        self._counts = counts
        self._prefix = prefix
        self._day: date | None = None
        self._key = b""
        self._fallback: tuple[date, bytes] | None = None
        self._lock = threading.Lock()

    def key_for(self, now: datetime) -> bytes:
        """The key of now's UTC day (the one before it, forgotten by this process)."""
        day = now.astimezone(UTC).date()
        with self._lock:
            if self._day == day:
                return self._key
            self._day, self._key = None, b""  # yesterday's key leaves memory first
            storage = self._counts.storage()
            if self._counts.down:  # this process's memory counts meanwhile
                return self._outage_key(day)
            if isinstance(storage, RedisStorage):  # Sentinel's too
                try:
                    shared = self._shared(storage, day, now)
                except self._counts.failures as exc:
                    self._counts.failed(exc)
                    return self._outage_key(day)
            else:
                shared = secrets.token_bytes(DAY_KEY_BYTES)
            self._day, self._key = day, shared
            return shared

    def _shared(self, storage: RedisStorage, day: date, now: datetime) -> bytes:
        connection = cast("redis.Redis", storage.get_connection())
        name = f"{self._prefix}:day-key:{day.isoformat()}"
        end = datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)
        seconds = max(1, math.ceil((end - now).total_seconds()))
        connection.set(name, secrets.token_bytes(DAY_KEY_BYTES), nx=True, ex=seconds)
        key = connection.get(name)
        if not isinstance(key, bytes) or len(key) != DAY_KEY_BYTES:
            raise StorageError(ValueError("the day key vanished"))
        return key

    def _outage_key(self, day: date) -> bytes:
        if self._fallback is None or self._fallback[0] != day:
            self._fallback = (day, secrets.token_bytes(DAY_KEY_BYTES))
        return self._fallback[1]


def day_keys_of(app: Flask) -> DayKeys:
    """The app's day keys (one per worker process)."""
    keys: DayKeys = app.extensions[_DAY_KEYS]
    return keys


def school_key() -> str:
    """All messages to one school's page share a count (the code as the poster prints it)."""
    code = (request.view_args or {}).get("code", "")
    return "school:" + (normalize_code(str(code)) or "unknown")


def everyone_key() -> str:
    """One count for the whole service."""
    return "everyone"


def client_messages() -> str:
    """The configured per-client limit of messages (reports and follow-ups)."""
    return get_config().limits.client_messages


def school_messages() -> str:
    """The configured per-school limit of new reports."""
    return get_config().limits.school_messages


def all_messages() -> str:
    """The configured limit of messages over the whole service."""
    return get_config().limits.all_messages


def repeat_messages() -> str:
    """The share of the whole service's limit that clients with a message counted may take."""
    return _share_of(all_messages(), REPEAT_SHARE)


@functools.lru_cache(maxsize=16)
def _share_of(limits: str, share: float) -> str:
    return ";".join(
        f"{max(1, int(item.amount * share))} per {item.multiples} {item.GRANULARITY.name}"
        for item in _parsed(limits)
    )


def receipt_failures() -> str:
    """The configured limit of wrong receipts per client."""
    return get_config().limits.receipt_failures


def all_receipt_failures() -> str:
    """The configured limit of wrong receipts of clients that failed before, together."""
    return get_config().limits.receipt_failures_all


def receipt_retries() -> str:
    """The configured limit of checks, all together, of clients past their own limit."""
    return get_config().limits.receipt_retries


def untouched(scope: str, limits: Callable[[], str], key: Callable[[], str]) -> bool:
    """Whether nothing is counted under this key in any of the limits' windows now."""
    counts = counts_of(current_app)
    storage = counts.storage()
    try:
        windows = [_window(item, key(), scope) for item in _parsed(limits())]
        return storage.untouched(windows)
    except counts.failures as exc:
        counts.failed(exc)
        return False


@dataclass(frozen=True)
class Window:
    """One limit's moving window under one key, as limits' MovingWindowRateLimiter names it:
    its storage key, how many entries it holds and for how many seconds. `spared`: over its
    limit, the request is let through uncounted instead of refused (Rule.spares)."""

    key: str
    amount: int
    expiry: int
    spared: bool = False
    # Spared only while the take's probes are untouched (Rule.spared_while_untouched).
    spared_if_untouched: bool = False


def _window(
    item: RateLimitItem, key: str, scope: str, spared: bool = False, if_untouched: bool = False
) -> Window:
    return Window(
        item.key_for(KEY_PREFIX, key, scope), item.amount, item.get_expiry(), spared, if_untouched
    )


class Taken(NamedTuple):
    """What GivingBack.take_all did: the index of the window that refused (None: none did),
    the indexes of the windows it took an entry in, and whether the probes were untouched."""

    refused: int | None
    taken: list[int]
    untouched: bool = True


class GivingBack(ABC):
    """A moving-window storage whose newest entry under a key can be removed again."""

    @abstractmethod
    def give_back(self, key: str) -> None:
        """Remove the newest entry of key's moving window (whoever's it is, the count is the
        same), if there is one."""

    def take_all(self, windows: list[Window], probes: Sequence[Window] = ()) -> Taken:
        """First whether the probes' windows are all untouched (as `untouched`), then an
        entry in each window, in order, as MovingWindowRateLimiter.hit takes it: the first
        window full and not spared refuses (a window spared_if_untouched is spared when the
        probes were untouched), and every entry taken is given back first, none listed.

        Here one window at a time (memory: no round trips to save); Redis does it all in one
        script (RedisWindows), atomically, with the same rules.
        """
        storage = cast("MovingWindowSupport", self)
        untouched = self.untouched(list(probes))
        taken: list[int] = []
        for index, window in enumerate(windows):
            if storage.acquire_entry(window.key, window.amount, window.expiry):
                taken.append(index)
            elif not (window.spared or (window.spared_if_untouched and untouched)):
                for earlier in reversed(taken):
                    self.give_back(windows[earlier].key)
                return Taken(index, [], untouched)
        return Taken(None, taken, untouched)

    def untouched(self, windows: list[Window]) -> bool:
        """Whether no window holds an entry now (MovingWindowRateLimiter.get_window_stats
        shows all its amount remaining in each)."""
        storage = cast("MovingWindowSupport", self)
        return all(
            storage.get_moving_window(window.key, window.amount, window.expiry)[1] == 0
            for window in windows
        )


# limits keeps no way to remove one entry of a moving window, and Flask-Limiter builds its
# storage from a URI through limits' registry of schemes (the documented way to add a storage,
# by a class attribute). So each storage the config admits (config.LIMIT_STORAGE_SCHEMES) has a
# subclass here that adds `give_back`, registered under the same scheme behind this prefix;
# init_app puts it before the configured URI. limits' own schemes stay as they are.
# (STORAGE_SCHEME: a list, as limits declares it, hence the noqa for a mutable class attribute.)
SCHEME_PREFIX = "qr111+"


class MemoryWindows(MemoryStorage, GivingBack):
    """limits' in-memory storage (one process: development and tests), giving hits back."""

    STORAGE_SCHEME = [SCHEME_PREFIX + "memory"]  # noqa: RUF012

    def give_back(self, key: str) -> None:
        """Remove the newest entry of key's moving window, if there is one."""
        # This storage's own entries, newest first (acquire_entry inserts at 0), under the
        # key's lock, which acquire_entry and the sweeping timer that drops expired entries
        # take too. limits documents no other way to them: tests/web/test_ratelimit.py
        # checks this against the public count (get_moving_window) of the installed limits.
        with self.locks[key]:
            entries = self.events.get(key)
            if entries:
                del entries[0]


def _redis_give_back(storage: RedisStorage, key: str) -> None:
    # acquire_entry pushes each entry onto the head of a list at the prefixed key (one atomic
    # script): popping the head removes the newest. get_connection is typed by limits as a
    # protocol that lists only the commands limits uses; it is a redis.Redis.
    cast("redis.Redis", storage.get_connection()).lpop(storage.prefixed_key(key))


# A POST's hits in one round trip instead of one per window (issue 17: each cost ~0.1 ms of
# the worker's and Redis's CPU, and a report took four to eight), with the question asked before
# them (is the client's count untouched?). A window's count is read as limits' moving_window.lua
# reads it (a binary search for the oldest entry still in it); each window is taken exactly as
# limits' acquire_moving_window.lua takes it with amount 1 (the entry at limit - 1 still in the
# window refuses; else push now, trim to the limit, renew the expiry); a refusal pops what this
# script pushed, as give_back does. tests/test_redis.py checks it against limits' own.
_COUNTED = """
local now = tonumber(ARGV[1])
local function counted(key, limit, expiry)
    local low, high = 0, limit - 1
    local target = now - expiry
    while low <= high do
        local mid = math.floor((low + high) / 2)
        local value = tonumber(redis.call('lindex', key, mid))
        if value and value >= target then
            return true
        end
        high = mid - 1
    end
    return false
end
"""
# KEYS: the probes, then the windows; ARGV: now, the number of probes, each probe's limit and
# expiry, each window's limit, expiry and mode (0: refuses, 1: spared, 2: spared if untouched).
_TAKE_ALL = (
    _COUNTED
    + """
local probes = tonumber(ARGV[2])
local untouched = 1
for i = 1, probes do
    if counted(KEYS[i], tonumber(ARGV[1 + 2 * i]), tonumber(ARGV[2 + 2 * i])) then
        untouched = 0
    end
end
local taken = {}
local base = 2 + 2 * probes
for i = probes + 1, #KEYS do
    local at = base + 3 * (i - probes - 1)
    local key = KEYS[i]
    local limit = tonumber(ARGV[at + 1])
    local expiry = tonumber(ARGV[at + 2])
    local mode = ARGV[at + 3]
    local entry = redis.call('lindex', key, limit - 1)
    if entry and tonumber(entry) >= now - expiry then
        if mode == '0' or (mode == '2' and untouched == 0) then
            for j = #taken, 1, -1 do
                redis.call('lpop', KEYS[taken[j]])
            end
            return {i - probes, {}, untouched}
        end
    else
        redis.call('lpush', key, now)
        redis.call('ltrim', key, 0, limit - 1)
        redis.call('expire', key, expiry)
        taken[#taken + 1] = i
    end
end
local indexes = {}
for j, i in ipairs(taken) do
    indexes[j] = i - probes
end
return {0, indexes, untouched}
"""
)
# Whether no window holds an entry: one round trip for them all. KEYS: the windows; ARGV: now,
# then each window's limit and expiry.
_UNTOUCHED = (
    _COUNTED
    + """
for i, key in ipairs(KEYS) do
    if counted(key, tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])) then
        return 0
    end
end
return 1
"""
)


def _now() -> float:
    """Now as limits stamps its entries (seconds since the epoch), read from the one clock
    (time-machine moves both in the tests)."""
    return clock.now().timestamp()


class _RedisScripts:
    """The two scripts above, registered with a storage's connection (redis-py loads a script
    again by itself when Redis forgot it)."""

    def __init__(self, storage: RedisStorage) -> None:
        connection = cast("redis.Redis", storage.get_connection())
        self.storage = storage
        self.take_all = connection.register_script(_TAKE_ALL)
        self.untouched = connection.register_script(_UNTOUCHED)

    def take(self, windows: list[Window], probes: Sequence[Window]) -> Taken:
        """GivingBack.take_all in one script."""
        if not windows:
            return Taken(None, [], self.none_counted(list(probes)))
        keys = [self.storage.prefixed_key(window.key) for window in [*probes, *windows]]
        arguments: list[float | int] = [_now(), len(probes)]
        for probe in probes:
            arguments += [probe.amount, probe.expiry]
        for window in windows:
            mode = 1 if window.spared else 2 if window.spared_if_untouched else 0
            arguments += [window.amount, window.expiry, mode]
        refused, taken, untouched = self.take_all(keys, arguments)
        if refused:
            return Taken(int(refused) - 1, [], bool(untouched))
        return Taken(None, [int(index) - 1 for index in taken], bool(untouched))

    def none_counted(self, windows: list[Window]) -> bool:
        """GivingBack.untouched in one script."""
        if not windows:
            return True
        keys = [self.storage.prefixed_key(window.key) for window in windows]
        arguments: list[float | int] = [_now()]
        for window in windows:
            arguments += [window.amount, window.expiry]
        return bool(self.untouched(keys, arguments))


class RedisWindows(RedisStorage, GivingBack):
    """limits' Redis storage (production: every worker counts in one place), giving hits back."""

    STORAGE_SCHEME = [SCHEME_PREFIX + s for s in ("redis", "rediss", "redis+unix")]  # noqa: RUF012

    def __init__(self, uri: str, **options: Any) -> None:  # options: RATELIMIT_STORAGE_OPTIONS
        super().__init__(uri.removeprefix(SCHEME_PREFIX), **options)
        self.qr111_scripts = _RedisScripts(self)

    def give_back(self, key: str) -> None:
        """Remove the newest entry of key's moving window, if there is one."""
        _redis_give_back(self, key)

    def take_all(self, windows: list[Window], probes: Sequence[Window] = ()) -> Taken:
        """GivingBack.take_all, in one round trip."""
        return self.qr111_scripts.take(windows, probes)

    def untouched(self, windows: list[Window]) -> bool:
        """GivingBack.untouched, in one round trip."""
        return self.qr111_scripts.none_counted(windows)


class RedisSentinelWindows(RedisSentinelStorage, GivingBack):
    """limits' Redis Sentinel storage, giving hits back."""

    STORAGE_SCHEME = [SCHEME_PREFIX + "redis+sentinel"]  # noqa: RUF012

    def __init__(self, uri: str, **options: Any) -> None:  # options: RATELIMIT_STORAGE_OPTIONS
        super().__init__(uri.removeprefix(SCHEME_PREFIX), **options)
        self.qr111_scripts = _RedisScripts(self)

    def give_back(self, key: str) -> None:
        """Remove the newest entry of key's moving window, if there is one (on the master)."""
        _redis_give_back(self, key)

    def take_all(self, windows: list[Window], probes: Sequence[Window] = ()) -> Taken:
        """GivingBack.take_all, in one round trip (on the master)."""
        return self.qr111_scripts.take(windows, probes)

    def untouched(self, windows: list[Window]) -> bool:
        """GivingBack.untouched, in one round trip (on the master)."""
        return self.qr111_scripts.none_counted(windows)


limiter = Limiter(key_func=client_key, headers_enabled=False, strategy="moving-window")


def _never() -> bool:
    return False


@dataclass(frozen=True)
class Rule:
    """One limit of the child's forms: which count, whose, and which requests keep their hit.

    Every request the rule applies to takes its hit first, atomically (a check followed by a
    later hit let concurrent requests all pass the check); when the response shows the request
    should not count (`keeps` is false: nothing was stored, the receipt was right), the hit is
    given back. Requests for which `exempt` is true are not counted at all; those for which
    `spares` is true are counted while under the limit, and never refused by it.
    """

    scope: str
    limits: Callable[[], str]
    key: Callable[[], str]
    keeps: Callable[[Response], bool]
    exempt: Callable[[], bool] = _never
    spares: Callable[[], bool] = _never
    # Spared, as `spares`, while nothing is counted under this other rule (its limits, its
    # key): asked in the same round trip as the hits and before them; `untouched_when_taken`
    # tells the answer afterwards.
    spared_while_untouched: Rule | None = None


@dataclass(frozen=True)
class _Hit:
    storage: GivingBack
    rule: Rule
    key: str


@functools.lru_cache(maxsize=64)
def _parsed(text: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(text))


def take(rules: tuple[Rule, ...]) -> Rule | None:
    """Count this request against each rule, atomically; the rule whose limit is reached (and
    nothing kept), or None. The hits taken are given back after the response where the rules
    say so. While the configured storage does not answer, this process's memory counts."""
    counts = counts_of(current_app)
    storage = counts.storage()
    try:
        return _take(storage, rules)
    except counts.failures as exc:
        counts.failed(exc)
        # The hits taken in the storage that failed cannot be given back: they are let go.
        g.rate_limit_hits = [
            hit for hit in g.get("rate_limit_hits", []) if hit.storage is not storage
        ]
        return _take(counts.memory, rules)


def _take(storage: GivingBack, rules: tuple[Rule, ...]) -> Rule | None:
    # Every exemption is decided before any hit: one may ask whether a count is still untouched.
    counted = [(rule, rule.spares()) for rule in rules if not rule.exempt()]
    windows: list[Window] = []
    owners: list[Rule] = []
    probed = {rule.spared_while_untouched for rule, _ in counted} - {None}
    if len(probed) > 1:
        raise ValueError("the rules of one take may ask after one other rule's count only")
    probes = [
        _window(item, other.key(), other.scope)
        for other in probed
        if other is not None
        for item in _parsed(other.limits())
    ]
    for rule, spared in counted:
        key = rule.key()
        if_untouched = rule.spared_while_untouched is not None
        for item in _parsed(rule.limits()):
            # Spared: over the limit, and let through, with nothing to count or give back.
            windows.append(_window(item, key, rule.scope, spared, if_untouched))
            owners.append(rule)
    # All or nothing: a refusal gives back this call's hits only (a retry, see `limited`, keeps
    # the others').
    result = storage.take_all(windows, probes)
    for other in probed:
        if other is not None:
            g.setdefault("rate_limit_untouched", {})[other.scope] = result.untouched
    if result.refused is not None:
        return owners[result.refused]
    hits: list[_Hit] = g.setdefault("rate_limit_hits", [])
    hits.extend(_Hit(storage, owners[index], windows[index].key) for index in result.taken)
    return None


def untouched_when_taken(rule: Rule) -> bool:
    """Whether this request's take found nothing counted under `rule` (a rule it took was
    spared_while_untouched by it), before any of its hits; False if none asked."""
    answers: dict[str, bool] = g.get("rate_limit_untouched", {})
    return answers.get(rule.scope, False)


# How often a storage that stopped answering is asked again (Flask-Limiter's own fallback
# backs off the same way; its fallback covers only the limits it evaluates itself, and these
# counts are taken by `take`, with hits given back, which it does not do).
RECHECK_SECONDS = 5


class Counts:
    """The configured storage (Redis in production), or this process's memory while it does not
    answer: the limits then hold per worker, looser, but children can still write (issue 19)."""

    def __init__(self, primary: Storage) -> None:
        if not isinstance(primary, GivingBack):  # init_app names only storages of this module
            raise TypeError(f"no way to give a hit back to {type(primary).__name__}")
        self.primary: GivingBack = primary
        self.memory = MemoryWindows()
        base = primary.base_exceptions
        self.failures: tuple[type[Exception], ...] = (
            StorageError,
            *(base if isinstance(base, tuple) else (base,)),
        )
        self.down_since: datetime | None = None
        self._lock = threading.Lock()

    def storage(self) -> GivingBack:
        """Where this request counts: the primary, unless it failed lately and still does."""
        with self._lock:
            if self.down_since is None:
                return self.primary
            if clock.now() - self.down_since < timedelta(seconds=RECHECK_SECONDS):
                return self.memory
            if cast("Storage", self.primary).check():
                self.down_since = None
                _log.warning("rate limit storage answers again: counting there")
                return self.primary
            self.down_since = clock.now()
            return self.memory

    def failed(self, error: Exception) -> None:
        """The primary failed a request: count in memory for a while, and say so once."""
        with self._lock:
            if self.down_since is None:
                # The kind of failure only: its text can carry the storage's address.
                _log.warning(
                    "rate limit storage does not answer (%s): counting in this process's "
                    "memory until it does",
                    type(error).__name__,
                )
            self.down_since = clock.now()

    def primary_answers(self) -> bool:
        """Whether the configured storage answers now (memory always does)."""
        return cast("Storage", self.primary).check()

    @property
    def down(self) -> bool:
        """Whether the counts are in memory now."""
        return self.down_since is not None


def claim_once(name: str, seconds: int) -> bool:
    """Mark `name` used for `seconds` where every instance sees it; False if it was already.

    Atomic (an increment in the limits' storage: two concurrent claims, one winner). While
    Redis does not answer, this process's memory remembers, as it counts (Counts).
    """
    counts = counts_of(current_app)
    key = f"{KEY_PREFIX}/used/{name}"
    storage = counts.storage()
    try:
        return cast("Storage", storage).incr(key, max(1, seconds)) == 1
    except counts.failures as exc:
        counts.failed(exc)
        return cast("Storage", counts.memory).incr(key, max(1, seconds)) == 1


def claimed(name: str) -> bool:
    """Whether `name` is claimed (claim_once), wherever it was made; nothing is claimed by it."""
    counts = counts_of(current_app)
    key = f"{KEY_PREFIX}/used/{name}"
    for storage in {id(counts.primary): counts.primary, id(counts.memory): counts.memory}.values():
        try:
            if cast("Storage", storage).get(key) > 0:
                return True
        except counts.failures as exc:
            counts.failed(exc)
    return False


def unclaim(name: str) -> None:
    """Forget a claim (nothing was done with what it guarded), wherever it was made."""
    counts = counts_of(current_app)
    key = f"{KEY_PREFIX}/used/{name}"
    for storage in {id(counts.primary): counts.primary, id(counts.memory): counts.memory}.values():
        try:
            cast("Storage", storage).clear(key)
        except counts.failures as exc:  # after the response: never the page's failure
            counts.failed(exc)


def counts_of(app: Flask) -> Counts:
    """The app's counts (one per worker process)."""
    counts: Counts = app.extensions[_COUNTS]
    return counts


class SlowLane:
    """Holds back a few refusals at once per worker; the rest are answered straight away."""

    def __init__(self, places: int, seconds: float) -> None:
        self.seconds = seconds
        self._places = threading.BoundedSemaphore(places)
        self._holding = 0
        self._lock = threading.Lock()

    def hold(self) -> bool:
        """Wait `seconds` if a place is free (True), else return at once (False)."""
        if not self._places.acquire(blocking=False):
            return False
        with self._lock:
            self._holding += 1
        try:
            time.sleep(self.seconds)
        finally:
            with self._lock:
                self._holding -= 1
            self._places.release()
        return True

    @property
    def holding(self) -> int:
        """Refusals held back now."""
        return self._holding


def slow_lane_of(app: Flask) -> SlowLane:
    """The app's slow lane (one per worker process)."""
    lane: SlowLane = app.extensions[_SLOW_LANE]
    return lane


def limited(
    *rules: Rule, refusal: Callable[[], Response], retry: Rule | None = None
) -> Callable[[Callable[P, Response]], Callable[P, Response]]:
    """Count a view's POSTs against the rules; over a limit, `refusal` answers, held back.

    With `retry`, a request over the rules' limits still goes through while the retry rule
    (a count shared by everyone over theirs) has room: one client's failures then do not
    shut out others counted as the same client (a school's shared address).
    Put it above `kdf_bound.bounded`: a refused request never waits for a key derivation slot.
    """

    def decorate(view: Callable[P, Response]) -> Callable[P, Response]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
            if request.method != "POST":
                return view(*args, **kwargs)
            if take(rules) is not None and (retry is None or take((retry,)) is not None):
                slow_lane_of(current_app).hold()  # SLOW_REFUSAL_SECONDS, whoever is over
                return refusal()
            return view(*args, **kwargs)

        return wrapper

    return decorate


def _give_back_unkept(response: Response) -> Response:
    """After the response: give back each hit its rule says this request does not keep."""
    for hit in g.pop("rate_limit_hits", ()):
        if not hit.rule.keeps(response):
            _give_back(hit)
    return response


def _give_back(hit: _Hit) -> None:
    try:
        hit.storage.give_back(hit.key)
    except counts_of(current_app).failures as exc:
        # After the response is made: a storage gone meanwhile keeps the hit, never the page.
        counts_of(current_app).failed(exc)


def init_app(app: Flask, config: Config) -> None:
    """Bind the limiter to the app with the configured storage (memory, or Redis)."""
    # One of this module's storages, which can give hits back (see SCHEME_PREFIX).
    app.config["RATELIMIT_STORAGE_URI"] = SCHEME_PREFIX + config.limits.storage_url
    app.config["RATELIMIT_KEY_PREFIX"] = KEY_PREFIX
    if config.limits.storage_url.startswith("redis"):
        # The limits library's own prefix (the one above is Flask-Limiter's and stays with the
        # first app): the counts live beside the staff sessions, under the deployment's prefix.
        # A Redis that hangs fails a count in seconds (then memory counts, see Counts), never
        # holds a child's send for the proxy's timeout.
        app.config["RATELIMIT_STORAGE_OPTIONS"] = {
            "key_prefix": limits_prefix(config),
            "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
            "socket_timeout": REDIS_TIMEOUT_SECONDS,
        }
    limiter.init_app(app)
    app.extensions[_COUNTS] = Counts(limiter.storage)
    app.extensions[_DAY_KEYS] = DayKeys(app.extensions[_COUNTS], limits_prefix(config))
    app.after_request(_give_back_unkept)
    app.extensions[_SLOW_LANE] = SlowLane(SLOW_REFUSALS_PER_WORKER, SLOW_REFUSAL_SECONDS)


def limits_prefix(config: Config) -> str:
    """The prefix of every rate-limit key in Redis (`LIMITS` would mix deployments)."""
    return f"{config.redis_prefix}:limits"
