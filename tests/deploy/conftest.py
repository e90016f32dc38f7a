"""What the deployment tests share: the repository's deploy/ folder and Debian's programs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parent.parent.parent / "deploy"
BIN = DEPLOY / "bin"


def program(name: str, package: str) -> str:
    """The path of a Debian program the test needs. Missing: a failure where `make system-deps`
    could have installed it (root with apt), else a skip that says how to get it."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        pytest.fail(f"{name} is missing: run `make system-deps` (installs {package})")
    pytest.skip(
        f"{name} is missing and this user cannot install it: sudo apt-get install {package}"
    )
