"""Benchmark the poster generator on a synthetic national run (default: 7,700 schools).

Run by hand: python bench/posters.py [--schools N] [--out DIR] [--no-sheets]
Prints wall times, posters per second, PDF sizes and the cost relative to QR encoding.
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from qr import read_schools_csv, school_url, write_school_files
from qr.batch import default_workers
from qr.encode import uncached_qr_matrix
from qr.schools_csv import KNOWN_COLUMNS
from qr.urls import CODE_ALPHABET, CODE_LENGTH

BASE_URL = "https://qr111.kz"
VILLAGES = [  # (Kazakh, Russian)
    ("Шұбаркөл", "Шубарколь"),
    ("Қаратөбе", "Каратобе"),
    ("Жаңаөзен", "Жанаозен"),
    ("Күнгей", "Кунгей"),
    ("Өркен", "Оркен"),
    ("Ақсу", "Аксу"),
    ("Құрманғазы", "Курмангазы"),
    ("Үшарал", "Ушарал"),
    ("Көктерек", "Коктерек"),
    ("Әулиеағаш", "Аулиеагаш"),
    ("Шұңқыр", "Шункыр"),
    ("Іргелі", "Иргели"),
    ("Ұзынағаш", "Узынагаш"),
]
PEOPLE = [
    ("Абай", "Абая"),
    ("Ш. Уәлиханов", "Ш. Уалиханова"),
    ("Ы. Алтынсарин", "И. Алтынсарина"),
    ("М. Әуезов", "М. Ауэзова"),
    ("Ғ. Мүсірепов", "Г. Мусрепова"),
    ("Һ. Ғабдуллин", "Х. Габдуллина"),
]
REGIONS = [
    "Абайская область",
    "Акмолинская область",
    "Актюбинская область",
    "Алматинская область",
    "Атырауская область",
    "Жамбылская область",
    "Карагандинская область",
    "г. Астана",
    "г. Алматы",
    "г. Шымкент",
    "Туркестанская область",
    "Костанайская область",
]
WORDS = ["ЛИМОН", "АЛМА", "ҚАРЛЫҒАШ", "ЖҰЛДЫЗ", "РОМАШКА", "ТЮЛЬПАН", "БҮРКІТ", "САЗАН", "ӨРІК"]


def school_names(rng: random.Random, number: int) -> tuple[str, str]:
    """A plausible (Kazakh, Russian) school name pair."""
    kind = rng.randrange(4)
    if kind == 0:
        kk, ru = rng.choice(VILLAGES)
        return f"{kk} ауылының негізгі орта мектебі", f"Основная средняя школа села {ru}"
    if kind == 1:
        return f"№ {number} жалпы білім беретін мектеп", f"Общеобразовательная школа № {number}"
    if kind == 2:
        return f"№ {number} мектеп-гимназия", f"Школа-гимназия № {number}"
    kk, ru = rng.choice(PEOPLE)
    return f"{kk} атындағы № {number} мектеп-лицей", f"Школа-лицей № {number} имени {ru}"


def write_export(path: Path, count: int, seed: int = 111) -> None:
    """Write count synthetic schools in the registry export format."""
    rng = random.Random(seed)
    codes: set[str] = set()
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(KNOWN_COLUMNS)  # the registry export's columns, codes included
        for index in range(count):
            code = ""
            while not code or code in codes:
                code = "".join(rng.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            codes.add(code)
            kk, ru = school_names(rng, rng.randrange(1, 400))
            writer.writerow(
                [
                    f"{10_000_000 + index}",
                    kk,
                    ru,
                    rng.choice(REGIONS),
                    "",
                    "",
                    code,
                    rng.choice(WORDS),
                ]
            )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--schools", type=int, default=7700, help="how many schools (7700)")
    parser.add_argument("--out", type=Path, help="output directory (default: a temporary one)")
    parser.add_argument("--no-sheets", action="store_true", help="skip the sticker-sheet run")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="qr111-bench-") as temporary:
        out = args.out or Path(temporary)
        out.mkdir(parents=True, exist_ok=True)
        export = out / "schools-export.csv"
        write_export(export, args.schools)
        started = time.perf_counter()
        schools = read_schools_csv(export)
        read_seconds = time.perf_counter() - started
        workers = default_workers()
        print(f"schools: {len(schools)}   CPUs used: {workers}")
        print(f"read export CSV:                {read_seconds:8.2f} s")

        started = time.perf_counter()
        encode = uncached_qr_matrix  # every URL really encoded
        for school in schools:
            encode(school_url(BASE_URL, school.code))
        qr_seconds = time.perf_counter() - started
        print(
            f"(a) QR encoding only, 1 process: {qr_seconds:7.2f} s  "
            f"({len(schools) / qr_seconds:6.0f} codes/s)"
        )

        posters_dir = out / "posters"
        result = write_school_files(schools, BASE_URL, posters_dir, "pdf", sheets=False)
        sizes = sorted(p.stat().st_size for p in posters_dir.glob("*.pdf"))
        print(
            f"(b) PDF posters, {workers} processes: {result.seconds:7.2f} s wall  "
            f"({len(schools) / result.seconds:6.0f} posters/s)"
        )
        print(
            f"    poster PDF size: median {statistics.median(sizes) / 1024:.1f} KB, "
            f"max {sizes[-1] / 1024:.1f} KB, files {len(sizes)}"
        )
        print(f"    ratio whole poster run / QR encoding only: {result.seconds / qr_seconds:.2f}")
        goal = "met" if result.seconds < 30 and sizes[-1] < 60 * 1024 else "NOT met"
        print(f"    goal (< 30 s for 7,700, < 60 KB each): {goal}")

        if not args.no_sheets:
            both_dir = out / "posters-and-sheets"
            result = write_school_files(schools, BASE_URL, both_dir, "pdf", sheets=True)
            sheet_sizes = sorted(p.stat().st_size for p in (both_dir / "sheets").glob("*.pdf"))
            print(
                f"(c) posters + sticker sheets:    {result.seconds:7.2f} s wall  "
                f"({len(schools) / result.seconds:6.0f} schools/s)"
            )
            print(
                f"    sheet PDF size: median {statistics.median(sheet_sizes) / 1024:.1f} KB, "
                f"max {sheet_sizes[-1] / 1024:.1f} KB"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
