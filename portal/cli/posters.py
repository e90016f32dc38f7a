"""`flask --app portal posters`: posters and sticker sheets straight from the registry."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import with_appcontext

from portal.services import registry
from portal.web.context import get_config, get_session


@click.command("posters")
@with_appcontext
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Folder for OUT/<school_id>.<format> and OUT/sheets/<school_id>.pdf.",
)
@click.option("--region", help="Only the schools of this region.")
@click.option(
    "--format",
    "fmt",
    default="pdf",
    show_default=True,
    type=click.Choice(["pdf", "svg", "png"]),
    help="Poster file format.",
)
@click.option(
    "--lang",
    "languages",
    default="kk,ru",
    show_default=True,
    help="Poster languages, comma separated (kk, ru, en).",
)
def posters_command(out_dir: Path, region: str | None, fmt: str, languages: str) -> None:
    """Print posters and sticker sheets for the active schools, straight from the database."""
    from portal.services.posters import PosterError, write_posters

    schools = registry.list_schools(get_session(), region=region, include_inactive=False)
    if not schools:
        click.echo(
            "error: no active school" + (f" in region {region!r}" if region else ""), err=True
        )
        sys.exit(2)
    base_url = get_config().base_url
    # click draws the bar only on a terminal; in a pipe or a log it prints the label once.
    with click.progressbar(length=len(schools), label="schools", file=sys.stderr) as bar:
        try:
            count = write_posters(
                schools,
                base_url,
                out_dir,
                fmt=fmt,
                languages=languages,
                progress=lambda done, _total: bar.update(done - bar.pos),
            )
        except PosterError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
    click.echo(f"{count} posters and sticker sheets written to {out_dir}")
