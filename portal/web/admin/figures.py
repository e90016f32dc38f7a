"""The figures page: the service's suppressed tables in the reader's language, and the CSV."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, g, make_response, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from portal.enums import Category, Priority, Status
from portal.models import Staff
from portal.services import labels
from portal.services.figures import HIDDEN, SUPPRESSED, Figures, Table, compute, export
from portal.web.context import get_config, get_session

# The page: the same tables, in the reader's language (the CSV stays as computed).

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
# The tables whose rows are an enum's members, in the enum's order (as `compute` lists them).
ENUM_ROWS: dict[str, type[Category] | type[Priority] | type[Status]] = {
    "category": Category,
    "priority": Priority,
    "status": Status,
}


def presented(table: Table) -> Table:
    """The table as the page shows it: titles, headings and enum rows translated."""
    rows = table.rows
    enum = ENUM_ROWS.get(table.name)
    if enum is not None:
        # zip(strict=True): a row missing for a member is an error, never a shifted label.
        rows = [[labels.label(member), *row[1:]] for member, row in zip(enum, rows, strict=True)]
    if table.name == "region_month":
        head = [str(FIRST_COLUMNS[table.name]), *table.head[1:-1], _("Total")]
    else:
        head = [str(FIRST_COLUMNS[table.name]), _("Reports")]
    return Table(table.name, str(TITLES[table.name]), head, rows, [_("Total"), *table.foot[1:]])


def period_text(figures: Figures) -> str:
    """The period counted, for the page."""
    last_day = figures.end - timedelta(days=1)
    text: str = _(
        "Reports received %(start)s to %(end)s (Kazakhstan time, UTC+5; the current month so far)",
        start=f"{figures.start:%Y-%m-%d}",
        end=f"{last_day:%Y-%m-%d}",
    )
    return text


def note_text() -> str:
    """What the suppression marks mean, for the page."""
    text: str = _(
        'Counts of 1 to 4 are shown as "%(small)s"; "%(hidden)s" is a count of 5 or more hidden '
        "so that a small count in the same row or column cannot be worked out from the totals.",
        small=SUPPRESSED,
        hidden=HIDDEN,
    )
    return text


bp = Blueprint("figures", __name__, url_prefix="/figures")


@bp.get("/")
def page() -> str:
    """The figures of the last 12 months."""
    figures = compute(get_session())
    return render_template(
        "admin/figures/figures.html",
        tables=[presented(table) for table in figures.tables],
        period=period_text(figures),
        note=note_text(),
    )


@bp.get("/figures.csv")
def export_csv() -> Response:
    """The same figures as a CSV file (audited)."""
    staff: Staff = g.staff
    text = export(get_session(), get_config(), staff)
    response = make_response(text.encode("utf-8-sig"))  # BOM: Excel then reads Cyrillic right
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = 'attachment; filename="qr111-figures.csv"'
    return response
