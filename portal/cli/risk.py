"""`flask --app portal risk check`: what the risk lexicon makes of messages, for clinicians."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from portal.enums import Category, Priority
from portal.services import risk

risk_cli = AppGroup("risk", help="The risk lexicon: try messages against it.")


@risk_cli.command("check")
@click.option(
    "--lexicon",
    "folder",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="A folder of lexicon files to try instead of the shipped one (an edited copy).",
)
def risk_check(folder: Path | None) -> None:
    """Read one message per line on standard input; print `P1<TAB>rule` or `-` for each.

    The same function as the intake, with the child's danger answer "no" and category
    "other". A lexicon that does not load is named (file and line) and nothing is checked.
    """
    try:
        lexicon = risk.load_lexicon(folder)
    except risk.LexiconError as error:
        click.echo(f"lexicon error: {error}", err=True)
        sys.exit(1)
    for line in sys.stdin:
        found = risk.assess(Category.OTHER, False, line.rstrip("\r\n"), lexicon)
        click.echo(f"P1\t{found.rule}" if found.priority is Priority.P1 else "-")
