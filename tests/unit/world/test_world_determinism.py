"""Same seed, same `now`, same arguments => byte-identical files; another seed differs."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from tutorpulse.world.config import WorldConfig
from tutorpulse.world.generator import generate_world
from tutorpulse.world.writer import write_world

NOW = datetime(2026, 3, 15, tzinfo=UTC)


def _digests(out: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir())}


def _write(tmp_path: Path, name: str, seed: int, fmt: str) -> dict[str, str]:
    world = generate_world(WorldConfig(tutors=400, days=60, seed=seed, now=NOW))
    out = tmp_path / name
    write_world(world, out, fmt=fmt)  # type: ignore[arg-type]
    return _digests(out)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_same_seed_gives_byte_identical_files(tmp_path: Path, fmt: str) -> None:
    first = _write(tmp_path, "a", 5, fmt)
    second = _write(tmp_path, "b", 5, fmt)
    assert set(first) == {f"{n}.{fmt}" for n in ("tutors", "students", "sessions", "events")} | {
        "truth.json"
    }
    assert first == second


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_another_seed_gives_different_files(tmp_path: Path, fmt: str) -> None:
    first = _write(tmp_path, "a", 5, fmt)
    other = _write(tmp_path, "c", 6, fmt)
    for name in first:
        assert first[name] != other[name], name


def test_csv_and_parquet_hold_the_same_rows(tmp_path: Path) -> None:
    world = generate_world(WorldConfig(tutors=300, days=30, seed=3, now=NOW))
    write_world(world, tmp_path / "p", fmt="parquet")
    write_world(world, tmp_path / "c", fmt="csv")
    for name in ("tutors", "sessions", "events"):
        parquet = pq.read_table(tmp_path / "p" / f"{name}.parquet")
        csv = pacsv.read_csv(tmp_path / "c" / f"{name}.csv")
        assert parquet.num_rows == csv.num_rows
        assert parquet.schema.names == csv.schema.names
        assert parquet.column(0).to_pylist() == csv.column(0).to_pylist()
    sessions = (tmp_path / "c" / "sessions.csv").read_text().splitlines()
    assert ',"2026-' in sessions[1]
    assert "+00:00" in sessions[1]
    back = pacsv.read_csv(tmp_path / "c" / "sessions.csv")
    assert back.schema.field("scheduled_start").type.tz in {"UTC", "+00:00"}
    assert back["scheduled_start"].to_pylist() == world.sessions["scheduled_start"].to_pylist()


def test_switching_format_removes_the_other_files(tmp_path: Path) -> None:
    world = generate_world(WorldConfig(tutors=100, days=20, seed=3, now=NOW))
    write_world(world, tmp_path, fmt="csv")
    write_world(world, tmp_path, fmt="parquet")
    assert not list(tmp_path.glob("*.csv"))
    with pytest.raises(ValueError, match="unknown format"):
        write_world(world, tmp_path, fmt="xlsx")  # type: ignore[arg-type]
