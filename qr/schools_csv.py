"""Read the registry's schools export (schools-format.md plus `code` and `check_word`)."""

from __future__ import annotations

import csv
import io
import logging
import os

from qr.model import PosterSchool
from qr.urls import BadSchoolCode, validate_code

log = logging.getLogger(__name__)

KNOWN_COLUMNS = (
    "school_id",
    "name_kk",
    "name_ru",
    "region",
    "district",
    "address",
    "code",
    "check_word",
)
REQUIRED_COLUMNS = ("school_id", "code")


class BadSchoolsFile(ValueError):
    """The schools file cannot be used; problems lists (line number, message) pairs."""

    def __init__(self, source: str, problems: list[tuple[int, str]]):
        self.source = source
        self.problems = problems
        shown = "; ".join(f"line {line}: {message}" for line, message in problems[:10])
        more = f"; and {len(problems) - 10} more" if len(problems) > 10 else ""
        super().__init__(f"{source}: {shown}{more}")


def valid_school_id(school_id: str) -> bool:
    """Letters, digits and '-' only (schools-format.md): it also names the output files."""
    return bool(school_id) and all(c.isalnum() or c == "-" for c in school_id)


def parse_schools_csv(text: str, source: str = "<schools>") -> list[PosterSchool]:
    """Parse the text of a schools export; raises BadSchoolsFile listing every bad line."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise BadSchoolsFile(source, [(1, "the file is empty")]) from None
    except csv.Error as error:
        raise BadSchoolsFile(source, [(1, f"bad CSV: {error}")]) from None
    columns = [name.strip() for name in header]
    problems: list[tuple[int, str]] = []
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if "name_kk" not in columns and "name_ru" not in columns:
        missing.append("name_kk or name_ru")
    if missing:
        problems.append((1, f"missing column(s): {', '.join(missing)}"))
    duplicated = sorted({name for name in columns if columns.count(name) > 1})
    if duplicated:
        problems.append((1, f"repeated column(s): {', '.join(duplicated)}"))
    if problems:
        raise BadSchoolsFile(source, problems)
    unknown = [name for name in columns if name not in KNOWN_COLUMNS]
    if unknown:
        log.warning("%s: ignoring unknown column(s): %s", source, ", ".join(unknown))

    schools: list[PosterSchool] = []
    first_line: dict[str, int] = {}
    code_line: dict[str, int] = {}
    while True:
        line = reader.line_num + 1  # the line this record starts on (records may span lines)
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            problems.append((line, f"bad CSV: {error}"))
            break
        if not any(cell.strip() for cell in row):
            continue  # blank lines are harmless
        if len(row) != len(columns):
            problems.append((line, f"{len(row)} fields, the header has {len(columns)}"))
            continue
        record = {name: cell.strip() for name, cell in zip(columns, row, strict=True)}
        school, errors = _school(record)
        problems.extend((line, message) for message in errors)
        if school is None:
            continue
        if school.school_id in first_line:
            problems.append(
                (line, f"school_id {school.school_id} repeats line {first_line[school.school_id]}")
            )
            continue
        if school.code in code_line:
            problems.append((line, f"code {school.code} repeats line {code_line[school.code]}"))
            continue
        first_line[school.school_id] = line
        code_line[school.code] = line
        schools.append(school)
    if problems:
        raise BadSchoolsFile(source, problems)
    return schools


def _school(record: dict[str, str]) -> tuple[PosterSchool | None, list[str]]:
    """One row as a PosterSchool, or the reasons it is bad."""
    errors: list[str] = []
    school_id = record["school_id"]
    if not school_id:
        errors.append("missing school_id")
    elif not valid_school_id(school_id):
        errors.append(f"bad school_id {school_id!r} (letters, digits and '-' only)")
    code = record["code"].upper()  # Crockford base32 is case-insensitive; print it uppercase
    if not code:
        errors.append("missing code")
    else:
        try:
            validate_code(code)
        except BadSchoolCode as error:
            errors.append(str(error))
    name_kk, name_ru = record.get("name_kk", ""), record.get("name_ru", "")
    if not name_kk and not name_ru:
        errors.append("both names (name_kk, name_ru) are empty")
    if errors:
        return None, errors
    school = PosterSchool(
        school_id=school_id,
        name_kk=name_kk,
        name_ru=name_ru,
        region=record.get("region", ""),
        code=code,
        check_word=record.get("check_word", ""),
        district=record.get("district", ""),
    )
    return school, []


def read_schools_csv(path: str | os.PathLike[str]) -> list[PosterSchool]:
    """Read a schools export file (UTF-8, optional BOM); raises BadSchoolsFile or OSError."""
    source = os.fspath(path)
    with open(path, "rb") as file:
        data = file.read()
    try:
        text = data.decode("utf-8-sig")  # utf-8-sig drops a byte-order mark if present
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise BadSchoolsFile(source, [(line, "not UTF-8 text")]) from None
    return parse_schools_csv(text, source)
