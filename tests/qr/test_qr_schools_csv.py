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
    with pytest.raises(BadSchoolsFile, match="line 1: required column 'code' is missing") as caught:
        read_schools_csv(write(tmp_path, text))
    assert caught.value.problems == [(1, "required column 'code' is missing")]


def test_bad_rows_are_all_listed_with_line_numbers(tmp_path: Path) -> None:
    text = HEADER + (
        "1,Мектеп,Школа,R,,,ABCDEFGH,АЛМА\n"  # line 2: fine
        ",Мектеп,Школа,R,,,ABCDEFGJ,АЛМА\n"  # line 3: no id
        "3,Мектеп,Школа,R,,,,АЛМА\n"  # line 4: no code
        "4,Мектеп,Школа,R,,,ABCDEFGI,АЛМА\n"  # line 5: I is not Crockford
        '5,"",,R,,"a\nmultiline address",ABCDEFGK,АЛМА\n'  # lines 6-7: no names
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
    assert "line 3: school_id is missing" in message
    assert "line 4: code is missing" in message
    assert "line 5: bad school code 'ABCDEFGI'" in message
    assert "line 6: both names" in message
    assert "line 8: school_id 1 repeats line 2" in message
    assert "line 9: code ABCDEFGH repeats line 2" in message


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_not_utf8_names_the_line_and_the_byte(tmp_path: Path, bom: bytes) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(bom + HEADER.encode() + "1,Мектеп,Школа,R,,,ABCDEFGH,АЛМА\n".encode("cp1251"))
    byte = len(bom) + len(HEADER) + 2  # the first Cyrillic letter, counted from the file's start
    with pytest.raises(BadSchoolsFile) as caught:
        read_schools_csv(path)
    assert caught.value.problems == [(2, f"the file is not UTF-8 text (byte {byte})")]


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(BadSchoolsFile, match="empty"):
        read_schools_csv(write(tmp_path, ""))


def test_blank_lines_are_skipped(tmp_path: Path) -> None:
    schools = read_schools_csv(write(tmp_path, HEADER + "\n1,М,Ш,R,,,ABCDEFGH,А\n\n"))
    assert [s.school_id for s in schools] == ["1"]


@pytest.mark.parametrize("school_id", ["12²", "Ә100", "١٢", "7" * 65, "a_b"])
def test_school_ids_are_ascii_letters_digits_and_hyphens(tmp_path: Path, school_id: str) -> None:
    """The registry's id rule: str.isalnum would take a superscript or a Kazakh letter."""
    text = HEADER + f"{school_id},Мектеп,Школа,R,,,ABCDEFGH,АЛМА\n"
    with pytest.raises(BadSchoolsFile) as caught:
        read_schools_csv(write(tmp_path, text))
    assert caught.value.problems == [
        (2, f"school_id {school_id!r} may hold only Latin letters A-Z, digits and '-', at most 64")
    ]


def test_region_is_not_needed_on_a_poster_but_names_and_text_are_checked(tmp_path: Path) -> None:
    text = (
        "school_id,name_ru,code,district\n"
        "1,Школа,ABCDEFGH,\n"  # line 2: fine without a region
        f"2,{'я' * 301},ABCDEFGJ,\n"  # line 3: too long
        '3,Школа,ABCDEFGK,"a\tb"\n'  # line 4: a tab in the district
    )
    with pytest.raises(BadSchoolsFile) as caught:
        read_schools_csv(write(tmp_path, text))
    assert caught.value.problems == [
        (3, "name_ru is longer than 300 characters"),
        (4, "district holds a control character"),
    ]


def test_characters_no_svg_may_hold_are_refused_by_line(tmp_path: Path) -> None:
    """U+FFFE and U+FFFF are not controls, but an SVG poster naming one would not parse."""
    text = (
        "school_id,name_ru,code,district,address\n"
        "1,Школа\ufffe,ABCDEFGH,,\n"  # line 2
        '2,Школа,ABCDEFGJ,,"ул. Абая\n1\uffff"\n'  # lines 3-4: a line end is fine, U+FFFF not
        "3,Школа\x9b1,ABCDEFGK,,\n"  # line 5: a C1 control
    )
    with pytest.raises(BadSchoolsFile) as caught:
        read_schools_csv(write(tmp_path, text))
    assert caught.value.problems == [
        (2, "name_ru holds U+FFFE, a character XML does not allow"),
        (3, "address holds U+FFFF, a character XML does not allow"),
        (5, "name_ru holds a control character"),
    ]


def test_cells_the_export_neutralised_are_read_as_they_were(tmp_path: Path) -> None:
    text = HEADER + "-7,'=1+1,''quoted,'@Абай,'+район,'-,ABCDEFGH,'=ЛИМОН\n"
    (school,) = read_schools_csv(write(tmp_path, text))
    assert (school.school_id, school.name_kk, school.name_ru) == ("-7", "=1+1", "'quoted")
    assert (school.region, school.district, school.check_word) == ("@Абай", "+район", "=ЛИМОН")
