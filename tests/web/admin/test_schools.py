"""The admin's school pages: search, CSV upload (the command's rules), rotation, deactivation."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from portal.config import Config
from portal.enums import AuditAction
from portal.models import AuditEvent, School
from portal.services import registry
from portal.web.admin import schools as school_admin
from portal.web.context import get_session
from tests.worlds import Desk, form_token

BERYOZOVKA = (
    "school_id,name_kk,name_ru,region,district\n"
    "77000001,Берёзовка мектебі,Школа села Берёзовка,Северо-Казахстанская область,Кызылжарский\n"
)


def ids(page: registry.SchoolPage) -> set[str]:
    return {school.school_id for school in page.schools}


# ---- the search, called directly ------------------------------------------------------------


def test_search_folds_cyrillic_and_kazakh_letters(session: Session, schools: list[School]) -> None:
    gymnasiums = registry.search_schools(session, text="ШКОЛА-гимназия", per_page=100)
    assert gymnasiums.total == 10
    assert all("Школа-гимназия" in school.name_ru for school in gymnasiums.schools)
    # Kazakh Ө is its own letter: ӨРКЕН finds the Kazakh names only, оркен the Russian ones
    # and the district "Оркенский район".
    assert ids(registry.search_schools(session, text="ӨРКЕН")) == {
        "87000012",
        "97000023",
        "37000024",
    }
    assert ids(registry.search_schools(session, text="оркен")) == {
        "87000012",
        "97000023",
        "37000024",
        "90000000",
    }


def test_search_by_school_id_region_district_and_code(
    session: Session, schools: list[School]
) -> None:
    assert ids(registry.search_schools(session, text="34000015")) == {"34000015"}
    assert registry.search_schools(session, text="туркестанская").total == 10
    assert registry.search_schools(session, text="БАЙКОНЫР").total == 13
    school = schools[5]
    # The code in lower case, and typed as printed with a dash.
    assert ids(registry.search_schools(session, text=school.code.lower())) == {school.school_id}
    dashed = f"{school.code[:4]}-{school.code[4:]}"
    assert ids(registry.search_schools(session, text=dashed)) == {school.school_id}


def test_search_treats_wildcards_as_text_and_e_as_yo(
    session: Session, schools: list[School]
) -> None:
    assert registry.search_schools(session, text="%").total == 0
    assert registry.search_schools(session, text="_").total == 0
    registry.seed_schools(session, BERYOZOVKA.encode())
    assert ids(registry.search_schools(session, text="березовка")) == {"77000001"}
    assert ids(registry.search_schools(session, text="БЕРЁЗОВКА")) == {"77000001"}


def test_search_filters_region_and_state_and_pages(
    session: Session, config: Config, schools: list[School]
) -> None:
    registry.set_active(session, "34000015", False, actor=None, server_secret=config.secret_key)
    inactive = registry.search_schools(session, active=False)
    assert ids(inactive) == {"34000015"}
    assert registry.search_schools(session, active=True).total == len(schools) - 1
    region = registry.search_schools(session, region="г. Астана")
    assert {school.region for school in region.schools} == {"г. Астана"}
    first = registry.search_schools(session, per_page=15)
    last = registry.search_schools(session, per_page=15, page=3)
    beyond = registry.search_schools(session, per_page=15, page=99)
    assert (first.total, first.pages, len(first.schools), len(last.schools)) == (40, 3, 15, 10)
    assert ids(beyond) == ids(last)  # a page past the end shows the last one
    everything = ids(first) | ids(registry.search_schools(session, per_page=15, page=2))
    assert len(everything | ids(last)) == 40


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"state": "closed"}, "state 'closed'"),
        ({"region": "Марс"}, "no region 'Марс'"),
        ({"page": "0"}, "page '0'"),
        ({"page": "x"}, "page 'x'"),
        ({"q": "x" * 201}, "longer than 200"),
    ],
)
def test_bad_filters_are_named(args: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        school_admin.SchoolFilter.parse(args, ["г. Астана"])


# ---- over HTTP ------------------------------------------------------------------------------


def audit_details(desk: Desk, action: AuditAction) -> list[dict[str, object]]:
    with desk.site.app.app_context():
        found = get_session().scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        )
        return [json.loads(event.detail) | {"actor": event.actor_email} for event in found]


def school_row(desk: Desk, school_id: str) -> School:
    with desk.site.app.app_context():
        return registry.get_school(get_session(), school_id)


def test_the_list_searches_and_a_bad_filter_is_a_clear_400(desk: Desk) -> None:
    admin = desk.log_in(desk.admin)
    page = admin.get("/staff/schools/", query_string={"q": "ШҰБАРКӨЛ"}).get_data(as_text=True)
    assert "2 schools" in page and "90000000" in page and "96000019" in page
    assert "34000015" not in page
    bad = admin.get("/staff/schools/?state=closed")
    assert bad.status_code == 400
    assert "state &#39;closed&#39; is not one of" in bad.get_data(as_text=True)
    assert admin.get("/staff/schools/?page=-1").status_code == 400
    assert "Schools</a>" in admin.get("/staff/schools/").get_data(as_text=True)  # the nav link


def test_a_school_page_shows_its_code_url_and_posters(desk: Desk) -> None:
    admin = desk.log_in(desk.admin)
    school = school_row(desk, desk.school_id)
    page = admin.get(f"/staff/schools/{desk.school_id}").get_data(as_text=True)
    assert school.code in page and school.check_word in page
    assert f"https://qr111.example.kz/s/{school.code}" in page
    for kind in ("pdf", "svg", "png", "sheet"):
        assert f"/staff/posters/{desk.school_id}.{kind}" in page
    poster = admin.get(f"/staff/posters/{desk.school_id}.pdf")
    assert poster.data.startswith(b"%PDF")
    assert admin.get("/staff/schools/no-such-school").status_code == 404


def post(browser: FlaskClient, path: str, page: str, **data: object) -> TestResponse:
    return browser.post(path, data={"csrf_token": form_token(browser, page), **data})


def test_rotation_needs_the_confirmation_then_the_old_code_is_404(desk: Desk) -> None:
    admin = desk.log_in(desk.admin)
    page = f"/staff/schools/{desk.school_id}"
    old = school_row(desk, desk.school_id)
    refused = post(admin, f"{page}/rotate", page)
    assert refused.status_code == 303
    assert "Tick the box" in admin.get(page).get_data(as_text=True)
    assert school_row(desk, desk.school_id).code == old.code
    done = post(admin, f"{page}/rotate", page, confirm="y")
    assert done.status_code == 303
    new = school_row(desk, desk.school_id)
    assert new.code != old.code and new.code_issued_at > old.code_issued_at
    assert f"New code {new.code}" in admin.get(page).get_data(as_text=True)
    child = desk.client()
    assert child.get(f"/s/{old.code}").status_code == 404
    assert child.get(f"/s/{new.code}").status_code == 200
    assert audit_details(desk, AuditAction.SCHOOL) == [
        {
            "op": "rotate",
            "school_id": desk.school_id,
            "old_code": old.code,
            "code": new.code,
            "actor": "admin@111.kz",
        }
    ]


def test_a_form_without_its_token_is_refused_with_a_message(desk: Desk) -> None:
    admin = desk.log_in(desk.admin)
    page = f"/staff/schools/{desk.school_id}"
    forged = admin.post(f"{page}/rotate", data={"confirm": "y"})
    assert forged.status_code == 303
    assert "The form had expired" in admin.get(page).get_data(as_text=True)
    assert school_row(desk, desk.school_id).code == desk.site.code


def test_deactivate_and_reactivate_stop_and_restart_the_page(desk: Desk) -> None:
    admin = desk.log_in(desk.admin)
    page = f"/staff/schools/{desk.school_id}"
    code = desk.site.code
    post(admin, f"{page}/deactivate", page)  # not confirmed
    assert school_row(desk, desk.school_id).active
    post(admin, f"{page}/deactivate", page, confirm="y")
    assert not school_row(desk, desk.school_id).active
    assert desk.client().get(f"/s/{code}").status_code == 404
    shown = admin.get(page).get_data(as_text=True)
    assert "deactivated" in shown and f"/staff/posters/{desk.school_id}.pdf" not in shown
    post(admin, f"{page}/reactivate", page)
    assert desk.client().get(f"/s/{code}").status_code == 200
    assert [d["op"] for d in audit_details(desk, AuditAction.SCHOOL)] == [
        "deactivate",
        "reactivate",
    ]


def upload(browser: FlaskClient, data: bytes, name: str = "schools.csv") -> TestResponse:
    token = form_token(browser, "/staff/schools/import")
    return browser.post(
        "/staff/schools/import",
        data={"csrf_token": token, "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def test_a_bad_file_is_refused_whole_with_its_line_numbers(desk: Desk) -> None:
    admin = desk.log_in(desk.admin)
    bad = (
        "school_id,name_kk,name_ru,region\n"
        "77000001,Жаңа мектеп,Новая школа,г. Астана\n"  # good, but the file is refused
        "77000002,,,г. Астана\n"
        "bad id!,Мектеп,Школа,\n"
    )
    response = upload(admin, bad.encode())
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "nothing was imported" in page
    assert "line 3: both names (name_kk, name_ru) are empty" in page
    assert "line 4: school_id &#39;bad id!&#39; may hold only Latin letters A-Z" in page
    assert "line 4: region is missing" in page
    with desk.site.app.app_context():
        assert registry.search_schools(get_session(), text="77000001").total == 0
    assert audit_details(desk, AuditAction.SCHOOL) == []


def test_a_good_file_is_imported_with_a_summary_and_warnings(desk: Desk) -> None:
    admin = desk.log_in(desk.admin)
    existing = school_row(desk, desk.school_id)
    same = school_row(desk, "90000000")
    stream = io.StringIO()
    writer = csv.writer(stream)
    writer.writerow([*registry.IMPORT_COLUMNS, "phone"])
    writer.writerow([*(getattr(same, name) for name in registry.IMPORT_COLUMNS), "1"])
    renamed = {name: getattr(existing, name) for name in registry.IMPORT_COLUMNS}
    writer.writerow([*(renamed | {"name_ru": "Новое имя"}).values(), "2"])
    writer.writerow(["77000001", "Жаңа мектеп", "Новая школа", "г. Астана", "", "", "3"])
    page = upload(admin, stream.getvalue().encode()).get_data(as_text=True)
    assert "1 added, 1 updated, 1 unchanged" in page
    assert "unknown column &#39;phone&#39; ignored" in page
    updated = school_row(desk, desk.school_id)
    assert (updated.name_ru, updated.code) == ("Новое имя", existing.code)  # the code is kept
    assert audit_details(desk, AuditAction.SCHOOL) == [
        {"op": "import", "created": 1, "updated": 1, "unchanged": 1, "actor": "admin@111.kz"}
    ]


def test_the_command_line_writes_the_same_records_but_for_via_and_actor(
    desk: Desk, tmp_path: Path
) -> None:
    """Each change by an admin's page, then by `flask schools`: one service function each."""
    admin = desk.log_in(desk.admin)
    runner = desk.site.app.test_cli_runner()
    page = f"/staff/schools/{desk.school_id}"
    registry_file = tmp_path / "one.csv"
    registry_file.write_text(BERYOZOVKA, encoding="utf-8")
    steps: list[tuple[Callable[[], TestResponse], list[str]]] = [
        (lambda: upload(admin, BERYOZOVKA.encode()), ["import", str(registry_file)]),
        (lambda: post(admin, f"{page}/rotate", page, confirm="y"), ["rotate", desk.school_id]),
        (
            lambda: post(admin, f"{page}/deactivate", page, confirm="y"),
            ["deactivate", desk.school_id],
        ),
        (lambda: post(admin, f"{page}/reactivate", page), ["activate", desk.school_id]),
    ]
    for web, command in steps:
        web()
        result = runner.invoke(args=["schools", *command])
        assert result.exit_code == 0, result.output
    records = audit_details(desk, AuditAction.SCHOOL)
    assert [record["op"] for record in records] == [
        *("import", "import", "rotate", "rotate"),
        *("deactivate", "deactivate", "reactivate", "reactivate"),
    ]
    for by_page, by_command in zip(records[::2], records[1::2], strict=True):
        assert by_page["actor"] == "admin@111.kz" and "via" not in by_page
        assert by_command["actor"] == "" and by_command["via"] == "cli"
        assert by_command.keys() == by_page.keys() | {"via"}
        assert by_command.get("school_id") == by_page.get("school_id")


def test_a_file_over_the_limit_gets_a_clear_message(desk: Desk) -> None:
    admin = desk.log_in(desk.admin)
    response = upload(admin, b"x" * (school_admin.MAX_UPLOAD_BYTES + 100_000))
    assert response.status_code == 200
    assert "The file is larger than 4 MB: nothing was imported" in response.get_data(as_text=True)
    empty = admin.post("/staff/schools/import", data={})
    assert empty.status_code == 200
    assert "The form had expired" in empty.get_data(as_text=True)
    no_file = admin.post(
        "/staff/schools/import", data={"csrf_token": form_token(admin, "/staff/schools/import")}
    )
    assert "Choose a CSV file first." in no_file.get_data(as_text=True)


def test_a_registry_of_national_size_is_within_the_limit() -> None:
    row = (
        "99000099,Ш. Уәлиханов атындағы № 295 мектеп-лицей,Школа-лицей № 295 имени Ш. Уалиханова,"
        'Северо-Казахстанская область,Жанаозенский район,"мкр. Самал-2, 183"\n'
    )
    assert len(row.encode()) * 7_700 * 2 < school_admin.MAX_UPLOAD_BYTES
