"""gunicorn settings of the portal: `gunicorn -c gunicorn.conf.py` (what `make serve` runs).

Anything here can be overridden on the command line or in GUNICORN_CMD_ARGS, e.g.
`--bind 127.0.0.1:8001 --workers 3`. The portal's own settings stay in PORTAL_* variables,
read once per worker by portal/wsgi.py. docs/deploy.md explains the sizing.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from typing import Any

from gunicorn.glogging import Logger  # type: ignore[import-untyped]

from portal.web.logs import scrubbed

wsgi_app = "portal.wsgi:app"
# Behind nginx on the same machine; a load balancer elsewhere reaches that nginx, not us.
bind = ["127.0.0.1:8000"]
proc_name = "qr111-portal"

# One process per core. Argon2id releases the GIL while it hashes (measured: two threads of
# one process hash 1.7-2x as fast as one, and Python code beside a hashing thread keeps 99% of
# its speed), so a worker's other threads serve pages and wait on the database meanwhile: no
# extra process is needed to cover those waits, and one fewer hash at once (the bound below
# is per worker) leaves the CPU a little room for the staff pages during a flood.
workers = len(os.sched_getaffinity(0))
# Threads let a worker take the next requests and serve pages while one thread hashes; the
# number hashing at once is bounded in the app (PORTAL_MAX_KDF_CONCURRENCY,
# portal/web/kdf_bound.py),
# and reports beyond what the cores can hash get a 503 that keeps the child's text, instead of
# waiting in the listen queue for a proxy's timeout page that loses it. 128: up to 9 wait for
# the derivation slot (kdf_bound.WAITING_PER_SLOT + CHECKS_WAITING_PER_SLOT + 1), up to 100 hold
# back a refusal for a second (ratelimit.SLOW_REFUSALS_PER_WORKER: a flood's connections then
# send one request a second each instead of spinning on quick refusals), and at least 19 are
# left for pages. A waiting or held thread uses no CPU and no database connection; threads
# start only when needed.
worker_class = "gthread"
threads = 128
# Every worker builds its own app after the fork: no database connection crosses a fork.
preload_app = False
# A request that takes this long is a stuck worker (a report takes ~20 ms of CPU).
timeout = 30
graceful_timeout = 30
keepalive = 5
# The heartbeat file on tmpfs: a slow disk must not make the master kill healthy workers.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108

# X-Forwarded-* are believed by the app's ProxyFix alone, for PORTAL_TRUSTED_PROXIES hops.
forwarded_allow_ips = ""
# No control socket in a shared folder: several instances may run on one machine.
control_socket_disable = True

# Access log on stdout (journald under systemd) without the client's address, user agent,
# referrer or query string (P3): time, request line without query, status. No size and no
# duration (issue 20): the thank-you page's size said whether the child was in danger, and a
# duration can say how much a request did; the time stays to the second, as the line then
# names no school, no device and no report (the stored times are to the minute). An enrolment
# link's token is never in a path (it rides after '#'); whatever follows the enrolment page's
# path anyway, and a school's code in a child's page (/s/CODE -> /s/-), are cut by
# AddressFreeLogger.atoms below.
accesslog = "-"
access_log_format = '%(t)s "%(m)s %(U)s %(H)s" %(s)s'
errorlog = "-"
loglevel = "info"

# gunicorn's fields that give an answer's size ("B", "b") and the request's size.
_SIZES = frozenset({"B", "b", "{content-length}i", "{content-length}o"})


@functools.lru_cache(maxsize=4)
def _named(log_format: str) -> frozenset[str]:
    """The fields a log format names, as gunicorn's atoms spell them (headers in lower case)."""
    names = re.findall(r"%\(([^)]*)\)", log_format)
    return frozenset(name.lower() if name.startswith("{") else name for name in names)


# gunicorn's one warning that names the client: "Invalid request from ip=ADDRESS: ...".
_CLIENT_ADDRESS = re.compile(r"\bip=.*?: ")


class _DropClientAddress(logging.Filter):
    """Cut the client address out of gunicorn's error log messages."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = _CLIENT_ADDRESS.sub("ip=-: ", record.msg)
        return True


class AddressFreeLogger(Logger):  # type: ignore[misc]
    """gunicorn's logger whose error log never carries a client address, nor its access log
    an enrolment link's token, a school's code or a size."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        """The fields the access log format names, link tokens and school codes cut from every
        text, and no size (whatever the format asks for).

        Only those: gunicorn makes ~50 (every header and environ entry), and scrubbing them all
        cost ~50 µs a request (bench/child.py); a field the format names but gunicorn lacks
        reads "-" as before (gunicorn's SafeAtoms).
        """
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        named = _named(self.cfg.access_log_format)
        return {
            name: "-" if name in _SIZES else scrubbed(value) if isinstance(value, str) else value
            for name, value in atoms.items()
            if name in named
        }

    def setup(self, cfg: Any) -> None:
        """Set up gunicorn's handlers, then the filter (again after a reload)."""
        super().setup(cfg)
        if not any(isinstance(f, _DropClientAddress) for f in self.error_log.filters):
            self.error_log.addFilter(_DropClientAddress())


logger_class = AddressFreeLogger
