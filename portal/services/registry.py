"""The school registry: CSV import and export, codes, rotation and lookup."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Protocol

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from portal import clock
from portal.models import School
from portal.services.codes import new_check_word, new_code, normalize_code

REQUIRED_COLUMNS = ("school_id", "region")
NAME_COLUMNS = ("name_kk", "name_ru")
OPTIONAL_COLUMNS = ("district", "address")
IMPORT_COLUMNS = ("school_id", "name_kk", "name_ru", "region", "district", "address")
EXPORT_COLUMNS = (*IMPORT_COLUMNS, "code", "check_word")
# Issued by the registry, never taken from a file (schools-format.md).
IGNORED_ON_IMPORT = ("code", "check_word")
SCHOOL_ID_PATTERN = re.compile(r"[A-Za-z0-9-]{1,64}")
MAX_LENGTH = {"name_kk": 300, "name_ru": 300, "region": 200, "district": 200, "address": 300}


class _CSVReader(Protocol):
    @property
    def line_num(self) -> int: ...

    def __iter__(self) -> Iterator[list[str]]: ...


class RegistryError(Exception):
    """A registry operation could not be done; the message says why."""


class UnknownSchool(RegistryError):
    """No school has the given registry id."""


class BadSchoolsFile(RegistryError):
    """The CSV file was refused; `problems` lists each one with its line number."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class SchoolRow:
    """One school as read from a registry CSV file."""

    line: int
    school_id: str
    name_kk: str
    name_ru: str
    region: str
    district: str = ""
    address: str = ""


@dataclass(frozen=True)
class ParsedFile:
    """The valid rows of a registry file and the warnings about it."""

    rows: list[SchoolRow]
    warnings: list[str] = field(default_factory=list)


@dataclass
class ImportResult:
    """What an import did."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    warnings: list[str] = field(default_factory=list)


def parse_schools_csv(data: bytes) -> ParsedFile:
    """Read a registry CSV file strictly; raises BadSchoolsFile listing every bad row."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadSchoolsFile([f"the file is not UTF-8 text (byte {exc.start})"]) from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise BadSchoolsFile(["the file is empty: it needs a header row"])
        columns = [name.strip() for name in header]
        warnings = _check_header(columns)
        rows, problems = _read_rows(reader, columns)
    except csv.Error as exc:
        raise BadSchoolsFile([f"line {reader.line_num}: broken CSV quoting ({exc})"]) from None
    if problems:
        raise BadSchoolsFile(problems)
    return ParsedFile(rows=rows, warnings=warnings)


def _check_header(columns: list[str]) -> list[str]:
    problems = [
        f"line 1: required column {name!r} is missing"
        for name in REQUIRED_COLUMNS
        if name not in columns
    ]
    if not any(name in columns for name in NAME_COLUMNS):
        problems.append("line 1: a name column ('name_kk' or 'name_ru') is required")
    duplicates = sorted({name for name in columns if columns.count(name) > 1})
    problems += [f"line 1: column {name!r} appears twice" for name in duplicates]
    if problems:
        raise BadSchoolsFile(problems)
    known = {*IMPORT_COLUMNS, *IGNORED_ON_IMPORT}
    return [f"unknown column {name!r} ignored" for name in columns if name not in known]


def _read_rows(reader: _CSVReader, columns: list[str]) -> tuple[list[SchoolRow], list[str]]:
    rows: list[SchoolRow] = []
    problems: list[str] = []
    first_line_of: dict[str, int] = {}
    last_line = 1  # the header
    for record in reader:
        # A quoted field may span lines: a row starts just after the previous one ended.
        line_of_row, last_line = last_line + 1, reader.line_num
        if not any(value.strip() for value in record):
            continue  # blank lines are not rows
        if len(record) != len(columns):
            problems.append(
                f"line {line_of_row}: has {len(record)} fields, the header has {len(columns)}"
            )
            continue
        values = {
            name: value.strip().replace("\r\n", "\n")
            for name, value in zip(columns, record, strict=True)
        }
        row_problems = _check_row(values)
        school_id = values.get("school_id", "")
        if school_id in first_line_of:
            row_problems.append(
                f"school_id {school_id!r} already appears on line {first_line_of[school_id]}"
            )
        elif school_id:
            first_line_of[school_id] = line_of_row
        if row_problems:
            problems += [f"line {line_of_row}: {problem}" for problem in row_problems]
            continue
        rows.append(SchoolRow(line=line_of_row, **{k: values.get(k, "") for k in IMPORT_COLUMNS}))
    return rows, problems


def _check_row(values: dict[str, str]) -> list[str]:
    problems: list[str] = []
    school_id = values.get("school_id", "")
    if not school_id:
        problems.append("school_id is missing")
    elif not SCHOOL_ID_PATTERN.fullmatch(school_id):
        problems.append(f"school_id {school_id!r} may hold only letters, digits and '-'")
    if not any(values.get(name) for name in NAME_COLUMNS):
        problems.append("both names (name_kk, name_ru) are empty")
    if not values.get("region"):
        problems.append("region is missing")
    for name, limit in MAX_LENGTH.items():
        if len(values.get(name, "")) > limit:
            problems.append(f"{name} is longer than {limit} characters")
    for name, value in values.items():
        # A quoted address may span lines (RFC 4180); anywhere else a control character is junk.
        allowed = "\n" if name == "address" else ""
        if any(ch < " " and ch not in allowed for ch in value):
            problems.append(f"{name} holds a control character")
    return problems


def import_schools(session: Session, parsed: ParsedFile, *, commit: bool = True) -> ImportResult:
    """Create or update schools from parsed rows in one transaction; codes are kept.

    commit=False leaves the transaction open (flushed) for the caller's audit record.
    """
    result = ImportResult(warnings=list(parsed.warnings))
    existing = {
        school.school_id: school
        for school in session.scalars(
            select(School).where(School.school_id.in_([row.school_id for row in parsed.rows]))
        )
    }
    taken_codes = set(session.scalars(select(School.code)))
    for row in parsed.rows:
        school = existing.get(row.school_id)
        if school is None:
            code = _unused_code(taken_codes)
            session.add(School(**_fields(row), code=code, check_word=new_check_word()))
            result.created += 1
        elif _apply(school, row):
            result.updated += 1
        else:
            result.unchanged += 1
    _finish(session, commit)
    return result


def _fields(row: SchoolRow) -> dict[str, str]:
    return {name: getattr(row, name) for name in IMPORT_COLUMNS}


def _apply(school: School, row: SchoolRow) -> bool:
    """Copy the row onto the school; True if anything changed."""
    changed = False
    for name, value in _fields(row).items():
        if getattr(school, name) != value:
            setattr(school, name, value)
            changed = True
    return changed


def _unused_code(taken: set[str]) -> str:
    while True:  # 40 random bits: a clash is rare, but it must never reuse a code
        code = new_code()
        if code not in taken:
            taken.add(code)
            return code


def export_schools(session: Session, stream: IO[str], *, include_inactive: bool = False) -> int:
    """Write the registry as CSV (import columns plus code and check_word); returns the count."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    for school in list_schools(session, include_inactive=include_inactive):
        writer.writerow([getattr(school, name) for name in EXPORT_COLUMNS])
        count += 1
    return count


def list_schools(
    session: Session, *, region: str | None = None, include_inactive: bool = True
) -> list[School]:
    """Schools ordered by region and registry id, optionally of one region."""
    query = select(School).order_by(School.region, School.school_id)
    if region is not None:
        query = query.where(School.region == region)
    if not include_inactive:
        query = query.where(School.active.is_(True))
    return list(session.scalars(query))


def get_school(session: Session, school_id: str) -> School:
    """The school with this registry id; raises UnknownSchool."""
    school = session.scalar(select(School).where(School.school_id == school_id))
    if school is None:
        raise UnknownSchool(f"no school with school_id {school_id!r}")
    return school


def rotate_code(session: Session, school_id: str, *, commit: bool = True) -> School:
    """Give a school a new code and check word; the old code stops working at once."""
    school = get_school(session, school_id)
    taken = set(session.scalars(select(School.code)))
    school.code = _unused_code(taken)
    school.check_word = new_check_word(avoid=school.check_word)
    school.code_issued_at = clock.now()
    _finish(session, commit)
    return school


def set_active(session: Session, school_id: str, active: bool, *, commit: bool = True) -> School:
    """Deactivate (its page and posters stop) or reactivate a school."""
    school = get_school(session, school_id)
    school.active = active
    _finish(session, commit)
    return school


def _finish(session: Session, commit: bool) -> None:
    """Commit, or flush only: the caller then records the change and commits both."""
    if commit:
        session.commit()
    else:
        session.flush()


def find_by_code(session: Session, typed_code: str) -> School | None:
    """The active school whose code this is, in any case; None for unknown or old codes."""
    wanted = code_is(typed_code)
    return None if wanted is None else session.scalar(select(School).where(wanted))


def code_is(typed_code: str) -> ColumnElement[bool] | None:
    """The condition "the active school with this code" (any case, as printed); None when the
    text cannot be a code. For queries that read more with the school (reports.school_and_inbox)."""
    code = normalize_code(typed_code)
    if code is None:
        return None
    return and_(School.code == code, School.active.is_(True))


# ---- search (the admin's school list) ------------------------------------------------------

SEARCH_PAGE_SIZE = 50
_FIELD_SEPARATOR = "\x1f"  # between the searched columns: a match never spans two of them
_SQLITE_FOLD = "qr111_fold"


@dataclass(frozen=True)
class SchoolPage:
    """One page of a registry search."""

    schools: list[School]
    total: int
    page: int
    pages: int


def fold(text: str) -> str:
    """Text as the search compares it: lower case (Cyrillic too), ё as е."""
    return text.lower().replace("ё", "е")


def search_schools(
    session: Session,
    *,
    text: str = "",
    region: str | None = None,
    active: bool | None = None,
    page: int = 1,
    per_page: int = SEARCH_PAGE_SIZE,
) -> SchoolPage:
    """Schools whose name, school id, region, district or code contains `text` (any case),
    optionally of one region and one state, a page at a time; one COUNT and one SELECT."""
    conditions: list[ColumnElement[bool]] = []
    wanted = fold(" ".join(text.split()))  # control characters and runs of spaces: one space
    if wanted:
        matches: list[ColumnElement[bool]] = [
            _folded_haystack(session).contains(wanted, autoescape=True)
        ]
        if (code := normalize_code(text)) is not None:
            matches.append(School.code == code)  # a code typed as printed: dashes, O for 0
        conditions.append(or_(*matches))
    if region is not None:
        conditions.append(School.region == region)
    if active is not None:
        conditions.append(School.active.is_(active))

    def fetch(number: int) -> list[tuple[School, int]]:
        # The count rides along as a window: one scan of the registry, not two.
        query = (
            select(School, func.count().over())
            .where(*conditions)
            .order_by(School.region, School.school_id)
            .limit(per_page)
            .offset((number - 1) * per_page)
        )
        return [(school, total) for school, total in session.execute(query)]

    found = fetch(max(1, page))
    if found:
        total = found[0][1]
    else:  # no match, or a page past the end: count, then show the last page
        total = session.scalar(select(func.count()).select_from(School).where(*conditions)) or 0
        if total:
            found = fetch(-(-total // per_page))
    pages = max(1, -(-total // per_page))
    return SchoolPage([school for school, _ in found], total, min(max(1, page), pages), pages)


def regions(session: Session) -> list[str]:
    """Every region of the registry, in order."""
    return list(session.scalars(select(School.region).distinct().order_by(School.region)))


def _folded_haystack(session: Session) -> ColumnElement[str]:
    """The searched columns in one folded string, computed by the database."""
    sep = _FIELD_SEPARATOR
    joined = (
        School.school_id + sep + School.name_kk + sep + School.name_ru + sep + School.region
    ) + (sep + School.district + sep + School.code)
    if session.get_bind().dialect.name == "sqlite":
        # SQLite's lower() folds ASCII only: Python does the folding, registered on this
        # connection (cheap, and a pooled connection may be new).
        raw = session.connection().connection.driver_connection
        if raw is not None:
            raw.create_function(_SQLITE_FOLD, 1, fold, deterministic=True)
        folded: ColumnElement[str] = getattr(func, _SQLITE_FOLD)(joined)
        return folded
    # PostgreSQL's lower() folds Cyrillic and Kazakh letters under a UTF-8 ctype (C.UTF-8 too).
    return func.replace(func.lower(joined), "ё", "е")
