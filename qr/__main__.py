"""The command: python -m qr posters --schools FILE.csv --base-url URL --out DIR."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from typing import TextIO

from qr.batch import BadOutputDir, ProgressCallback, write_school_files
from qr.model import DEFAULT_LANGUAGES, Language
from qr.render import PosterFormat
from qr.schools_csv import BadSchoolsFile, read_schools_csv
from qr.urls import validate_base_url

PROG = "qr111-posters"
EXIT_USAGE = 2  # the argparse convention: bad input, nothing done


def _parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m qr", description="QR 111 poster generator")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    posters = commands.add_parser(
        "posters",
        help="write every school's poster and sticker sheet",
        description="Write OUT/<school_id>.<format> and OUT/sheets/<school_id>.pdf per school.",
    )
    posters.add_argument(
        "--schools",
        required=True,
        metavar="FILE.csv",
        help="a schools export (school_id, names, code, check_word, ...)",
    )
    posters.add_argument(
        "--base-url",
        required=True,
        metavar="URL",
        help="the portal's public address, e.g. https://qr111.kz",
    )
    posters.add_argument("--out", required=True, metavar="DIR", help="output directory")
    posters.add_argument(
        "--format",
        default="pdf",
        metavar="pdf|svg|png",
        help="poster format (default pdf; sheets are always PDF)",
    )
    posters.add_argument(
        "--lang",
        default=",".join(lang.value for lang in DEFAULT_LANGUAGES),
        metavar="kk,ru,en",
        help="languages, in order (default kk,ru)",
    )
    posters.add_argument("--no-sheets", action="store_true", help="posters only")
    posters.add_argument(
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help="worker processes (default: one per CPU)",
    )
    return parser


def _progress_printer(stream: TextIO) -> tuple[ProgressCallback, Callable[[], None]]:
    """A '\\r' counter for a terminal, and a function that ends its line."""
    shown = [False]

    def progress(done: int, total: int) -> None:
        shown[0] = True
        stream.write(f"\r{done}/{total} schools ({100 * done // max(total, 1)}%)")
        stream.flush()

    def finish() -> None:
        if shown[0]:
            stream.write("\n")
            stream.flush()

    return progress, finish


def _fail(message: str) -> int:
    """Print a one-line error and return the usage exit code."""
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit status (0 done, 2 bad input)."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format=f"{PROG}: warning: %(message)s")
    # Everything is checked before the first file is written.
    try:
        fmt = PosterFormat.parse(args.format)
        languages = Language.parse_list(args.lang)
        base_url = validate_base_url(args.base_url)
    except ValueError as error:
        return _fail(str(error))
    if args.jobs is not None and args.jobs < 1:
        return _fail("--jobs must be at least 1")
    try:
        schools = read_schools_csv(args.schools)
    except BadSchoolsFile as error:
        return _fail(f"bad schools file: {error}")
    except OSError as error:
        return _fail(f"cannot read {args.schools}: {error.strerror or error}")
    if not schools:
        return _fail(f"{args.schools} lists no schools")

    progress: ProgressCallback | None = None
    finish: Callable[[], None] = lambda: None  # noqa: E731
    if sys.stderr.isatty():  # a bar only for a person watching, never in logs or pipes
        progress, finish = _progress_printer(sys.stderr)
    try:
        result = write_school_files(
            schools,
            base_url,
            args.out,
            fmt,
            languages,
            progress,
            sheets=not args.no_sheets,
            workers=args.jobs,
        )
    except BadOutputDir as error:
        return _fail(str(error))
    except ValueError as error:
        return _fail(str(error))
    finally:
        finish()
    sheets = f" and {result.sheets} sticker sheets" if result.sheets else ""
    print(
        f"wrote {result.posters} {fmt.value.upper()} posters{sheets} to {result.out_dir}"
        f" in {result.seconds:.1f} s ({result.bytes_written / 1e6:.1f} MB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
