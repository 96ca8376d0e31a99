"""Generation benchmark: time `generate_world` + `write_world` at the default and reference sizes.

    python benchmarks/bench_generate.py               # default world: parquet and csv
    python benchmarks/bench_generate.py --reference   # also 100k tutors x 365 days (parquet)
    python benchmarks/bench_generate.py --reference --reference-csv

Each scenario runs in its own subprocess so that its peak RSS is its own. For each
it prints generation and write seconds, rows (all four tables), rows/s and peak
RSS. Output goes to benchmarks/out/ (git-ignored). Figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from tutorpulse.world.config import (
    DEFAULT_DAYS,
    DEFAULT_TUTORS,
    REFERENCE_DAYS,
    REFERENCE_TUTORS,
    WorldConfig,
)
from tutorpulse.world.generator import generate_world
from tutorpulse.world.writer import write_world

OUT = Path(__file__).resolve().parent / "out"
NOW = datetime(2026, 5, 1, tzinfo=UTC)

FORMATS: dict[str, Literal["csv", "parquet"]] = {"csv": "csv", "parquet": "parquet"}


def run_scenario(tutors: int, days: int, formats: list[str], seed: int) -> dict[str, object]:
    started = time.perf_counter()
    world = generate_world(WorldConfig(tutors=tutors, days=days, seed=seed, now=NOW))
    generated = time.perf_counter() - started
    rows = {name: table.num_rows for name, table in world.tables().items()}
    writes = {}
    for fmt in formats:
        kind = FORMATS.get(fmt)
        if kind is None:
            raise SystemExit(f"unknown format {fmt!r}: expected csv or parquet")
        t0 = time.perf_counter()
        paths = write_world(world, OUT / f"{tutors}x{days}-{fmt}", fmt=kind)
        size = sum(p.stat().st_size for p in paths.values())
        writes[fmt] = {"seconds": round(time.perf_counter() - t0, 2), "bytes": size}
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    achieved = world.truth["calibration"]["achieved"]
    return {
        "tutors": tutors,
        "days": days,
        "generate_seconds": round(generated, 2),
        "stages": world.timings,
        "writes": writes,
        "rows": rows,
        "peak_rss_mib": round(peak_kib / 1024),
        "sessions_per_day": achieved["sessions_per_day"],
    }


def report(result: dict[str, object]) -> None:
    rows: dict[str, int] = result["rows"]  # type: ignore[assignment]
    total_rows = sum(rows.values())
    gen = float(result["generate_seconds"])  # type: ignore[arg-type]
    print(f"\n== {result['tutors']:,} tutors x {result['days']} days ==")
    print("rows: " + ", ".join(f"{k} {v:,}" for k, v in rows.items()) + f" (total {total_rows:,})")
    print(f"sessions per day: {result['sessions_per_day']:,}")
    print(f"generate: {gen:.1f}s  ({total_rows / gen:,.0f} rows/s)  stages {result['stages']}")
    writes: dict[str, dict[str, float]] = result["writes"]  # type: ignore[assignment]
    for fmt, w in writes.items():
        secs = w["seconds"]
        print(
            f"write {fmt:<7}: {secs:.1f}s  ({total_rows / max(secs, 1e-9):,.0f} rows/s), "
            f"{w['bytes'] / 2**20:,.0f} MiB; generate+write {gen + secs:.1f}s "
            f"({total_rows / (gen + secs):,.0f} rows/s)"
        )
    print(f"peak RSS: {result['peak_rss_mib']:,} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", action="store_true", help="also the 100k x 365 world")
    parser.add_argument(
        "--reference-csv", action="store_true", help="write the reference as CSV too"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--scenario", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.scenario:
        tutors, days, formats = args.scenario.split(":")
        result = run_scenario(int(tutors), int(days), formats.split(","), args.seed)
        print("RESULT " + json.dumps(result))
        return

    scenarios = [f"{DEFAULT_TUTORS}:{DEFAULT_DAYS}:parquet,csv"]
    if args.reference:
        ref_formats = "parquet,csv" if args.reference_csv else "parquet"
        scenarios.append(f"{REFERENCE_TUTORS}:{REFERENCE_DAYS}:{ref_formats}")
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"now={NOW.isoformat()} seed={args.seed}")
    for scenario in scenarios:
        proc = subprocess.run(
            [sys.executable, __file__, "--scenario", scenario, "--seed", str(args.seed)],
            capture_output=True,
            text=True,
            check=True,
        )
        line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
        report(json.loads(line.removeprefix("RESULT ")))


if __name__ == "__main__":
    main()
