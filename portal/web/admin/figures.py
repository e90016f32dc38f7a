"""The figures page: the service's suppressed tables in the reader's language, and the CSV."""

from __future__ import annotations

from flask import Blueprint, g, make_response, render_template
from werkzeug.wrappers import Response

from portal.enums import Category, Priority, Status
from portal.models import Staff
from portal.services import corrections, labels
from portal.services.figures import NOTE, Table, export, period, view
from portal.web.context import get_config, get_session

# The tables whose rows are an enum's members, in the enum's order (as `compute` lists them).
ENUM_ROWS: dict[str, type[Category] | type[Priority] | type[Status]] = {
    "category": Category,
    "priority": Priority,
    "status": Status,
}


def presented(table: Table) -> Table:
    """The table as the page shows it: headings in the reader's language, enum rows labelled."""
    rows = table.rows
    enum = ENUM_ROWS.get(table.name)
    if enum is not None:
        # zip(strict=True): a row missing for a member is an error, never a shifted label.
        rows = [[labels.label(member), *row[1:]] for member, row in zip(enum, rows, strict=True)]
    return Table(
        table.name,
        str(table.title),
        [str(cell) for cell in table.head],
        rows,
        [str(cell) for cell in table.foot],
    )


bp = Blueprint("figures", __name__, url_prefix="/figures")


@bp.get("/")
def page() -> str:
    """The figures of the last 12 closed months (the view is audited, as the CSV is)."""
    staff: Staff = g.staff
    figures = view(get_session(), get_config(), staff, as_csv=False)
    return render_template(
        "admin/figures/figures.html",
        tables=[presented(table) for table in figures.tables],
        period=period(figures),
        note=NOTE,
        rules=corrections.rule_corrections(get_session(), figures.start, figures.end),
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
