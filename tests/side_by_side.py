"""Run commands side by side, one a core (`make pytest`, `make calendar`).

    python tests/side_by_side.py TITLE COMMAND [TITLE COMMAND ...]

Each COMMAND (a shell line) writes to a log of its own; once all have ended, each log is printed
whole under its TITLE and the seconds it took, in the order given, so that the runs' lines never
mix. Exits 1 if any command failed. Interrupted, it stops the commands it started.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO


@dataclass
class Run:
    """One command started, the log it writes and when it started."""

    title: str
    process: subprocess.Popen[bytes]
    log: IO[bytes]
    started: float
    seconds: float = 0.0


def start(title: str, command: str, log: IO[bytes]) -> Run:
    """Start a shell line, its output and errors into `log`."""
    process = subprocess.Popen(command, shell=True, stdout=log, stderr=subprocess.STDOUT)  # noqa: S602 -- the Makefile's own lines
    return Run(title, process, log, time.monotonic())


def main(argv: list[str]) -> int:
    """Start every command, wait for all, print their logs; 1 if any failed."""
    if not argv or len(argv) % 2:
        print(__doc__, file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="side-by-side-") as folder:
        runs: list[Run] = []
        try:
            for number, (title, command) in enumerate(zip(argv[::2], argv[1::2], strict=True)):
                print(f"== started: {title}", flush=True)
                log = (Path(folder) / f"{number}.log").open("w+b")
                runs.append(start(title, command, log))
            for run in runs:
                run.process.wait()
                run.seconds = time.monotonic() - run.started
        finally:
            for run in runs:
                if run.process.poll() is None:
                    run.process.terminate()
                    run.process.wait()
        for run in runs:
            print(f"== {run.title} ({run.seconds:.0f} s)", flush=True)
            run.log.seek(0)
            sys.stdout.buffer.write(run.log.read())
            sys.stdout.buffer.flush()
            run.log.close()
        failed = [run.title for run in runs if run.process.returncode != 0]
        for title in failed:
            print(f"== failed: {title}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
