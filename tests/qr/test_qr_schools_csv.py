"""Reading the registry's schools export."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from qr import BadSchoolsFile, PosterSchool, read_schools_csv

HEADER = "school_id,name_kk,name_ru,region,district,address,code,check_word\n"


def write(tmp_path: Path, text: str, bom: bool = False) -> Path:
    path = tmp_path / "export.csv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return path


def test_fixture_export(export_schools: list[PosterSchool]) -> None:
    assert len(export_schools) == 6
    first = export_schools[0]
    assert first == PosterSchool(
        school_id="90000000",
        name_kk="Шұбаркөл ауылының негізгі орта мектебі",
        name_ru="Основная средняя школа села Шубарколь",
        region="Северо-Казахстанская область",
        code="DMZCSTAC",
        check_word="ЛИМОН",
        district="Оркенский район",
    )


def test_bom_quotes_commas_and_column_order(tmp_path: Path) -> None:
    text = (
        "code,check_word,name_ru,school_id,region,name_kk\r\n"
        'ABCDEFGH,ЛИМОН,"КГУ ""Лицей «Билим»"", № 291",123-A,"г. Алматы","Мектеп, № 1"\r\n'
    )
    (school,) = read_schools_csv(write(tmp_path, text, bom=True))
    assert school.school_id == "123-A"
    assert school.name_ru == 'КГУ "Лицей «Билим»", № 291'
    assert school.name_kk == "Мектеп, № 1"
    assert school.code == "ABCDEFGH"
    assert school.district == ""


def test_unknown_columns_ignored_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = "school_id,name_kk,code,colour,check_word\n1,Мектеп,ABCDEFGH,green,АЛМА\n"
    with caplog.at_level(logging.WARNING):
        (school,) = read_schools_csv(write(tmp_path, text))
    assert school.name_kk == "Мектеп" and school.name_ru == ""
    assert "colour" in caplog.text


def test_lowercase_code_is_accepted_uppercased(tmp_path: Path) -> None:
    (school,) = read_schools_csv(write(tmp_path, HEADER + "1,Мектеп,Школа,R,,,abcdefgh,АЛМА\n"))
    assert school.code == "ABCDEFGH"


def test_missing_code_column(tmp_path: Path) -> None:
    text = "school_id,name_kk,name_ru,region\n1,Мектеп,Школа,R\n"
    with pytest.raises(BadSchoolsFile, match=r"line 1: missing column\(s\): code") as caught:
        read_schools_csv(write(tmp_path, text))
    assert caught.value.problems == [(1, "missing column(s): code")]


def test_bad_rows_are_all_listed_with_line_numbers(tmp_path: Path) -> None:
    text = HEADER + (
        "1,Мектеп,Школа,R,,,ABCDEFGH,АЛМА\n"  # line 2: fine
        ",Мектеп,Школа,R,,,ABCDEFGJ,АЛМА\n"  # line 3: no id
        "3,Мектеп,Школа,R,,,,АЛМА\n"  # line 4: no code
        "4,Мектеп,Школа,R,,,ABCDEFGI,АЛМА\n"  # line 5: I is not Crockford
        '5,"",,R,"a\nmultiline district",,ABCDEFGK,АЛМА\n'  # lines 6-7: no names
        "1,Мектеп,Школа,R,,,ABCDEFGM,АЛМА\n"  # line 8: repeated id
        "7,Мектеп,Школа,R,,,ABCDEFGH,АЛМА\n"  # line 9: repeated code
        "8/x,Мектеп,Школа,R,,,ABCDEFGN,АЛМА\n"  # line 10: id unusable as a file name
        "9,Мектеп,Школа\n"  # line 11: too few fields
    )
    with pytest.raises(BadSchoolsFile) as caught:
        read_schools_csv(write(tmp_path, text))
    lines = [line for line, _ in caught.value.problems]
    assert lines == [3, 4, 5, 6, 8, 9, 10, 11]
    message = str(caught.value)
    assert "line 3: missing school_id" in message
    assert "line 4: missing code" in message
    assert "line 5: bad school code 'ABCDEFGI'" in message
    assert "line 6: both names" in message
    assert "line 8: school_id 1 repeats line 2" in message
    assert "line 9: code ABCDEFGH repeats line 2" in message


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(HEADER.encode() + "1,Мектеп,Школа,R,,,ABCDEFGH,АЛМА\n".encode("cp1251"))
    with pytest.raises(BadSchoolsFile, match="line 2: not UTF-8"):
        read_schools_csv(path)


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(BadSchoolsFile, match="empty"):
        read_schools_csv(write(tmp_path, ""))


def test_blank_lines_are_skipped(tmp_path: Path) -> None:
    schools = read_schools_csv(write(tmp_path, HEADER + "\n1,М,Ш,R,,,ABCDEFGH,А\n\n"))
    assert [s.school_id for s in schools] == ["1"]
