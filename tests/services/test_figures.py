"""Figures: counts from metadata only, 1-4 shown as "<5", no hidden count recoverable from a
single row or column total, and an audited CSV export."""

from __future__ import annotations

import csv
import io
import itertools
import json
import random
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import clock
from portal.config import Config
from portal.enums import AuditAction, Category, Priority, Status
from portal.models import AuditEvent, Inbox, Report, School
from portal.services import figures
from portal.web.context import get_session
from tests.conftest import add_inbox
from tests.worlds import Desk

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("count", "published"), [(0, "0"), (1, "<5"), (2, "<5"), (4, "<5"), (5, "5"), (123, "123")]
)
def test_small_counts_are_suppressed_zero_and_five_are_exact(count: int, published: str) -> None:
    assert figures.shown(count) == published


def test_a_row_with_one_small_cell_hides_a_second_one() -> None:
    counts: dict[figures.Key, int] = {"a": 3, "b": 10, "c": 20, "zero": 0, "total": 33}
    line = figures.Line(("a", "b", "c", "zero"), "total")
    assert figures.protect(counts, [line]) == {
        "a": "<5",
        "b": "[c]",  # the smallest other non-zero cell: 33 - 20 - 0 now leaves 13 for a + b
        "c": "20",
        "zero": "0",
        "total": "33",
    }


def test_two_small_cells_that_must_both_be_one_are_protected() -> None:
    counts: dict[figures.Key, int] = {"a": 1, "b": 1, "c": 30, "total": 32}
    published = figures.protect(counts, [figures.Line(("a", "b", "c"), "total")])
    assert published == {"a": "<5", "b": "<5", "c": "[c]", "total": "32"}


def solutions(published: list[str], total: str) -> list[tuple[int, ...]]:
    """Every set of values a reader could put behind a published line (brute force)."""
    choices = []
    for value in published:
        if value == figures.SUPPRESSED:
            choices.append(range(1, 5))
        elif value == figures.HIDDEN:
            choices.append(range(5, 80))
        else:
            choices.append(range(int(value), int(value) + 1))
    totals = {figures.SUPPRESSED: range(1, 5), figures.HIDDEN: range(5, 400)}.get(total)
    return [
        values
        for values in itertools.product(*choices)
        if (sum(values) in totals if totals else sum(values) == int(total))
    ]


def test_no_hidden_count_can_be_worked_out_from_its_line() -> None:
    rng = random.Random(111)  # noqa: S311 - test data, repeatable
    for _ in range(300):
        cells = [rng.choice([0, 0, 1, 2, 3, 4, 5, 6, 8, 12, 30]) for _ in range(rng.randint(2, 5))]
        keys = tuple(range(len(cells)))
        counts: dict[figures.Key, int] = dict(enumerate(cells)) | {"total": sum(cells)}
        published = figures.protect(counts, [figures.Line(keys, "total")])
        shown = [published[key] for key in keys]
        possible = solutions(shown, published["total"])
        assert tuple(cells) in possible
        for index, value in enumerate(shown):
            if value in (figures.SUPPRESSED, figures.HIDDEN):
                assert len({values[index] for values in possible}) > 1, (cells, shown)


def test_months_are_counted_in_kazakhstan_time() -> None:
    starts = figures.month_starts(datetime(2025, 12, 31, 19, 30, tzinfo=UTC))  # 00:30 on 1 Jan
    assert len(starts) == 13
    # Closed months only: January 2026 has just begun in Almaty, December 2025 is the last.
    assert starts[0].strftime("%Y-%m-%d %z") == "2025-01-01 +0500"
    assert starts[-2].strftime("%Y-%m") == "2025-12" and starts[-1].strftime("%Y-%m") == "2026-01"


def add_reports(
    session: Session, region: str, number: int, at: datetime, category: Category
) -> None:
    """Reports as their metadata only: no keys, no text (the figures never need either)."""
    school = session.scalars(select(School).where(School.region == region)).first()
    inbox = session.scalars(select(Inbox)).first()
    assert school is not None and inbox is not None
    for _ in range(number):
        session.add(
            Report(
                public_id=secrets.token_hex(16),
                school_pk=school.id,
                inbox_id=inbox.id,
                category=category,
                priority=Priority.P2,
                status=Status.NEW,
                created_at=at,
            )
        )
    session.commit()


def fill(session: Session) -> None:
    add_reports(session, "г. Астана", 7, NOW - timedelta(days=20), Category.BULLYING)
    add_reports(session, "Абайская область", 2, NOW - timedelta(days=60), Category.HOME)
    add_reports(session, "г. Алматы", 3, NOW - timedelta(days=400), Category.HOME)  # too old
    add_reports(session, "г. Алматы", 4, NOW - timedelta(days=3), Category.HOME)  # this month


def rows_of(table: figures.Table) -> dict[str, list[str]]:
    return {row[0]: row[1:] for row in table.rows}


def test_figures_of_the_last_twelve_months(session: Session, world_inbox: None) -> None:
    fill(session)
    found = figures.compute(session, NOW)
    assert found.months[0] == "2025-03" and found.months[-1] == "2026-02"
    region = found.table("region")
    assert rows_of(region)["г. Астана"] == ["[c]"]  # 7, hidden: else 9 - 7 gives the 2 away
    assert rows_of(region)["Абайская область"] == ["<5"]
    assert rows_of(region)["г. Алматы"] == ["0"]  # older than a year, or of this month
    assert region.foot == ["Total", "9"]
    category = rows_of(found.table("category"))
    assert category["bullying"] == ["[c]"] and category["home"] == ["<5"]
    assert category["sexual"] == ["0"]
    assert rows_of(found.table("priority"))["p2"] == ["9"]
    assert rows_of(found.table("status"))["new"] == ["9"]
    month = rows_of(found.table("month"))
    assert month["2026-02"] == ["[c]"] and month["2026-01"] == ["<5"] and month["2025-03"] == ["0"]
    grid = found.table("region_month")
    assert grid.head[0] == "Region" and grid.head[-1] == "Total" and len(grid.head) == 14
    astana = rows_of(grid)["г. Астана"]
    assert astana[-2:] == ["[c]", "[c]"] and set(astana[:-2]) == {"0"}
    assert grid.foot[-1] == "9"


@pytest.fixture
def world_inbox(
    session: Session, config: Config, schools: list[School], recovery_file: object
) -> None:
    """An inbox for the reports to belong to."""
    add_inbox(session, "national")


def test_the_page_and_the_audited_csv_show_the_same_suppressed_figures(desk: Desk) -> None:
    with desk.site.app.app_context():
        session = get_session()
        last_month = clock.now() - timedelta(days=40)  # closed, whatever the day today
        add_reports(session, "г. Астана", 12, last_month, Category.ONLINE)
        add_reports(session, "Абайская область", 1, last_month, Category.SEXUAL)
    admin = desk.log_in(desk.admin)
    page = admin.get("/staff/figures/").get_data(as_text=True)
    assert "&lt;5" in page and "[c]" in page and "no report is opened" in page
    assert "Figures</a>" in page
    response = admin.get("/staff/figures/figures.csv")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    lines = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    by_category = lines.index(["By category"])
    categories = {row[0]: row[1] for row in lines[by_category + 2 : by_category + 9]}
    assert categories["sexual"] == "<5" and categories["online"] == "[c]"
    assert categories["home"] == "0"
    assert not any(cell == "1" for row in lines for cell in row[1:])  # the lone report
    with desk.site.app.app_context():
        exports = get_session().scalars(
            select(AuditEvent).where(AuditEvent.action == AuditAction.EXPORT)
        )
        # Both views are on record, the page's too (issue 20).
        seen = [(event.actor_email, json.loads(event.detail)) for event in exports]
    assert [(email, detail["op"], detail["as"]) for email, detail in seen] == [
        ("admin@111.kz", "figures", "page"),
        ("admin@111.kz", "figures", "csv"),
    ]


FORMULAS = ("=HYPERLINK(1)", "+SUM(1)", "-2+3", "@cmd", " =1+1")


def test_a_region_name_cannot_become_a_spreadsheet_formula(
    session: Session, world_inbox: None
) -> None:
    for number, region in enumerate(FORMULAS):
        session.add(
            School(
                school_id=f"F{number}",
                name_ru="Школа",
                region=region,
                code=f"FORMULA{number}",
                check_word="ОРЁЛ",
            )
        )
        session.flush()
        add_reports(session, region, 5, NOW - timedelta(days=20), Category.HOME)
    cells = [
        cell
        for row in csv.reader(io.StringIO(figures.to_csv(figures.compute(session, NOW))))
        for cell in row
    ]
    assert [f"'{region}" in cells for region in FORMULAS] == [True] * len(FORMULAS)
    assert "5" in cells and "Total" in cells  # what is not a formula stays as it is
    assert not [cell for cell in cells if cell.lstrip()[:1] in ("=", "+", "-", "@")]


def test_a_new_report_or_a_later_change_never_moves_the_figures(
    session: Session, world_inbox: None
) -> None:
    """Issue 20: two views before and after a report gave its region, month, category..."""
    add_reports(session, "г. Астана", 6, NOW - timedelta(days=20), Category.BULLYING)
    before = figures.compute(session, NOW)
    # A report today: not in any closed month, so not shown, now or in the next view.
    add_reports(session, "Абайская область", 1, NOW, Category.SEXUAL)
    # A report of February's that changes status, and one stored late into February: the
    # month was counted at the first view after it ended, and stays so.
    february = session.scalars(select(Report).limit(1)).one()
    february.status = Status.CLOSED
    session.commit()
    add_reports(session, "г. Алматы", 5, NOW - timedelta(days=25), Category.HOME)
    assert figures.compute(session, NOW).tables == before.tables
    assert rows_of(before.table("month"))["2026-02"] == ["6"]
    # Next month, March is closed and counted: today's report is in it.
    april = figures.compute(session, NOW + timedelta(days=20))
    assert april.months[-1] == "2026-03"
    assert rows_of(april.table("category"))["sexual"] == ["<5"]
    # February as it was counted (6, not the 11 stored since), and March's one: 7 in all.
    assert april.table("month").foot[-1] == "7"
