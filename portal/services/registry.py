"""The school registry: CSV import and export, codes, rotation and lookup.

Each change (import, rotation, deactivation) is one function that commits it with its audit
record, whoever asks: an admin's page (actor) or the command line (actor None).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import IO

from sqlalchemy import ColumnElement, and_, bindparam, func, or_, select
from sqlalchemy.orm import Session

from portal import clock
from portal.enums import AuditAction
from portal.models import School, Staff
from portal.services import audit
from portal.services.codes import new_check_word, new_code, normalize_code
from qr import schools_csv
from qr.safe_text import SafeCSVWriter
from qr.schools_csv import BadSchoolsFile as BadSchoolsFile  # what a refused import raises
from qr.schools_csv import SchoolRow

# The file rules are the poster generator's too (qr/schools_csv.py): one reader, one id rule.
IMPORT_COLUMNS = schools_csv.IMPORT_COLUMNS
EXPORT_COLUMNS = schools_csv.KNOWN_COLUMNS


class RegistryError(Exception):
    """A registry operation could not be done; the message says why."""


class UnknownSchool(RegistryError):
    """No school has the given registry id."""


@dataclass
class ImportResult:
    """What an import did."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    warnings: list[str] = field(default_factory=list)


def import_schools(
    session: Session, data: bytes, *, actor: Staff | None, server_secret: str
) -> ImportResult:
    """Create or update a registry file's schools, audited, in one commit; codes are kept."""
    # A bad row raises BadSchoolsFile before anything is read from or written to the database.
    result = _import(session, data)
    _record_and_commit(
        session,
        actor,
        server_secret,
        op="import",
        created=result.created,
        updated=result.updated,
        unchanged=result.unchanged,
    )
    return result


def seed_schools(session: Session, data: bytes) -> ImportResult:
    """import_schools unaudited, for set-up code only (tests, benchmarks): no one acts yet."""
    result = _import(session, data)
    session.commit()
    return result


def _import(session: Session, data: bytes) -> ImportResult:
    """Read the whole file first, then create or update its schools (flushed, not committed)."""
    parsed = schools_csv.parse_schools_csv(data, export=False)
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
    session.flush()
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
    """Write the registry as CSV (import columns plus code and check_word); returns the count.

    A name a spreadsheet would run as a formula is written as text; the import reads it back."""
    writer = SafeCSVWriter(stream)
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


def rotate_code(
    session: Session, school_id: str, *, actor: Staff | None, server_secret: str
) -> School:
    """A new code and check word, audited, in one commit; the old code stops working at once."""
    school = get_school(session, school_id)
    old_code = school.code
    school.code = _unused_code(set(session.scalars(select(School.code))))
    school.check_word = new_check_word(avoid=school.check_word)
    school.code_issued_at = clock.now()
    _record_and_commit(
        session,
        actor,
        server_secret,
        op="rotate",
        school_id=school_id,
        old_code=old_code,
        code=school.code,
    )
    return school


def set_active(
    session: Session, school_id: str, active: bool, *, actor: Staff | None, server_secret: str
) -> School:
    """Deactivate (its page and posters stop) or reactivate a school, audited, in one commit."""
    school = get_school(session, school_id)
    school.active = active
    op = "reactivate" if active else "deactivate"
    _record_and_commit(session, actor, server_secret, op=op, school_id=school_id)
    return school


def _record_and_commit(
    session: Session, actor: Staff | None, server_secret: str, **detail: audit.DetailValue
) -> None:
    """Put the change on the audit log and commit both (P5): stored together or not at all.

    No actor: the command line, which has no staff login; "via" says so, as the other commands'
    records do.
    """
    if actor is None:
        detail["via"] = "cli"
    audit.record_and_commit(
        session, AuditAction.SCHOOL, actor=actor, detail=detail, server_secret=server_secret
    )


# "The active school with this code", the normalised code bound at execution ({"code": ...}):
# a statement built once around it (reports.school_and_inbox) costs no building per page.
ACTIVE_SCHOOL_CODE = and_(School.code == bindparam("code"), School.active.is_(True))


def find_by_code(session: Session, typed_code: str) -> School | None:
    """The active school whose code this is, in any case; None for unknown or old codes."""
    code = normalize_code(typed_code)
    if code is None:
        return None
    return session.scalar(select(School).where(ACTIVE_SCHOOL_CODE), {"code": code})


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
