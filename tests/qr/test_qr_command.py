"""The command: python -m qr posters, and the batch function under it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import qr.batch
from qr import BadOutputDir, PosterSchool, write_school_files
from qr.__main__ import main

from .conftest import BASE_URL, pdf_pages


def run(*args: str | Path) -> int:
    return main(["posters", *map(str, args)])


def all_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


def test_writes_posters_and_sheets(
    export_copy: Path,
    tmp_path: Path,
    export_schools: list[PosterSchool],
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out" / "posters"
    assert run("--schools", export_copy, "--base-url", BASE_URL, "--out", out) == 0
    ids = [school.school_id for school in export_schools]
    expected = sorted([f"{i}.pdf" for i in ids] + ["sheets"] + [f"sheets/{i}.pdf" for i in ids])
    assert all_files(out) == expected  # and no temporary files left
    (text,) = pdf_pages((out / f"{ids[0]}.pdf").read_bytes())
    assert export_schools[0].name_ru in text
    captured = capsys.readouterr()
    assert "wrote 6 PDF posters and 6 sticker sheets" in captured.out
    assert captured.err == ""  # no progress bar when stderr is not a terminal


def test_svg_png_and_languages(export_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "svg"
    args = ("--schools", export_copy, "--base-url", BASE_URL, "--out", out, "--no-sheets")
    assert run(*args, "--format", "svg", "--lang", "ru,en") == 0
    assert len(list(out.glob("*.svg"))) == 6 and not (out / "sheets").exists()
    svg = next(out.glob("*.svg")).read_text(encoding="utf-8")
    assert "Write to 111" in svg and "Напиши в 111" in svg and "111-ге жаз" not in svg


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--base-url": "ftp://qr111.kz"}, "bad base URL"),
        ({"--base-url": "https://qr111.kz/?x"}, "bad base URL"),
        ({"--lang": "kk,de"}, "unknown language 'de'"),
        ({"--format": "gif"}, "unknown format 'gif'"),
        ({"--schools": "missing.csv"}, "cannot read"),
    ],
)
def test_bad_arguments_exit_2_and_write_nothing(
    export_copy: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: dict[str, str],
    message: str,
) -> None:
    out = tmp_path / "out"
    options = {"--schools": str(export_copy), "--base-url": BASE_URL, "--out": str(out)}
    options.update(change)
    assert run(*[part for pair in options.items() for part in pair]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.startswith("qr111-posters: error: ") and err.count("\n") == 1
    assert not out.exists()


def test_bad_csv_exits_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "school_id,name_kk,name_ru,region,code,check_word\n"
        "1,Мектеп,Школа,R,ABCDEFGH,А\n"
        "1,Мектеп,Школа,R,ABCDEFGJ,А\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    assert run("--schools", bad, "--base-url", BASE_URL, "--out", out) == 2
    err = capsys.readouterr().err
    assert "line 3: school_id 1 repeats line 2" in err and err.count("\n") == 1
    assert not out.exists()


def test_out_is_a_file_exits_2(
    export_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "taken"
    out.write_text("not a directory")
    assert run("--schools", export_copy, "--base-url", BASE_URL, "--out", out) == 2
    assert "is not a directory" in capsys.readouterr().err
    assert out.read_text() == "not a directory"
    nested = out / "deeper"
    assert run("--schools", export_copy, "--base-url", BASE_URL, "--out", nested) == 2
    assert "cannot write" in capsys.readouterr().err
    assert all_files(tmp_path) == ["schools.csv", "taken"]


def test_sheets_dir_taken_by_a_file_leaves_no_new_dirs(
    export_schools: list[PosterSchool], tmp_path: Path
) -> None:
    out = tmp_path / "new" / "out"
    (tmp_path / "new").mkdir()
    with pytest.raises(BadOutputDir):
        # a file where out/ should be a directory, two levels down
        (tmp_path / "new" / "out").write_text("x")
        write_school_files(export_schools, BASE_URL, out / "sub")
    assert all_files(tmp_path / "new") == ["out"]


def test_failed_render_leaves_no_partial_files(
    export_schools: list[PosterSchool], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def flaky(*args: object, **kwargs: object) -> bytes:
        calls.append(args)
        if len(calls) == 3:
            raise RuntimeError("disk on fire")
        return b"%PDF-1.4 fake"

    monkeypatch.setattr(qr.batch, "render_poster", flaky)
    with pytest.raises(RuntimeError):
        write_school_files(export_schools, BASE_URL, tmp_path / "out", sheets=False)
    names = os.listdir(tmp_path / "out")
    assert sorted(names) == sorted(f"{s.school_id}.pdf" for s in export_schools[:2])


def test_parallel_batch_and_progress(
    export_schools: list[PosterSchool], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(qr.batch, "PARALLEL_FROM", 2)
    seen: list[tuple[int, int]] = []
    result = write_school_files(
        export_schools,
        BASE_URL,
        tmp_path / "out",
        "svg",
        progress=lambda d, t: seen.append((d, t)),
        sheets=False,
        workers=2,
    )
    assert result.posters == 6 and result.sheets == 0
    assert seen[-1] == (6, 6) and len(seen) >= 2
    assert len(list((tmp_path / "out").glob("*.svg"))) == 6
    assert result.bytes_written == sum(p.stat().st_size for p in (tmp_path / "out").iterdir())


def test_module_entry_point(export_copy: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "qr",
            "posters",
            "--schools",
            str(export_copy),
            "--base-url",
            "nope",
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().startswith("qr111-posters: error: bad base URL 'nope'")


def test_progress_counter_for_a_terminal() -> None:
    import io

    from qr.__main__ import _progress_printer

    stream = io.StringIO()
    progress, finish = _progress_printer(stream)
    progress(1, 4)
    progress(4, 4)
    finish()
    assert stream.getvalue() == "\r1/4 schools (25%)\r4/4 schools (100%)\n"
