"""QR 111 school reporting portal.

The house, by folder (README's "Layout" says more):

- `portal/clock.py`, `config.py`, `enums.py`, `models.py`, `database.py`, `migrate.py`: the
  core every part shares — one clock, the frozen configuration, the vocabularies, the tables.
- `portal/crypto/`: the sealing of reports and keys; knows nothing of Flask or the database.
- `portal/services/`: every action, one function owning its transaction and its audit record;
  no Flask (a test checks the imports). The web pages and the command line both call them.
- `portal/web/`: the Flask app — `child/`, `desk/` and `admin/` blueprints with their forms,
  and what every page shares (errors, headers, languages, limits, the key-derivation bound).
- `portal/cli/`: the `flask --app portal …` commands, calling the same services.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from portal.config import Config


def create_app(config: Config | None = None) -> Flask:
    """Build the web app (what `flask --app portal` finds): see portal.web.app.create_app.

    Imported here, when called, so that importing `portal.services` or `portal.crypto` never
    loads Flask.
    """
    from portal.web.app import create_app as build

    return build(config)
