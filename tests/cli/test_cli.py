"""The operator commands: flask --app portal db|schools ..."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from portal.config import Config
from portal.models import AuditEvent
from portal.services import audit, registry
from portal.web.context import get_session
from tests.conftest import SAMPLE_SCHOOLS

Record = tuple[str, int | None, str, dict[str, object]]


def import_sample(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["schools", "import", str(SAMPLE_SCHOOLS)])
    assert result.exit_code == 0, result.output
    assert "40 created, 0 updated, 0 unchanged" in result.output


def test_db_upgrade_is_idempotent(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "database at revision" in result.output


def test_import_twice_changes_nothing(runner: FlaskCliRunner) -> None:
    import_sample(runner)
    result = runner.invoke(args=["schools", "import", str(SAMPLE_SCHOOLS)])
    assert "0 created, 0 updated, 40 unchanged" in result.output


def test_a_bad_row_refuses_the_whole_file(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    lines = SAMPLE_SCHOOLS.read_text(encoding="utf-8").splitlines()
    lines.insert(5, ",Мектеп,Школа,Абай,,")  # line 6 of the file: no id
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(args=["schools", "import", str(bad)])
    assert result.exit_code == 2
    assert "refused, nothing was imported" in result.output
    assert "line 6: school_id is missing" in result.output
    with app.app_context():
        assert registry.list_schools(get_session()) == []


def test_unknown_columns_are_warned(runner: FlaskCliRunner, tmp_path: Path) -> None:
    extra = tmp_path / "extra.csv"
    extra.write_text("school_id,name_ru,region,director\n1,Школа,Абай,Иванов\n", encoding="utf-8")
    result = runner.invoke(args=["schools", "import", str(extra)])
    assert result.exit_code == 0
    assert "warning: unknown column 'director' ignored" in result.output


def test_export_list_rotate_deactivate(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    import_sample(runner)
    out = tmp_path / "export.csv"
    assert runner.invoke(args=["schools", "export", str(out)]).exit_code == 0
    with out.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 40
    first = rows[0]
    listed = runner.invoke(args=["schools", "list", "--region", first["region"]]).output
    assert first["code"] in listed
    assert f"https://qr111.example.kz/s/{first['code']}" in listed

    rotated = runner.invoke(args=["schools", "rotate", first["school_id"]])
    assert rotated.exit_code == 0
    assert first["code"] not in rotated.output
    assert runner.invoke(args=["schools", "deactivate", first["school_id"]]).exit_code == 0
    assert runner.invoke(args=["schools", "export", str(out)]).exit_code == 0
    assert first["school_id"] not in out.read_text(encoding="utf-8")
    with app.app_context():
        school = registry.get_school(get_session(), first["school_id"])
        assert not school.active
        assert school.code != first["code"]


def test_unknown_school_exits_2(runner: FlaskCliRunner) -> None:
    for command in ("rotate", "deactivate", "activate"):
        result = runner.invoke(args=["schools", command, "no-such-school"])
        assert result.exit_code == 2
        assert "no school with school_id 'no-such-school'" in result.output


def records(app: Flask) -> list[Record]:
    """The whole audit log, oldest first: action, actor's id and email, detail."""
    with app.app_context():
        events = get_session().scalars(select(AuditEvent).order_by(AuditEvent.seq))
        return [(e.action.value, e.actor_id, e.actor_email, json.loads(e.detail)) for e in events]


def test_every_change_puts_one_record_on_the_audit_log(
    app: Flask, config: Config, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    """The command line's changes are audited as the admin pages' are, with no actor."""

    def the_new_record(*command: str) -> Record:
        before = records(app)
        result = runner.invoke(args=["schools", *command])
        assert result.exit_code == 0, result.output
        after = records(app)
        assert after[:-1] == before, after  # exactly one record more
        return after[-1]

    imported = the_new_record("import", str(SAMPLE_SCHOOLS))
    assert imported == (
        "school",
        None,
        "",
        {"op": "import", "created": 40, "updated": 0, "unchanged": 0, "via": "cli"},
    )
    with app.app_context():
        school_id, old_code = next(
            (s.school_id, s.code) for s in registry.list_schools(get_session())
        )
    rotated = the_new_record("rotate", school_id)
    with app.app_context():
        new_code = registry.get_school(get_session(), school_id).code
    assert rotated[3] == {
        "op": "rotate",
        "school_id": school_id,
        "old_code": old_code,
        "code": new_code,
        "via": "cli",
    }
    for command, op in (("deactivate", "deactivate"), ("activate", "reactivate")):
        assert the_new_record(command, school_id) == (
            "school",
            None,
            "",
            {"op": op, "school_id": school_id, "via": "cli"},
        )

    # Nothing done, nothing recorded.
    bad = tmp_path / "bad.csv"
    bad.write_text("school_id,name_ru,region\n,Школа,Абай\n", encoding="utf-8")
    before = records(app)
    assert runner.invoke(args=["schools", "import", str(bad)]).exit_code == 2
    assert runner.invoke(args=["schools", "rotate", "no-such-school"]).exit_code == 2
    assert records(app) == before
    with app.app_context():
        assert audit.verify(get_session(), config.secret_key) == []
