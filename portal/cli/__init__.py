"""The command line: `flask --app portal db|schools|posters|keys|inbox|staff|audit|reports|demo`,
and `risk check` for clinicians editing the risk lexicon.

Each command reads its arguments and calls the same service function as the web page that does
the same thing (portal.services), so both apply the same rules and write the same audit record.
"""

from __future__ import annotations

from flask import Flask

from portal.cli import audit, db, demo, keys, notify, posters, risk, schools


def init_app(app: Flask) -> None:
    """Register the command groups."""
    app.cli.add_command(db.db_cli)
    app.cli.add_command(schools.schools_cli)
    app.cli.add_command(posters.posters_command)
    app.cli.add_command(demo.demo_command)
    for group in (keys.keys_cli, keys.inbox_cli, keys.staff_cli):
        app.cli.add_command(group)
    app.cli.add_command(audit.audit_cli)
    app.cli.add_command(audit.reports_cli)
    app.cli.add_command(risk.risk_cli)
    app.cli.add_command(notify.notify_cli)
