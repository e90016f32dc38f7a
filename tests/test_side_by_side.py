"""tests/side_by_side.py, which `make pytest` and `make calendar` run the suite's parts with."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "side_by_side.py"


def side_by_side(*arguments: str) -> subprocess.CompletedProcess[str]:
    """The script run with these arguments, its output and exit status."""
    return subprocess.run(
        [sys.executable, str(SCRIPT), *arguments], capture_output=True, text=True, check=False
    )


def test_the_commands_run_together_and_their_logs_come_whole_in_order() -> None:
    started = time.monotonic()
    done = side_by_side(
        "slow", "echo one; sleep 2; echo two", "quick", "echo three; echo four >&2; sleep 2"
    )
    assert time.monotonic() - started < 3.5, "side by side (one after the other: 4 s)"
    assert done.returncode == 0
    logs = done.stdout[done.stdout.index("== slow") :]
    assert logs.index("one\ntwo\n") < logs.index("== quick") < logs.index("three\nfour\n")


def test_any_command_failing_fails_the_whole_and_is_named() -> None:
    done = side_by_side("fine", "true", "broken", "echo why; exit 3")
    assert done.returncode == 1
    assert "why" in done.stdout and "== failed: broken" in done.stdout
    assert "== failed: fine" not in done.stdout


def test_without_pairs_it_says_how_to_call_it() -> None:
    done = side_by_side("a title without its command")
    assert done.returncode == 2 and "TITLE COMMAND" in done.stderr
