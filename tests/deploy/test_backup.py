"""The backup and restore scripts (deploy/bin/qr111-backup, qr111-restore): a failing pg_dump
fails the backup loudly and leaves nothing that looks like one; a dump is 0600 and encrypted;
and, on PostgreSQL, a restore drill as docs/deploy.md has the operator do it every month.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import stat
import subprocess
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from portal import create_app
from portal.web.context import engine_of
from tests.conftest import Backend
from tests.deploy.conftest import BIN, program
from tests.worlds import TEXT, Desk, receipt_of, report_id


def age_keys(folder: Path) -> tuple[str, Path]:
    """A new age key pair: the public key, and the identity file."""
    identity = folder / "backup.key"
    subprocess.run(
        [program("age-keygen", "age"), "-o", str(identity)], check=True, capture_output=True
    )
    public = subprocess.run(
        [program("age-keygen", "age"), "-y", str(identity)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return public, identity


def backup(folder: Path, database: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """Run the backup script as its unit would, into folder/backups."""
    public, _identity = age_keys(folder)
    env = {
        "PATH": os.environ["PATH"],
        "BACKUP_PUBLIC_KEY": public,
        "BACKUP_DIR": str(folder / "backups"),
        "BACKUP_DATABASE": database,
        **extra,
    }
    return subprocess.run(
        [str(BIN / "qr111-backup")], env=env, capture_output=True, text=True, timeout=120
    )


def test_a_failing_pg_dump_fails_the_backup_and_leaves_no_file(tmp_path: Path) -> None:
    program("pg_dump", "postgresql-client")
    with socket.socket() as held:  # a PostgreSQL port where nothing listens: pg_dump fails
        held.bind(("127.0.0.1", 0))
        done = backup(tmp_path, f"postgresql://postgres@127.0.0.1:{held.getsockname()[1]}/qr111")
    assert done.returncode != 0
    assert "pg_dump" in done.stderr
    assert list((tmp_path / "backups").iterdir()) == []


def test_a_dump_is_encrypted_and_0600(tmp_path: Path, backend: Backend) -> None:
    """On PostgreSQL the real pg_dump of a test database; on the embedded run, a stand-in
    pg_dump on PATH (what is checked here is the script's file, not the dump)."""
    extra: dict[str, str] = {}
    if backend.databases.on_postgres:
        url = make_url(backend.database(tmp_path / "instance"))
        database = url.set(drivername="postgresql", query={}).render_as_string(hide_password=False)
    else:
        stand_in = tmp_path / "bin"
        stand_in.mkdir()
        (stand_in / "pg_dump").write_text("#!/bin/sh\nprintf 'PGDMP stand-in'\n")
        (stand_in / "pg_dump").chmod(0o755)
        extra["PATH"] = f"{stand_in}:{os.environ['PATH']}"
        database = "qr111"
    done = backup(tmp_path, database, **extra)
    assert done.returncode == 0, done.stderr
    [dump] = (tmp_path / "backups").iterdir()
    assert dump.name.endswith(".dump.age") and stat.S_IMODE(dump.stat().st_mode) == 0o600
    opened = subprocess.run(
        [program("age", "age"), "-d", "-i", str(tmp_path / "backup.key"), str(dump)],
        check=True,
        capture_output=True,
    ).stdout
    assert opened.startswith(b"PGDMP") and b"PGDMP" not in dump.read_bytes()


def test_restore_drill(tmp_path: Path, desk: Desk, backend: Backend) -> None:
    """Dump, restore into a fresh database, and there: the receipt opens the child's text, the
    staff member reads it, and the audit chain is unbroken."""
    if not backend.databases.on_postgres:
        pytest.skip("the restore drill runs in the PostgreSQL run (PORTAL_TEST_DATABASE_URL)")
    receipt = receipt_of(desk.site.send())
    # No staff login before the dump: the restored copy would refuse the same TOTP code again.
    config = desk.site.app.extensions["portal.config"]
    engine_of(desk.site.app).dispose()

    source = make_url(config.database_url)
    done = backup(tmp_path, source.set(drivername="postgresql", query={}).render_as_string(False))
    assert done.returncode == 0, done.stderr
    [dump] = (tmp_path / "backups").iterdir()
    restored_url = source.set(database=f"{source.database}_restored")
    libpq = {"PGHOST": source.host or "", "PGPORT": str(source.port or 5432)}
    libpq["PGUSER"] = source.username or ""
    try:
        done = subprocess.run(
            [str(BIN / "qr111-restore"), str(dump), str(tmp_path / "backup.key"),
             str(restored_url.database)],
            env={"PATH": os.environ["PATH"], "RESTORE_OWNER": source.username or "", **libpq},
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        url = restored_url.render_as_string(hide_password=False)
        app = create_app(dataclasses.replace(config, database_url=url))
        restored = dataclasses.replace(
            desk, site=dataclasses.replace(desk.site, app=app, client=app.test_client())
        )
        try:
            check = restored.site.client.post(
                "/check",
                data={"csrf_token": restored.site.token("/check"), "receipt": receipt},
            )
            assert check.status_code == 200 and TEXT in check.get_data(as_text=True)
            staff = restored.log_in(restored.triage)
            page = staff.get(f"/staff/reports/{report_id(restored)}")
            assert TEXT in page.get_data(as_text=True)
            verified = app.test_cli_runner().invoke(args=["audit", "verify"])
            assert verified.exit_code == 0, verified.output
        finally:
            engine_of(app).dispose()
    finally:
        backend.databases.drop(restored_url.render_as_string(hide_password=False))
