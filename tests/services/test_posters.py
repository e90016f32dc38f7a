"""Posters straight from the registry: flask --app portal posters --out DIR [--region R]."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from portal.models import School
from portal.services import registry
from portal.web.context import get_session
from qr import school_url
from tests.conftest import SAMPLE_SCHOOLS
from tests.qr.conftest import pdf_image, pdf_pages, qr_texts

BASE_URL = "https://qr111.example.kz"  # tests/conftest.py make_config


@pytest.fixture
def schools(app: Flask, runner: FlaskCliRunner) -> list[School]:
    """The sample registry, imported."""
    result = runner.invoke(args=["schools", "import", str(SAMPLE_SCHOOLS)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        return registry.list_schools(get_session())


def test_one_region_gets_posters_and_sheets_that_scan_to_its_schools(
    runner: FlaskCliRunner, schools: list[School], tmp_path: Path
) -> None:
    region = schools[0].region
    wanted = {school.school_id: school for school in schools if school.region == region}
    out = tmp_path / "posters"
    result = runner.invoke(args=["posters", "--out", str(out), "--region", region])
    assert result.exit_code == 0, result.output
    assert f"{len(wanted)} posters and sticker sheets written" in result.output
    assert {path.stem for path in out.glob("*.pdf")} == set(wanted)
    assert {path.stem for path in (out / "sheets").glob("*.pdf")} == set(wanted)
    school = next(iter(wanted.values()))
    poster = (out / f"{school.school_id}.pdf").read_bytes()
    assert qr_texts(pdf_image(poster)) == [school_url(BASE_URL, school.code)]
    assert school.check_word in pdf_pages(poster)[0]


def test_inactive_schools_get_no_poster(
    app: Flask, runner: FlaskCliRunner, schools: list[School], tmp_path: Path
) -> None:
    gone = schools[0]
    with app.app_context():
        registry.set_active(
            get_session(),
            gone.school_id,
            False,
            actor=None,
            server_secret=app.extensions["portal.config"].secret_key,
        )
    result = runner.invoke(args=["posters", "--out", str(tmp_path), "--format", "svg"])
    assert result.exit_code == 0, result.output
    written = {path.stem for path in tmp_path.glob("*.svg")}
    assert gone.school_id not in written
    assert len(written) == len(schools) - 1


def test_a_rotated_code_is_on_the_next_poster(
    app: Flask, runner: FlaskCliRunner, schools: list[School], tmp_path: Path
) -> None:
    old = schools[0]
    with app.app_context():
        new_code = registry.rotate_code(
            get_session(),
            old.school_id,
            actor=None,
            server_secret=app.extensions["portal.config"].secret_key,
        ).code
    assert new_code != old.code
    result = runner.invoke(args=["posters", "--out", str(tmp_path), "--region", old.region])
    assert result.exit_code == 0, result.output
    poster = (tmp_path / f"{old.school_id}.pdf").read_bytes()
    assert qr_texts(pdf_image(poster)) == [school_url(BASE_URL, new_code)]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--region", "Атлантида"], "no active school in region 'Атлантида'"),
        (["--lang", "kk,de"], "unknown language 'de'"),
    ],
)
def test_bad_requests_exit_2_with_a_message(
    runner: FlaskCliRunner, schools: list[School], tmp_path: Path, extra: list[str], message: str
) -> None:
    out = tmp_path / "out"
    result = runner.invoke(args=["posters", "--out", str(out), *extra])
    assert result.exit_code == 2
    assert message in result.output
    assert not out.exists()  # nothing half-written


def test_an_unwritable_folder_exits_2_and_leaves_nothing(
    runner: FlaskCliRunner, schools: list[School], tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    result = runner.invoke(args=["posters", "--out", str(blocker / "posters")])
    assert result.exit_code == 2
    assert "error:" in result.output
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a-file", "instance"]
