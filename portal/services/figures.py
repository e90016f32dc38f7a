"""Figures for the ombudsman's reports: counts of reports by region, category, priority, status
and month, from triage metadata only (nothing is decrypted), small numbers suppressed.

**Suppression.** A count of 1 to 4 is shown as "<5" (primary suppression): a handful of
reports of one kind, from one region, in one month, could point at a child. 0 stays 0 and 5
or more is exact. Totals are exact, so a row or column with a single hidden cell would give it
back by subtraction; therefore, while any row or column lets a reader pin down a hidden entry
exactly from its total (one hidden cell; two cells of "<5" that must both be 1; a "<5" beside
a hidden 5 ...), one more non-zero cell of that line is hidden too (secondary suppression, shown
as "[c]"). Every line is checked, every round, until none changes: the region × month table with
its row and column totals, its margins (which are the tables by region and by month), and the
tables by category, priority and status (which share the grand total). This protects against
subtraction along any single row or column; it does not solve the whole linear system of all
tables together (a dedicated tool such as tau-argus does), which the page says.

**Closed months, from a snapshot** (issue 20). Figures that moved with each new report told
two readers a minute apart that report's region, month, category, priority and status. Only
the 12 months before the current one are shown, each counted once, the first time the figures
are asked for after it ended (figure_months, figure_counts), and never again: a later status
change, erasure or late import changes nothing shown. Every view is on the audit log.
"""

from __future__ import annotations

import io
import itertools
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal import clock
from portal.config import Config
from portal.enums import AuditAction, Category, Priority, Status
from portal.models import FigureCount, FigureMonth, Report, School, Staff
from portal.services import audit
from portal.services.text import LazyText
from portal.services.text import lazy as _l
from qr.safe_text import SafeCSVWriter

SMALL = 5  # counts below this (but above 0) are never shown
SUPPRESSED = "<5"
HIDDEN = "[c]"  # a count of 5 or more hidden so that a small one beside it stays hidden
MONTHS = 12
# What the tables say beside the counts: one copy, read in the page's language or, in the CSV,
# in English.
TITLES = {
    "region": _l("By region"),
    "category": _l("By category"),
    "priority": _l("By priority"),
    "status": _l("By status"),
    "month": _l("By month"),
    "region_month": _l("Region × month"),
}
FIRST_COLUMNS = {
    "region": _l("Region"),
    "category": _l("Category"),
    "priority": _l("Priority"),
    "status": _l("Status"),
    "month": _l("Month"),
    "region_month": _l("Region"),
}
REPORTS = _l("Reports")
TOTAL = _l("Total")
NOTE = _l(
    'Counts of 1 to 4 are shown as "%(small)s"; "%(hidden)s" is a count of 5 or more hidden '
    "so that a small count in the same row or column cannot be worked out from the totals.",
    small=SUPPRESSED,
    hidden=HIDDEN,
)
_INFINITY = float("inf")

Key = Hashable
Words = str | LazyText  # a cell: a count or a name as it is, or a heading to translate
GRAND = ("all",)


@dataclass(frozen=True)
class Line:
    """Entries whose sum is shown as a total: parts + ... = total."""

    parts: tuple[Key, ...]
    total: Key


@dataclass(frozen=True)
class Table:
    """A table as shown: every cell already suppressed (no raw count reaches a template)."""

    name: str
    title: Words
    head: list[Words]
    rows: list[list[str]]
    foot: list[Words]


@dataclass(frozen=True)
class Figures:
    """The figures of the last months, ready to show or export."""

    start: datetime  # the first instant counted (Kazakhstan time)
    end: datetime  # the first instant not counted
    months: list[str]
    tables: list[Table]

    def table(self, name: str) -> Table:
        """The table of this name."""
        return next(table for table in self.tables if table.name == name)


def shown(count: int) -> str:
    """A count as published: 0 stays 0, 1-4 becomes "<5", 5 or more is exact."""
    if count == 0:
        return "0"
    return SUPPRESSED if count < SMALL else str(count)


def protect(counts: Mapping[Key, int], lines: Iterable[Line]) -> dict[Key, str]:
    """Every entry as published: small counts suppressed, and more hidden until no line lets a
    hidden entry be worked out exactly from its total (see the module's docstring)."""
    lines = list(lines)
    hidden = {key for key, count in counts.items() if 0 < count < SMALL}
    changed = True
    while changed:
        changed = False
        for line in lines:
            if _recoverable(counts, hidden, line):
                extra = _next_to_hide(counts, hidden, line)
                if extra is not None:
                    hidden.add(extra)
                    changed = True
    return {
        key: (shown(count) if count < SMALL or key not in hidden else HIDDEN)
        for key, count in counts.items()
    }


def _bounds(counts: Mapping[Key, int], key: Key) -> tuple[float, float]:
    """What a reader knows of a hidden entry from its mark alone."""
    return (1, SMALL - 1) if counts[key] < SMALL else (SMALL, _INFINITY)


def _recoverable(counts: Mapping[Key, int], hidden: set[Key], line: Line) -> bool:
    """True if the line's equation narrows some hidden entry of it down to one value."""
    signed = [(key, 1) for key in line.parts] + [(line.total, -1)]
    secret = [(key, sign) for key, sign in signed if key in hidden]
    if not secret:
        return False
    known = sum(sign * counts[key] for key, sign in signed if key not in hidden)
    # sum(sign * x for the hidden) == -known; each x within its bounds.
    for index, (key, sign) in enumerate(secret):
        low = high = 0.0
        for other, other_sign in secret[:index] + secret[index + 1 :]:
            least, most = _bounds(counts, other)
            low += other_sign * (least if other_sign > 0 else most)
            high += other_sign * (most if other_sign > 0 else least)
        # sign * x = -known - (sum of the others), which lies in [low, high]
        first, second = sign * (-known - high), sign * (-known - low)
        least, most = _bounds(counts, key)
        if min(most, max(first, second)) - max(least, min(first, second)) < 1:
            return True
    return False


def _next_to_hide(counts: Mapping[Key, int], hidden: set[Key], line: Line) -> Key | None:
    """The smallest visible non-zero part of the line, else its total (never a zero)."""
    visible = [key for key in line.parts if key not in hidden and counts[key] > 0]
    if visible:
        return min(visible, key=lambda key: counts[key])
    if line.total not in hidden and counts[line.total] > 0:
        return line.total
    return None


def month_starts(now: datetime, months: int = MONTHS) -> list[datetime]:
    """The first instants of the last `months` closed months (Kazakhstan time), the oldest
    first, and the start of the current month after them: months + 1 instants."""
    local = clock.in_kazakhstan(now)
    this_month = datetime(local.year, local.month, 1, tzinfo=clock.KAZAKHSTAN)
    # relativedelta steps whole calendar months (December + 1 is January of the next year).
    return [this_month + relativedelta(months=step) for step in range(-months, 1)]


def label_of(start: datetime) -> str:
    """A month as the figures name it: "2026-11"."""
    return f"{clock.in_kazakhstan(start):%Y-%m}"


def snapshot(session: Session, start: datetime, end: datetime) -> None:
    """Count one closed month's reports by region, category, priority and status, once.

    Its own transaction. A month already counted is left as it is; two first views at once
    both count it and the second one's insert fails on the month's key, leaving the first's.
    """
    month = label_of(start)
    if session.get(FigureMonth, month) is not None:
        return
    columns = (School.region, Report.category, Report.priority, Report.status)
    counted = session.execute(
        select(*columns, func.count())
        .join(School, School.id == Report.school_pk)
        .where(Report.created_at >= start, Report.created_at < end)
        .group_by(*columns)
    ).all()
    try:
        session.add(FigureMonth(month=month))
        session.flush()  # the month first: its counts refer to it
    except IntegrityError:
        session.rollback()  # counted meanwhile by another view: that count stands
        return
    session.add_all(
        FigureCount(month=month, region=r, category=c, priority=p, status=s, count=n)
        for r, c, p, s, n in counted
    )
    session.commit()


def _counted(
    session: Session, starts: Sequence[datetime]
) -> Counter[tuple[str, int, Category, Priority, Status]]:
    """Reports per region, month index, category, priority and status, from the snapshots
    (each closed month counted first, if it is not yet)."""
    for start, end in itertools.pairwise(starts):
        snapshot(session, start, end)
    index = {label_of(start): number for number, start in enumerate(starts[:-1])}
    rows = session.scalars(select(FigureCount).where(FigureCount.month.in_(list(index))))
    return Counter(
        {(f.region, index[f.month], f.category, f.priority, f.status): f.count for f in rows}
    )


def compute(session: Session, now: datetime | None = None) -> Figures:
    """The figures of the last 12 closed months, from their snapshots, suppressed."""
    starts = month_starts(now or clock.now())
    counted = _counted(session, starts)
    # A region counted in a snapshot stays a row even if its schools have left the registry.
    listed = set(session.scalars(select(School.region).distinct()))
    regions = sorted(listed | {region for region, *_rest in counted})
    months = [label_of(start) for start in starts[:-1]]
    counts: Counter[Key] = Counter()
    for region in regions:  # every cell present, zeros too
        for index in range(MONTHS):
            counts[("cell", region, index)] += 0
    for member in (*Category, *Priority, *Status):
        counts[(type(member).__name__, member)] += 0
    for (region, index, category, priority, status), number in counted.items():
        counts[("cell", region, index)] += number
        counts[("region", region)] += number
        counts[("month", index)] += number
        for member in (category, priority, status):
            counts[(type(member).__name__, member)] += number
        counts[GRAND] += number
    for key in [("region", region) for region in regions] + [("month", i) for i in range(MONTHS)]:
        counts[key] += 0
    counts[GRAND] += 0
    published = protect(counts, _lines(regions))

    def one_way(name: str, keys: list[tuple[str, Key]]) -> Table:
        rows = [[label, published[key]] for label, key in keys]
        head: list[Words] = [FIRST_COLUMNS[name], REPORTS]
        return Table(name, TITLES[name], head, rows, [TOTAL, published[GRAND]])

    def members(enum: type[Category] | type[Priority] | type[Status]) -> list[tuple[str, Key]]:
        return [(member.value.replace("_", " "), (enum.__name__, member)) for member in enum]

    grid = Table(
        "region_month",
        TITLES["region_month"],
        [FIRST_COLUMNS["region_month"], *months, TOTAL],
        [
            [
                region,
                *(published[("cell", region, i)] for i in range(MONTHS)),
                published[("region", region)],
            ]
            for region in regions
        ],
        [TOTAL, *(published[("month", i)] for i in range(MONTHS)), published[GRAND]],
    )
    tables = [
        one_way("region", [(region, ("region", region)) for region in regions]),
        one_way("category", members(Category)),
        one_way("priority", members(Priority)),
        one_way("status", members(Status)),
        one_way("month", [(label, ("month", i)) for i, label in enumerate(months)]),
        grid,
    ]
    return Figures(starts[0], starts[-1], months, tables)


def _lines(regions: list[str]) -> list[Line]:
    """Every published sum: the grid's rows, columns and margins; the one-way tables."""
    months = range(MONTHS)
    lines = [Line(tuple(("cell", r, m) for m in months), ("region", r)) for r in regions]
    lines += [Line(tuple(("cell", r, m) for r in regions), ("month", m)) for m in months]
    lines.append(Line(tuple(("region", r) for r in regions), GRAND))
    lines.append(Line(tuple(("month", m) for m in months), GRAND))
    for enum in (Category, Priority, Status):
        lines.append(Line(tuple((enum.__name__, member) for member in enum), GRAND))
    return lines


def to_csv(figures: Figures) -> str:
    """The figures as CSV, table after table, suppressed exactly as on the page.

    In English whatever the page's language: a file passed on keeps one set of headings.
    """
    stream = io.StringIO()
    writer = SafeCSVWriter(stream)  # a region's name is never run as a formula
    writer.writerow([period(figures).in_english()])
    writer.writerow([NOTE.in_english()])
    for table in figures.tables:
        writer.writerow([])
        writer.writerow([_english(table.title)])
        lines: list[Sequence[Words]] = [table.head, *table.rows, table.foot]
        for line in lines:
            writer.writerow([_english(value) for value in line])
    return stream.getvalue()


def period(figures: Figures) -> LazyText:
    """The period counted, as the page and the CSV say it."""
    last_day = figures.end - timedelta(days=1)
    return _l(
        "Reports received %(start)s to %(end)s (Kazakhstan time, UTC+5; closed months only, "
        "each counted once when it ended)",
        start=f"{figures.start:%Y-%m-%d}",
        end=f"{last_day:%Y-%m-%d}",
    )


def _english(value: Words) -> str:
    return value.in_english() if isinstance(value, LazyText) else value


def view(session: Session, config: Config, actor: Staff, *, as_csv: bool) -> Figures:
    """The figures as a page or a CSV file, on record either way (issue 20: every view)."""
    figures = compute(session)
    audit.record_and_commit(
        session,
        AuditAction.EXPORT,
        actor=actor,
        detail={
            "op": "figures",
            "as": "csv" if as_csv else "page",
            "months": MONTHS,
            "start": figures.months[0],
        },
        server_secret=config.secret_key,
    )
    return figures


def export(session: Session, config: Config, actor: Staff) -> str:
    """The CSV export, on record."""
    return to_csv(view(session, config, actor, as_csv=True))
