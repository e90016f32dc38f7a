"""Write posters and sticker sheets for many schools: validated first, each file atomic."""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from qr.model import DEFAULT_LANGUAGES, Language, PosterSchool
from qr.render import PosterFormat, render_poster, render_sticker_sheet
from qr.schools_csv import valid_school_id
from qr.typeface import register_fonts
from qr.urls import BadSchoolCode, validate_base_url, validate_code

SHEETS_DIR = "sheets"
PARALLEL_FROM = 48  # below this, starting worker processes costs more than it saves

ProgressCallback = Callable[[int, int], None]  # (schools done, schools in all)


class BadOutputDir(Exception):
    """The output directory cannot be created or written to."""


@dataclass(frozen=True)
class BatchResult:
    """What a batch wrote."""

    out_dir: Path
    fmt: PosterFormat
    posters: int
    sheets: int
    bytes_written: int
    seconds: float


def write_atomic(path: Path, data: bytes) -> None:
    """Write data to path via a temporary file in the same directory and os.replace.

    A reader (or a crash) never sees a half-written poster. No fsync: a poster lost to a
    power cut is simply generated again, and 15,000 fsyncs would dominate a national run.
    """
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.chmod(temporary, 0o644)  # mkstemp makes 0600; posters are meant to be shared
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _check_schools(schools: Sequence[PosterSchool]) -> None:
    """Every id usable as a file name and unique, every code valid: before writing anything."""
    seen: set[str] = set()
    for school in schools:
        if not valid_school_id(school.school_id):
            raise ValueError(f"bad school_id {school.school_id!r} (letters, digits and '-' only)")
        if school.school_id in seen:
            raise ValueError(f"school_id {school.school_id} appears twice")
        seen.add(school.school_id)
        try:
            validate_code(school.code)
        except BadSchoolCode as error:
            raise ValueError(f"school {school.school_id}: {error}") from None


def prepare_out_dir(out_dir: Path, sheets: bool) -> None:
    """Create out_dir (and sheets/) and prove they are writable; undo what it made on failure."""
    made: list[Path] = []
    targets = [out_dir, out_dir / SHEETS_DIR] if sheets else [out_dir]
    try:
        for directory in targets:
            if directory.exists() and not directory.is_dir():
                raise BadOutputDir(f"{directory} exists and is not a directory")
            missing = [p for p in (directory, *directory.parents) if not p.exists()]
            directory.mkdir(parents=True, exist_ok=True)
            made.extend(reversed(missing))  # parents first; removed in reverse below
            # Creating a file is the only honest test (root ignores modes, mounts may be ro).
            fd, probe = tempfile.mkstemp(prefix=".write-test.", dir=directory)
            os.close(fd)
            os.unlink(probe)
    except OSError as error:
        for directory in reversed(made):
            with contextlib.suppress(OSError):
                directory.rmdir()
        reason = error.strerror or str(error)
        raise BadOutputDir(f"cannot write to {error.filename or out_dir}: {reason}") from None
    except BadOutputDir:
        for directory in reversed(made):
            with contextlib.suppress(OSError):
                directory.rmdir()
        raise


@dataclass(frozen=True)
class _Job:
    """A chunk of schools for one worker process (picklable)."""

    schools: tuple[PosterSchool, ...]
    base_url: str
    out_dir: str
    fmt: PosterFormat
    languages: tuple[Language, ...]
    sheets: bool


def _run_job(job: _Job) -> tuple[int, int]:
    """Render and write every file of a chunk; returns (schools done, bytes written)."""
    out = Path(job.out_dir)
    written = 0
    for school in job.schools:
        poster = render_poster(school, job.base_url, job.languages, job.fmt)
        write_atomic(out / f"{school.school_id}.{job.fmt.value}", poster)
        written += len(poster)
        if job.sheets:
            sheet = render_sticker_sheet(school, job.base_url, job.languages)
            write_atomic(out / SHEETS_DIR / f"{school.school_id}.pdf", sheet)
            written += len(sheet)
    return len(job.schools), written


def default_workers() -> int:
    """The CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def write_school_files(
    schools: Sequence[PosterSchool],
    base_url: str,
    out_dir: str | os.PathLike[str],
    fmt: PosterFormat | str = PosterFormat.PDF,
    languages: Sequence[Language] = DEFAULT_LANGUAGES,
    progress: ProgressCallback | None = None,
    *,
    sheets: bool = True,
    workers: int | None = None,
) -> BatchResult:
    """Write OUT/<school_id>.<fmt> and OUT/sheets/<school_id>.pdf for every school.

    Raises ValueError (BadBaseURL, a bad format or school) or BadOutputDir before
    anything is written. Large batches run on a process pool sized to the CPUs.
    """
    started = time.perf_counter()
    kind = PosterFormat.parse(fmt)
    base = validate_base_url(base_url)
    chosen = tuple(languages) or DEFAULT_LANGUAGES
    _check_schools(schools)
    out = Path(out_dir)
    prepare_out_dir(out, sheets)

    total = len(schools)
    count = min(workers or default_workers(), max(1, total))
    if count == 1 or total < PARALLEL_FROM:
        count, size = 1, 1
    else:
        # Several chunks per worker so that a slow chunk does not leave a CPU idle at the end.
        size = max(1, min(64, math.ceil(total / (count * 6))))
    jobs = [
        _Job(tuple(schools[i : i + size]), base, str(out), kind, chosen, sheets)
        for i in range(0, total, size)
    ]
    done = written = 0
    if count == 1:
        for job in jobs:
            finished, nbytes = _run_job(job)
            done, written = done + finished, written + nbytes
            if progress:
                progress(done, total)
    else:
        # spawn, not fork: the portal may call this from a threaded server, where a forked
        # child can inherit a held lock; a fresh interpreter costs ~0.3 s once per worker.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(count, mp_context=context, initializer=register_fonts) as pool:
            pending = {pool.submit(_run_job, job) for job in jobs}
            while pending:
                finished_set, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished_set:
                    try:
                        finished, nbytes = future.result()
                    except BaseException:
                        for other in pending:
                            other.cancel()
                        raise
                    done, written = done + finished, written + nbytes
                if progress:
                    progress(done, total)
    return BatchResult(
        out_dir=out,
        fmt=kind,
        posters=total,
        sheets=total if sheets else 0,
        bytes_written=written,
        seconds=time.perf_counter() - started,
    )
