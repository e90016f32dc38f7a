"""The school registry: the CSV rules of schools-format.md, codes, rotation, lookup."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.config import Config
from portal.models import School
from portal.services import registry
from portal.services.codes import normalize_code
from portal.web.context import get_session
from qr import read_schools_csv
from qr.schools_csv import SCHOOL_ID_RULE, SchoolsFile, parse_schools_csv
from tests.conftest import SAMPLE_SCHOOLS

HEADER = "school_id,name_kk,name_ru,region,district,address\n"
ROW = "1001,Бірінші мектеп,Первая школа,г. Астана,,\n"


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    with app.app_context():
        yield get_session()


def parse(text: str, *, bom: bool = False) -> SchoolsFile:
    """The file as the registry's import reads it."""
    return parse_schools_csv(("\ufeff" if bom else "").encode() + text.encode(), export=False)


def problems(text: str) -> list[str]:
    with pytest.raises(registry.BadSchoolsFile) as refused:
        parse(text)
    return refused.value.messages


def load(session: Session, config: Config, text: str) -> registry.ImportResult:
    """Import as the command line does."""
    return registry.import_schools(
        session, text.encode(), actor=None, server_secret=config.secret_key
    )


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(School)) or 0


def test_the_shared_sample_parses() -> None:
    parsed = parse(SAMPLE_SCHOOLS.read_text(encoding="utf-8"))
    assert len(parsed.rows) == 40
    assert parsed.warnings == []
    quoted = next(row for row in parsed.rows if row.school_id == "34000015")
    assert quoted.name_ru == 'КГУ "Лицей-интернат «Билим-Инновация»", № 291'
    assert quoted.address == "ул. Сейфуллина, 137"


def test_byte_order_mark_quoting_and_free_column_order() -> None:
    text = (
        "region,address,school_id,name_ru\n"
        '"г. Алматы","ул. Абая, 1\nкорпус 2",A-17,"Школа ""Новая"""\n'
    )
    parsed = parse(text, bom=True)
    [row] = parsed.rows
    assert row.school_id == "A-17"
    assert row.name_ru == 'Школа "Новая"'
    assert row.name_kk == ""
    assert row.address == "ул. Абая, 1\nкорпус 2"


def test_unknown_columns_are_warned_and_issued_columns_ignored() -> None:
    parsed = parse(
        "school_id,name_kk,region,phone,code,check_word\n1,Мектеп,Абай,555,ZZZZZZZZ,КОТ\n"
    )
    assert parsed.warnings == ["unknown column 'phone' ignored"]
    assert len(parsed.rows) == 1


def test_every_bad_row_is_named_by_its_line() -> None:
    text = (
        HEADER
        + ROW  # line 2
        + ",Мектеп,Школа,Абай,,\n"  # line 3: no id
        + "1001,Екінші,Вторая,Абай,,\n"  # line 4: duplicate
        + "1003,,,Абай,,\n"  # line 5: no name
        + '"10 04","a\nb",x,Абай,,\n'  # lines 6-7: bad id, spans two lines
        + "1005,Мектеп,Школа,,,\n"  # line 8: no region
        + "1006,Мектеп\n"  # line 9: too few fields
    )
    found = problems(text)
    assert found == [
        "line 3: school_id is missing",
        "line 4: school_id 1001 repeats line 2",
        "line 5: both names (name_kk, name_ru) are empty",
        "line 6: school_id '10 04' may hold only Latin letters A-Z, digits and '-', at most 64",
        "line 6: name_kk holds a control character",
        "line 8: region is missing",
        "line 9: has 2 fields, the header has 6",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the file is empty"),
        ("name_kk,region\nМектеп,Абай\n", "required column 'school_id' is missing"),
        ("school_id,region\n1,Абай\n", "a name column"),
        ("school_id,name_kk,name_kk,region\n", "column 'name_kk' appears twice"),
        (HEADER + '1,"unclosed,Школа,Абай,,\n', "broken CSV quoting"),
        (HEADER + "1," + "я" * 301 + ",,Абай,,\n", "name_kk is longer than 300"),
    ],
)
def test_bad_files_are_refused(text: str, expected: str) -> None:
    assert any(expected in problem for problem in problems(text)), problems(text)


def test_non_utf8_is_refused() -> None:
    data = HEADER.encode() + "1,Мектеп,Школа,Абай,,\n".encode("cp1251")
    with pytest.raises(registry.BadSchoolsFile, match="line 2: the file is not UTF-8 text"):
        parse_schools_csv(data, export=False)


def test_blank_lines_are_not_rows() -> None:
    assert len(parse(HEADER + "\n" + ROW + "\n\n").rows) == 1


def test_import_issues_unique_codes_and_check_words(session: Session, config: Config) -> None:
    result = load(session, config, SAMPLE_SCHOOLS.read_text(encoding="utf-8"))
    assert (result.created, result.updated, result.unchanged) == (40, 0, 0)
    schools = registry.list_schools(session)
    assert len({school.code for school in schools}) == 40
    for school in schools:
        assert normalize_code(school.code) == school.code
        assert school.check_word
        assert school.active
        assert school.code_issued_at.tzinfo is not None


def test_reimport_changes_nothing_and_updates_keep_codes(session: Session, config: Config) -> None:
    load(session, config, HEADER + ROW + "1002,Екінші,Вторая,Абай,,\n")
    before = {s.school_id: (s.code, s.check_word) for s in registry.list_schools(session)}
    again = load(session, config, HEADER + ROW + "1002,Екінші,Вторая,Абай,,\n")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    changed = load(session, config, HEADER + ROW.replace("Первая", "Новая"))
    assert (changed.created, changed.updated, changed.unchanged) == (0, 1, 0)
    after = {s.school_id: (s.code, s.check_word) for s in registry.list_schools(session)}
    assert after == before
    assert registry.get_school(session, "1001").name_ru == "Новая школа"


def test_a_refused_file_changes_nothing(session: Session, config: Config) -> None:
    load(session, config, HEADER + ROW)
    with pytest.raises(registry.BadSchoolsFile):
        load(session, config, HEADER + ROW.replace("Первая", "Новая") + ",Мектеп,Школа,Абай,,\n")
    assert registry.get_school(session, "1001").name_ru == "Первая школа"
    assert count(session) == 1


def test_export_round_trips_and_reimport_ignores_codes(session: Session, config: Config) -> None:
    load(session, config, SAMPLE_SCHOOLS.read_text(encoding="utf-8"))
    stream = io.StringIO()
    assert registry.export_schools(session, stream) == 40
    exported = stream.getvalue()
    assert exported.splitlines()[0] == ",".join(registry.EXPORT_COLUMNS)
    again = load(session, config, exported)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 40)
    assert again.warnings == []
    for school in registry.list_schools(session):
        assert f"{school.code},{school.check_word}" in exported


# Names a spreadsheet would run as formulas, or that look like the export's neutralising.
SPREADSHEET_NAMES = ("=1+1", "+7 школа", "-", "@home", "'quoted", "-2+3", "=cmd|' /C calc'!A0")


def test_export_neutralises_formulas_and_the_import_reads_them_back(
    session: Session, config: Config, tmp_path: Path
) -> None:
    rows = "".join(
        f'-{number},"{name.replace(chr(34), chr(34) * 2)}",Школа,@Абай,+district,=address\n'
        for number, name in enumerate(SPREADSHEET_NAMES, start=1)
    )
    load(session, config, HEADER + rows)
    stream = io.StringIO()
    registry.export_schools(session, stream)
    exported = stream.getvalue()
    cells = [cell for line in exported.splitlines()[1:] for cell in line.split(",")]
    assert not [cell for cell in cells if cell.lstrip()[:1] in ("=", "+", "-", "@")]
    assert "'=1+1" in cells and "'-1" in cells and "''quoted" in cells
    assert "'=cmd|' /C calc'!A0" in cells
    again = load(session, config, exported)
    assert (again.created, again.updated, again.unchanged) == (0, 0, len(SPREADSHEET_NAMES))
    found = {school.school_id: school for school in registry.list_schools(session)}
    for number, name in enumerate(SPREADSHEET_NAMES, start=1):
        school = found[f"-{number}"]
        assert (school.name_kk, school.region, school.district, school.address) == (
            name,
            "@Абай",
            "+district",
            "=address",
        )
    path = tmp_path / "export.csv"
    path.write_text(exported, encoding="utf-8")
    assert [school.name_kk for school in read_schools_csv(path)] == [
        found[school_id].name_kk for school_id in sorted(found)
    ]


@pytest.mark.parametrize("char", ["\ufffe", "\uffff", "\x7f", "\x85"])
def test_characters_xml_forbids_are_refused_by_line(char: str) -> None:
    text = (
        HEADER + ROW + f"1002,Мек{char}теп,Школа,Абай,,\n" + f"1003,Мектеп,Школа,Абай,a{char}b,\n"
    )
    refused = problems(text)
    what = "a control character" if char < "\ud800" else f"U+{ord(char):04X}, a character XML"
    assert refused[0].startswith(f"line 3: name_kk holds {what}")
    assert refused[1].startswith(f"line 4: district holds {what}")
    assert len(refused) == 2


def test_the_poster_generator_reads_the_export(
    session: Session, config: Config, tmp_path: Path
) -> None:
    """The registry writes what the one reader, in the poster generator's mode, accepts."""
    load(session, config, SAMPLE_SCHOOLS.read_text(encoding="utf-8"))
    export = tmp_path / "export.csv"
    with export.open("w", encoding="utf-8", newline="") as stream:
        registry.export_schools(session, stream)
    printed = read_schools_csv(export)
    assert [(p.school_id, p.code, p.check_word, p.name_kk, p.district) for p in printed] == [
        (s.school_id, s.code, s.check_word, s.name_kk, s.district)
        for s in registry.list_schools(session)
    ]


@pytest.mark.parametrize(
    ("school_id", "accepted"),
    [
        ("A-17", True),
        ("7" * 64, True),
        ("7" * 65, False),
        ("12²", False),  # str.isalnum says yes
        ("Ә100", False),  # a Kazakh letter: isalnum says yes
        ("١٢", False),  # Arabic-Indic digits: isdigit says yes
        ("10 04", False),
        ("a_b", False),
    ],
)
def test_one_id_rule_for_the_import_and_the_posters(
    school_id: str, accepted: bool, tmp_path: Path
) -> None:
    imported = f"school_id,name_kk,region\n{school_id},Мектеп,Абай\n"
    exported = f"school_id,name_kk,code\n{school_id},Мектеп,ABCDEFGH\n"
    path = tmp_path / "export.csv"
    path.write_text(exported, encoding="utf-8")
    if accepted:
        assert [row.school_id for row in parse(imported).rows] == [school_id]
        assert [school.school_id for school in read_schools_csv(path)] == [school_id]
    else:
        bad = f"line 2: school_id {school_id!r} {SCHOOL_ID_RULE}"
        assert problems(imported) == [bad]
        with pytest.raises(registry.BadSchoolsFile) as refused:
            read_schools_csv(path)
        assert refused.value.messages == [bad]


def test_export_leaves_out_inactive_schools_unless_asked(session: Session, config: Config) -> None:
    load(session, config, HEADER + ROW + "1002,Екінші,Вторая,Абай,,\n")
    registry.set_active(session, "1002", False, actor=None, server_secret=config.secret_key)
    assert registry.export_schools(session, io.StringIO()) == 1
    assert registry.export_schools(session, io.StringIO(), include_inactive=True) == 2


def test_rotation_retires_the_old_code_at_once(session: Session, config: Config) -> None:
    load(session, config, HEADER + ROW)
    old = registry.get_school(session, "1001")
    old_code, old_word = old.code, old.check_word
    assert registry.find_by_code(session, old_code.lower()) is not None
    rotated = registry.rotate_code(session, "1001", actor=None, server_secret=config.secret_key)
    assert rotated.code != old_code
    assert rotated.check_word != old_word
    assert registry.find_by_code(session, old_code) is None
    assert registry.find_by_code(session, rotated.code) is rotated


def test_deactivated_schools_are_not_found(session: Session, config: Config) -> None:
    load(session, config, HEADER + ROW)
    code = registry.get_school(session, "1001").code
    registry.set_active(session, "1001", False, actor=None, server_secret=config.secret_key)
    assert registry.find_by_code(session, code) is None
    registry.set_active(session, "1001", True, actor=None, server_secret=config.secret_key)
    assert registry.find_by_code(session, code) is not None


def test_unknown_school_is_a_named_error(session: Session, config: Config) -> None:
    with pytest.raises(registry.UnknownSchool):
        registry.rotate_code(session, "nope", actor=None, server_secret=config.secret_key)
    with pytest.raises(registry.UnknownSchool):
        registry.set_active(session, "nope", False, actor=None, server_secret=config.secret_key)


@pytest.mark.parametrize("typed", ["", "x", "ZZZZZZZZ", "'; drop table schools; --", "Ш" * 500])
def test_find_by_code_with_junk_finds_nothing(session: Session, config: Config, typed: str) -> None:
    load(session, config, HEADER + ROW)
    assert registry.find_by_code(session, typed) is None
    assert count(session) == 1
