"""The house: which part may import what, and names that pair a page with its logic."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask

PORTAL = Path(__file__).resolve().parent.parent / "portal"
TEMPLATES = PORTAL.parent / "templates"
WEB_FRAMEWORK = ("flask", "flask_wtf", "wtforms", "flask_babel", "flask_limiter", "werkzeug")


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth of its code."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def modules_of(package: str) -> list[Path]:
    return sorted((PORTAL / package).rglob("*.py"))


@pytest.mark.parametrize("package", ["services", "crypto"])
def test_services_and_crypto_never_load_the_web_framework(package: str) -> None:
    """Imported alone, in a fresh interpreter, they load no Flask, WTForms or Werkzeug."""
    names = [
        ".".join(path.relative_to(PORTAL.parent).with_suffix("").parts)
        for path in modules_of(package)
    ]
    program = (
        "import sys\n"
        + "".join(f"import {name.removesuffix('.__init__')}\n" for name in names)
        + f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({WEB_FRAMEWORK!r})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"


def test_only_the_web_and_the_command_line_import_flask() -> None:
    outside = [
        path
        for path in PORTAL.rglob("*.py")
        if path.relative_to(PORTAL).parts[0] not in ("web", "cli")
        and path.name != "__init__.py"  # portal/__init__.py imports the web app when called
    ]
    offenders = {
        str(path.relative_to(PORTAL)): sorted(
            name for name in imported_modules(path) if name.split(".")[0] in WEB_FRAMEWORK
        )
        for path in outside
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_crypto_knows_nothing_of_the_database_or_the_services() -> None:
    for path in modules_of("crypto"):
        for name in imported_modules(path):
            assert name.split(".")[0] != "sqlalchemy", path
            assert not name.startswith(("portal.services", "portal.web", "portal.models")), path


def test_services_never_reach_into_the_web_or_the_command_line() -> None:
    for path in modules_of("services"):
        for name in imported_modules(path):
            assert not name.startswith(("portal.web", "portal.cli")), (path, name)


def test_views_never_import_cryptography() -> None:
    for path in modules_of("web"):
        assert not any(name.startswith("cryptography") for name in imported_modules(path)), path


def test_only_the_crypto_package_imports_argon2() -> None:
    """Argon2id is portal/crypto's (envelope.derive_argon2): nothing else calls it directly."""
    for path in sorted(PORTAL.rglob("*.py")):
        if path.parent.name == "crypto":
            continue
        assert not any(name.split(".")[0] == "argon2" for name in imported_modules(path)), path


def test_each_blueprint_is_named_as_its_package_and_its_templates_folder(app: Flask) -> None:
    for name, blueprint in app.blueprints.items():
        if "." in name:  # nested: admin.schools lives in portal/web/admin/schools.py
            parent, child = name.rsplit(".", 1)
            assert blueprint.import_name == f"portal.web.{parent}.{child}", name
            continue
        assert blueprint.import_name.startswith(f"portal.web.{name}"), name
    for package in ("child", "desk", "admin"):
        assert (TEMPLATES / package).is_dir()
        for path in modules_of(f"web/{package}"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Call)
                    and getattr(node.func, "id", "") == "render_template"
                    and isinstance(node.args[0], ast.Constant)
                ):
                    assert str(node.args[0].value).startswith(f"{package}/"), path


def test_the_tests_mirror_the_packages() -> None:
    """Each part of portal/ has its folder of tests, and qr/ too."""
    tests = Path(__file__).resolve().parent
    for part in ("services", "crypto", "web", "web/child", "web/desk", "web/admin", "cli"):
        assert (PORTAL / part / "__init__.py").exists(), part
        assert list((tests / part).glob("test_*.py")), f"no tests/{part}/test_*.py"
    assert list((tests / "qr").glob("test_*.py"))


def test_templates_and_static_files_mirror_the_blueprints() -> None:
    static = PORTAL.parent / "static"
    assert (static / "child" / "exit.js").exists() and (static / "desk" / "desk.css").exists()
    assert {path.name for path in TEMPLATES.iterdir() if path.is_dir()} == {
        "child",
        "desk",
        "admin",
        "errors",
    }
