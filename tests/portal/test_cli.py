"""The operator commands: flask --app portal db|schools ..."""

from __future__ import annotations

import csv
from pathlib import Path

from flask import Flask
from flask.testing import FlaskCliRunner

from portal.services import registry
from portal.web.context import get_session
from tests.conftest import SAMPLE_SCHOOLS


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
