"""/etc/qr111/portal.env is read by systemd (EnvironmentFile=) and by the operator's helper
(deploy/bin/qr111-env, sh): one rule, NAME='value', and both read the same values (issue 19:
unquoted, '5/minute;30/hour;100/day' became '5/minute' for sh and a URL with '&' broke it).

systemd's side is read by systemd's own parser: the environment.d generator, which reads files of
the same syntax with the same code as EnvironmentFile= (it also expands $NAME, which
EnvironmentFile= does not: the values here have no '$').
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from portal.config import Environment, load_config
from tests.deploy.conftest import BIN, DEPLOY

GENERATOR = Path("/usr/lib/systemd/user-environment-generators/30-systemd-environment-d-generator")
TRICKY = {
    "PORTAL_LIMIT_CLIENT": "5/minute;30/hour;100/day",
    "PORTAL_DATABASE_URL": "postgresql+psycopg://qr111:p%40ss@db/qr111?connect_timeout=5&sslmode=require",
    "PORTAL_EXIT_URL": "https://www.google.com/search?q=weather&hl=kk",
    "SPACES_AND_MARKS": 'a # not a comment \\n "quoted" | < > `tick` (x)',
}


def env_file(folder: Path, values: dict[str, str]) -> Path:
    """A file in the rule: comments, an empty line, NAME='value' lines."""
    lines = ["# the portal's settings", ""] + [
        f"{name}='{value}'" for name, value in values.items()
    ]
    path = folder / "portal.env"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def read_by_helper(path: Path) -> dict[str, str]:
    """The environment qr111-env gives the command it runs."""
    done = subprocess.run(
        ["env", "-i", str(BIN / "qr111-env"), str(path), "env", "-0"],
        capture_output=True,
        check=True,
        timeout=30,
    )
    pairs = (item.split("=", 1) for item in done.stdout.decode().split("\0") if item)
    return {name: value for name, value in pairs if name != "PWD"}


def read_by_systemd(path: Path, work: Path) -> dict[str, str]:
    """The values systemd's parser reads from the file (the generator prints them sh-quoted)."""
    if not GENERATOR.exists():
        pytest.skip(f"systemd's parser is not here ({GENERATOR}): apt-get install systemd")
    config = work / f"config-{path.name}"
    (config / "environment.d").mkdir(parents=True)
    (config / "environment.d" / "portal.conf").write_bytes(path.read_bytes())
    done = subprocess.run(
        ["env", "-i", f"XDG_CONFIG_HOME={config}", str(GENERATOR)],
        capture_output=True,
        check=True,
        timeout=30,
    )
    found = {}
    for line in done.stdout.decode().splitlines():
        name, quoted = line.split("=", 1)
        # Printed as sh reads it: in double quotes, with \\ \" \` \$ escaped.
        inner = quoted[1:-1] if quoted[:1] == '"' == quoted[-1:] else quoted
        found[name] = re.sub(r'\\([\\"`$])', r"\1", inner)
    return found


def test_tricky_values_are_read_the_same_by_systemd_and_the_helper(tmp_path: Path) -> None:
    path = env_file(tmp_path, TRICKY)
    by_helper = read_by_helper(path)
    by_systemd = read_by_systemd(path, tmp_path)
    by_systemd = {name: value for name, value in by_systemd.items() if name in TRICKY}
    assert by_helper == by_systemd == TRICKY


def test_the_shipped_examples_follow_the_rule(tmp_path: Path) -> None:
    for example in ("portal.env.example", "backup.env.example"):
        path = DEPLOY / example
        by_helper = read_by_helper(path)
        by_systemd = read_by_systemd(path, tmp_path)
        names = [
            line.split("=", 1)[0] for line in path.read_text().splitlines() if line[:1].isalpha()
        ]
        assert names and {n: by_helper[n] for n in names} == {n: by_systemd[n] for n in names}
    assert (
        read_by_helper(DEPLOY / "portal.env.example")["PORTAL_LIMIT_CLIENT"]
        == TRICKY["PORTAL_LIMIT_CLIENT"]
    )


@pytest.mark.parametrize(
    "line",
    [
        "PORTAL_LIMIT_CLIENT=5/minute;30/hour;100/day",
        'PORTAL_BASE_URL="https://qr111.kz"',
        "export PORTAL_ENV='production'",
    ],
)
def test_a_line_outside_the_rule_is_refused_by_number_not_shown(tmp_path: Path, line: str) -> None:
    path = tmp_path / "portal.env"
    path.write_text(f"PORTAL_ENV='production'\n{line}\n", encoding="utf-8")
    done = subprocess.run(
        [str(BIN / "qr111-env"), str(path), "true"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 65
    assert "line(s) 2 " in done.stderr
    assert line.split("=", 1)[1] not in done.stderr  # a value may be a secret


# A setting left at its default: "# NAME='value'" (remove the "# " to change it).
COMMENTED = re.compile(r"^# (PORTAL_[A-Z0-9_]+='[^']*')$")


class Reading(Mapping[str, str]):
    """An environment that remembers every name asked of it."""

    def __init__(self, values: dict[str, str]) -> None:
        self.known = values
        self.asked: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.asked.add(name)
        return self.known[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.known)

    def __len__(self) -> int:
        return len(self.known)


def example_uncommented(folder: Path) -> Path:
    """deploy/portal.env.example with every default shown made a setting."""
    lines = (DEPLOY / "portal.env.example").read_text(encoding="utf-8").splitlines()
    path = folder / "portal-all.env"
    path.write_text("\n".join(COMMENTED.sub(r"\1", line) for line in lines) + "\n")
    return path


def test_the_example_names_every_variable_the_portal_reads(tmp_path: Path) -> None:
    """load_config's names are the example's, set or shown at their default; with all of them
    set the example is a configuration production accepts, read the same both ways."""
    example = (DEPLOY / "portal.env.example").read_text(encoding="utf-8")
    shown = {
        line.removeprefix("# ").split("=", 1)[0]
        for line in example.splitlines()
        if line.startswith("PORTAL_") or COMMENTED.match(line)
    }
    path = example_uncommented(tmp_path)
    values = read_by_helper(path)
    assert {name for name in values if name.startswith("PORTAL_")} == shown
    by_systemd = read_by_systemd(path, tmp_path)
    assert {n: values[n] for n in shown} == {n: by_systemd[n] for n in shown}
    env = Reading({**values, "PORTAL_INSTANCE_PATH": str(tmp_path / "instance")})
    config = load_config(env)
    assert config.env is Environment.PRODUCTION
    assert config.notifications.smtp is not None and config.notifications.webhook_url
    portal_names = {name for name in env.asked if name.startswith("PORTAL_")}
    assert portal_names == shown, (
        f"read but not in the example: {sorted(portal_names - shown)}; "
        f"in the example but never read: {sorted(shown - portal_names)}"
    )


def test_the_defaults_shown_are_the_defaults(tmp_path: Path) -> None:
    """A commented line's value is what the portal uses without it (the notification settings,
    which have no default, excepted)."""
    no_default = {
        "PORTAL_SMTP_URL",
        "PORTAL_MAIL_FROM",
        "PORTAL_WEBHOOK_URL",
        "PORTAL_WEBHOOK_SECRET",
        "PORTAL_RATELIMIT_STORAGE_URL",
    }
    example = (DEPLOY / "portal.env.example").read_text(encoding="utf-8").splitlines()
    active = read_by_helper(DEPLOY / "portal.env.example")
    defaults = {
        match.group(1).split("=", 1)[0]: match.group(1).split("=", 1)[1].strip("'")
        for match in map(COMMENTED.match, example)
        if match is not None
    }
    instance = {"PORTAL_INSTANCE_PATH": str(tmp_path / "instance")}
    plain = load_config({**active, **instance})
    shown = {name: value for name, value in defaults.items() if name not in no_default}
    assert load_config({**active, **shown, **instance}) == plain
