"""The schools CSV of schools-format.md, read by one set of rules: a registry file the portal
imports, and the registry's export (the same columns plus `code` and `check_word`) that the
poster generator prints. Plain Python: no Flask, nothing of the portal.

A field that starts with an apostrophe loses it: the export writes one before any field a
spreadsheet would run as a formula, and before one that starts with an apostrophe itself
(qr/safe_text.py), so what the export wrote reads back as it was."""

from __future__ import annotations

import codecs
import csv
import io
import logging
import os
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Protocol

from qr.model import PosterSchool
from qr.safe_text import XML_FORBIDDEN, cell_value
from qr.urls import BadSchoolCode, validate_code

log = logging.getLogger(__name__)

IMPORT_COLUMNS = ("school_id", "name_kk", "name_ru", "region", "district", "address")
# Issued by the registry: an export has them, an import ignores them (codes never come from a file).
ISSUED_COLUMNS = ("code", "check_word")
KNOWN_COLUMNS = (*IMPORT_COLUMNS, *ISSUED_COLUMNS)  # the export's columns, in its order
NAME_COLUMNS = ("name_kk", "name_ru")
# ASCII only: the id names poster files and sits in URLs, and str.isalnum would let in "²" or "Ә".
SCHOOL_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
MAX_LENGTH = {"name_kk": 300, "name_ru": 300, "region": 200, "district": 200, "address": 300}


class _CSVReader(Protocol):
    @property
    def line_num(self) -> int: ...

    def __next__(self) -> list[str]: ...


class BadSchoolsFile(ValueError):
    """The schools file was refused; problems lists (line number, message) pairs."""

    def __init__(self, source: str, problems: list[tuple[int, str]]) -> None:
        self.source = source
        self.problems = problems
        shown = "; ".join(self.messages[:10])
        more = f"; and {len(problems) - 10} more" if len(problems) > 10 else ""
        super().__init__(f"{source}: {shown}{more}")

    @property
    def messages(self) -> list[str]:
        """Every problem as 'line N: what is wrong'."""
        return [f"line {line}: {message}" for line, message in self.problems]


@dataclass(frozen=True)
class SchoolRow:
    """One school as read from a schools file; code and check_word are empty on import."""

    line: int  # where its record starts (a quoted field may span lines)
    school_id: str
    name_kk: str
    name_ru: str
    region: str
    district: str = ""
    address: str = ""
    code: str = ""
    check_word: str = ""

    def poster_school(self) -> PosterSchool:
        """The school as its poster prints it."""
        return PosterSchool(
            school_id=self.school_id,
            name_kk=self.name_kk,
            name_ru=self.name_ru,
            region=self.region,
            code=self.code,
            check_word=self.check_word,
            district=self.district,
        )


@dataclass(frozen=True)
class SchoolsFile:
    """The rows of a schools file that was accepted, and the warnings about it."""

    rows: list[SchoolRow]
    warnings: list[str] = field(default_factory=list)


SCHOOL_ID_RULE = "may hold only Latin letters A-Z, digits and '-', at most 64"


def valid_school_id(school_id: str) -> bool:
    """ASCII letters, digits and '-', 1 to 64 of them (schools-format.md)."""
    return SCHOOL_ID.fullmatch(school_id) is not None


def parse_schools_csv(data: bytes, *, export: bool, source: str = "<schools>") -> SchoolsFile:
    """Read a schools file strictly; raises BadSchoolsFile listing every problem by its line.

    export=True: the registry's export, whose codes are required, checked and read;
    export=False: a file to import, whose code and check_word columns are ignored.
    """
    # The mark is dropped by hand: utf-8-sig would count the bad byte's offset without it.
    body = data.removeprefix(codecs.BOM_UTF8)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        line = body[: error.start].count(b"\n") + 1
        offset = error.start + len(data) - len(body)
        raise BadSchoolsFile(
            source, [(line, f"the file is not UTF-8 text (byte {offset})")]
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as error:
        raise BadSchoolsFile(source, [(1, f"broken CSV quoting ({error})")]) from None
    if header is None:
        raise BadSchoolsFile(source, [(1, "the file is empty: it needs a header row")])
    columns = [name.strip() for name in header]
    header_problems = _check_header(columns, export)
    if header_problems:
        raise BadSchoolsFile(source, [(1, problem) for problem in header_problems])
    rows, problems = _read_rows(reader, columns, export)
    if problems:
        raise BadSchoolsFile(source, problems)
    warnings = [f"unknown column {name!r} ignored" for name in columns if name not in KNOWN_COLUMNS]
    return SchoolsFile(rows, warnings)


def _check_header(columns: list[str], export: bool) -> list[str]:
    required = ("school_id", "code") if export else ("school_id", "region")
    problems = [f"required column {name!r} is missing" for name in required if name not in columns]
    if not any(name in columns for name in NAME_COLUMNS):
        problems.append("a name column ('name_kk' or 'name_ru') is required")
    duplicates = sorted({name for name in columns if columns.count(name) > 1})
    problems += [f"column {name!r} appears twice" for name in duplicates]
    return problems


def _read_rows(
    reader: _CSVReader, columns: list[str], export: bool
) -> tuple[list[SchoolRow], list[tuple[int, str]]]:
    rows: list[SchoolRow] = []
    problems: list[tuple[int, str]] = []
    id_lines: dict[str, int] = {}
    code_lines: dict[str, int] = {}
    while True:
        line = reader.line_num + 1  # a record starts just after the previous one ended
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            # Named by the line its record starts on, where the stray quote is; the rest of
            # the file cannot be split into records after it.
            problems.append((line, f"broken CSV quoting ({error})"))
            break
        if not any(value.strip() for value in record):
            continue  # blank lines are not rows
        if len(record) != len(columns):
            problems.append((line, f"has {len(record)} fields, the header has {len(columns)}"))
            continue
        values = {
            name: cell_value(value.strip()).replace("\r\n", "\n")
            for name, value in zip(columns, record, strict=True)
        }
        if export:
            values["code"] = values["code"].upper()  # Crockford base32: any case, printed upper
        row_problems = _check_row(values, export)
        row_problems += _repeated(values, "school_id", line, id_lines)
        if export and not row_problems:
            row_problems += _repeated(values, "code", line, code_lines)
        if row_problems:
            problems += [(line, problem) for problem in row_problems]
            continue
        wanted = KNOWN_COLUMNS if export else IMPORT_COLUMNS
        rows.append(SchoolRow(line=line, **{name: values.get(name, "") for name in wanted}))
    return rows, problems


def _check_row(values: dict[str, str], export: bool) -> list[str]:
    problems: list[str] = []
    school_id = values["school_id"]
    if not school_id:
        problems.append("school_id is missing")
    elif not valid_school_id(school_id):
        problems.append(f"school_id {school_id!r} {SCHOOL_ID_RULE}")
    if not any(values.get(name) for name in NAME_COLUMNS):
        problems.append("both names (name_kk, name_ru) are empty")
    if export:
        problems += _check_code(values["code"])
    elif not values.get("region"):
        problems.append("region is missing")
    for name, limit in MAX_LENGTH.items():
        if len(values.get(name, "")) > limit:
            problems.append(f"{name} is longer than {limit} characters")
    for name, value in values.items():
        # A quoted address may span lines (RFC 4180); anywhere else a control character is junk.
        if (bad := _unprintable(value, allowed="\n" if name == "address" else "")) is not None:
            problems.append(f"{name} holds {bad}")
    return problems


def _unprintable(value: str, allowed: str) -> str | None:
    """What is wrong with the first character of value that no poster may carry, or None.

    Control characters (C0, DEL and C1) but those allowed, and whatever XML 1.0 forbids
    (U+FFFE, U+FFFF): a name with one would make an SVG poster no program reads.
    """
    for char in value:
        if char in allowed:
            continue
        if unicodedata.category(char) == "Cc":
            return "a control character"
        if XML_FORBIDDEN.match(char):
            return f"U+{ord(char):04X}, a character XML does not allow"
    return None


def _check_code(code: str) -> list[str]:
    if not code:
        return ["code is missing"]
    try:
        validate_code(code)
    except BadSchoolCode as error:
        return [str(error)]
    return []


def _repeated(
    values: dict[str, str], name: str, line: int, first_line: dict[str, int]
) -> list[str]:
    """A problem if this row's value of the column was on an earlier row; else remember it."""
    value = values[name]
    if value in first_line:
        return [f"{name} {value} repeats line {first_line[value]}"]
    if value:
        first_line[value] = line
    return []


def read_schools_csv(path: str | os.PathLike[str]) -> list[PosterSchool]:
    """Read a schools export file (UTF-8, optional BOM); raises BadSchoolsFile or OSError."""
    source = os.fspath(path)
    with open(path, "rb") as file:
        data = file.read()
    parsed = parse_schools_csv(data, export=True, source=source)
    for warning in parsed.warnings:
        log.warning("%s: %s", source, warning)
    return [row.poster_school() for row in parsed.rows]
