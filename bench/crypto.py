"""Benchmark portal.crypto at the production Argon2id cost (PRODUCTION_KDF).

Run by hand: python bench/crypto.py [--runs N] [--slow-runs M] [--seconds S]
Prints the median and p95 time of every operation (Argon2id operations M times, default 20;
the others N times, default 1000), the implied ceiling of report submissions per second on
two cores, the same measured with two processes sealing reports in parallel, and the cost
of guessing receipts.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from portal import crypto

PASSWORD = "correct horse battery staple"  # noqa: S105 -- a benchmark input
SECRET = b"bench-server-secret-" + b"x" * 16
TEXT = ("Мені мектепте ұрады. Помогите. " * 40)[:1000]  # about 1 KB of Kazakh/Russian
SECONDS_PER_YEAR = 365.25 * 24 * 3600


@dataclass(frozen=True)
class Timing:
    """Timings of one operation, in seconds."""

    name: str
    samples: list[float]

    @property
    def median(self) -> float:
        """The median time."""
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        """The 95th percentile time."""
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def measure(name: str, runs: int, operation: Callable[[], object]) -> Timing:
    """Time operation runs times (after one warm-up call)."""
    operation()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        operation()
        samples.append(time.perf_counter() - started)
    return Timing(name, samples)


def run_all(runs: int, slow_runs: int) -> list[Timing]:
    """Measure every operation at PRODUCTION_KDF."""
    params = crypto.PRODUCTION_KDF
    staff, inbox = crypto.generate_keypair(), crypto.generate_keypair()
    sealed_private = crypto.seal_private_key(staff.private, PASSWORD, params)
    wrapped = crypto.wrap_key(b"k" * 32, staff.public, b"bench")
    grant = crypto.grant_inbox(inbox.private, staff.public, "national")
    receipt = crypto.new_receipt()
    sealed, keys = crypto.seal_report(inbox.public, receipt, SECRET)
    stretched = crypto.stretch_receipt(receipt, SECRET)
    rid = sealed.report_id
    message = crypto.seal_message(keys.message_key, rid, 0, crypto.Author.CHILD, TEXT)
    cookie, server = crypto.split_secret(staff.private)
    return [
        measure("generate_keypair", runs, crypto.generate_keypair),
        measure(
            "seal_private_key",
            slow_runs,
            lambda: crypto.seal_private_key(staff.private, PASSWORD, params),
        ),
        measure(
            "open_private_key", slow_runs, lambda: crypto.open_private_key(sealed_private, PASSWORD)
        ),
        measure("wrap_key", runs, lambda: crypto.wrap_key(b"k" * 32, staff.public, b"bench")),
        measure("unwrap_key", runs, lambda: crypto.unwrap_key(wrapped, staff.private, b"bench")),
        measure(
            "grant_inbox", runs, lambda: crypto.grant_inbox(inbox.private, staff.public, "national")
        ),
        measure(
            "open_inbox_key", runs, lambda: crypto.open_inbox_key(grant, staff.private, "national")
        ),
        measure("receipt_lookup", slow_runs, lambda: crypto.receipt_lookup(receipt, SECRET)),
        measure(
            "seal_report",
            slow_runs,
            lambda: crypto.seal_report(inbox.public, receipt, SECRET),
        ),
        measure(
            "open_report_as_staff",
            runs,
            lambda: crypto.open_report_as_staff(sealed.key_for_inbox, inbox.private, rid),
        ),
        measure(
            "open_report_with_receipt",  # after stretch_receipt, whose Argon2id found the report
            runs,
            lambda: crypto.open_report_with_receipt(sealed.key_for_receipt, stretched, rid),
        ),
        measure(
            "seal_message (1 KB)",
            runs,
            lambda: crypto.seal_message(keys.message_key, rid, 0, crypto.Author.CHILD, TEXT),
        ),
        measure(
            "open_message (1 KB)",
            runs,
            lambda: crypto.open_message(message, keys.message_key, rid, 0),
        ),
        measure("split_secret", runs, lambda: crypto.split_secret(staff.private)),
        measure("join_secret", runs, lambda: crypto.join_secret(cookie, server)),
    ]


def _seal_reports_for(seconds: float) -> int:
    """Worker: seal reports at PRODUCTION_KDF for the given time; return how many."""
    inbox = crypto.generate_keypair()
    count, deadline = 0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        crypto.seal_report(inbox.public, crypto.new_receipt(), SECRET)
        count += 1
    return count


def measured_parallel_ceiling(workers: int = 2, seconds: float = 5.0) -> float:
    """Reports sealed per second by `workers` processes sealing side by side."""
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_seal_reports_for, [0.2] * workers))  # start and warm the workers
        started = time.perf_counter()
        counts = list(pool.map(_seal_reports_for, [seconds] * workers))
        elapsed = time.perf_counter() - started
    return sum(counts) / elapsed


def submission_ceiling(cores: int = 2, runs: int = 20) -> float:
    """Implied report submissions per second on `cores` cores: cores / median seal_report."""
    inbox = crypto.generate_keypair()
    timing = measure(
        "seal_report",
        runs,
        lambda: crypto.seal_report(inbox.public, "0" * 16, SECRET),
    )
    return cores / timing.median


def _years(seconds: float) -> str:
    return f"{seconds / SECONDS_PER_YEAR:.3g} core-years"


def main(argv: list[str] | None = None) -> int:
    """Print the table, the submission ceiling and the receipt guessing cost."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=1000, help="runs of each cheap operation")
    parser.add_argument("--slow-runs", type=int, default=20, help="runs of Argon2id operations")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of the parallel run")
    args = parser.parse_args(argv)

    params = crypto.PRODUCTION_KDF
    print(f"portal.crypto at Argon2id m={params.memory_kib} KiB, t={params.iterations}, ", end="")
    print(f"p={params.lanes}; Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    timings = run_all(args.runs, args.slow_runs)
    print(f"\n{'operation':<26} {'runs':>5} {'median ms':>10} {'p95 ms':>10} {'ops/s':>10}")
    for timing in timings:
        print(
            f"{timing.name:<26} {len(timing.samples):>5} {timing.median * 1e3:>10.3f}"
            f" {timing.p95 * 1e3:>10.3f} {1 / timing.median:>10.0f}"
        )
    by_name = {timing.name: timing for timing in timings}
    seal = by_name["seal_report"].median
    print(f"\nsubmission ceiling on 2 cores, implied: 2 / {seal * 1e3:.1f} ms = {2 / seal:.1f}/s")
    parallel = measured_parallel_ceiling(2, args.seconds)
    print(f"submission ceiling, 2 processes for {args.seconds:g} s, measured: {parallel:.1f}/s")
    print(f"  = {parallel * 86400:,.0f} reports a day (the 111 line gets about 360)")

    guess = by_name["receipt_lookup"].median
    half_space = 10**16 / 2
    print("\nreceipt guessing (16 digits, 10^16 receipts), one CPU core at this speed:")
    print(f"  one guess = one Argon2id = {guess * 1e3:.1f} ms")
    print(f"  one chosen report, expected 5e15 guesses: {_years(half_space * guess)}")
    for reports in (10**5, 10**6):
        print(
            f"  any one of {reports:,} live reports (with the server secret): "
            f"{_years(10**16 / reports * guess)}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
