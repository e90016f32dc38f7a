"""Hypothesis profiles of the fuzz tests: `fast` in `make test`, `long` in `make fuzz`.

QR111_FUZZ=long picks the long one; it is read when the test modules are collected.
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

VARIABLE = "QR111_FUZZ"
TESTS = 4  # fuzz tests sharing the budget below: fast 400 cases, long 10,400
# The requests are slow examples by Hypothesis' measure, and the fixtures (an app, logged-in
# staff) are meant to live across examples: state piling up between requests is part of it.
_SUPPRESSED = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
# Failing examples found by a long run are kept (in an ignored folder) and tried first after.
_FOUND = DirectoryBasedExampleDatabase(
    Path(__file__).resolve().parents[2] / ".pytest_cache" / "hypothesis"
)

settings.register_profile(
    "fast",  # a few hundred cases in all; the same ones each run, so CI is not flaky
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=_SUPPRESSED,
)
settings.register_profile(
    "long",  # at least 10,000 cases in all, new ones each run
    max_examples=2600,
    deadline=None,
    database=_FOUND,
    suppress_health_check=_SUPPRESSED,
)


def fuzz_settings() -> settings:
    """The profile the environment asks for (fast by default)."""
    return settings.get_profile(os.environ.get(VARIABLE, "fast"))
