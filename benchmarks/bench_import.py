"""Import benchmark: generate a world, import it into SQLite and PostgreSQL, compare with a bare insert.

    python benchmarks/bench_import.py                      # reference world: 100k tutors × 365 days
    python benchmarks/bench_import.py --tutors 20000 --days 180
    python benchmarks/bench_import.py --world var/bench-world --engines sqlite

For each engine it prints the import's rows/s per file (validation included and
excluded) and, for the sessions file, the ratio against a bare bulk insert of
the same, already-converted rows into an empty table with only its primary key
(``executemany`` on SQLite, ``COPY`` on PostgreSQL). Only the insert itself is
timed for the bare baseline, so the ratio is the import's whole cost relative to
the database's raw write speed.
"""

from __future__ import annotations

import argparse
import io
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from tutorpulse.core import migrate
from tutorpulse.core.db import create_db_engine
from tutorpulse.sessions.models import TutorSession
from tutorpulse.tutors import bulk, importer
from tutorpulse.world.config import WorldConfig
from tutorpulse.world.generator import generate_world
from tutorpulse.world.writer import write_world

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def ensure_world(folder: Path, tutors: int, days: int, seed: int) -> None:
    if (folder / "sessions.parquet").exists():
        print(f"world: reusing {folder}")
        return
    now = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    t0 = time.perf_counter()
    world = generate_world(WorldConfig(tutors=tutors, days=days, seed=seed, now=now))
    t1 = time.perf_counter()
    write_world(world, folder, fmt="parquet")
    print(
        f"world: generated {tutors:,} tutors × {days} days in {t1 - t0:.1f}s, written in {time.perf_counter() - t1:.1f}s"
    )


def fresh_engine(kind: str, workdir: Path) -> Engine:
    if kind == "sqlite":
        path = workdir / "bench.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return create_db_engine(f"sqlite:///{path}")
    admin = create_db_engine(PG_ADMIN)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql('DROP DATABASE IF EXISTS "tutorpulse_bench" WITH (FORCE)')
        conn.exec_driver_sql('CREATE DATABASE "tutorpulse_bench"')
    admin.dispose()
    return create_db_engine(
        str(make_url(PG_ADMIN).set(database="tutorpulse_bench").render_as_string(False))
    )


def run_import(engine: Engine, folder: Path) -> importer.ImportReport:
    migrate.upgrade(engine)
    t0 = time.perf_counter()
    report = importer.import_directory(engine, directory=folder, now=datetime.now(UTC))
    total = time.perf_counter() - t0
    print(
        f"  import total {total:.1f}s (validation {report.validate_seconds:.1f}s, writes {report.write_seconds:.1f}s)"
    )
    for f in report.files.values():
        print(
            f"  {f.name:<9} {f.rows:>11,} rows  write {f.seconds:7.1f}s  {f.rows_per_second:>10,.0f} rows/s"
        )
    return report


def bare_insert_seconds(engine: Engine, folder: Path) -> tuple[int, float]:
    """Time a bare bulk insert of the sessions rows (pre-converted) into a PK-only table."""
    import pandas as pd

    frame = pd.read_parquet(folder / "sessions.parquet")
    cols = [c.name for c in TutorSession.__table__.columns if c.name != "id"]
    sample = frame.rename(columns={"session_id": "external_id"})
    sample["tutor_id"] = sample["tutor_id"].str.lstrip("T").astype("int64")
    sample["student_id"] = sample["student_id"].str.extract(r"(\d+)", expand=False).astype("int64")
    sample["first_session_derived"] = False
    now = pd.Timestamp.now(tz="UTC")
    sample["created_at"] = now
    sample["updated_at"] = now
    kinds = {c.name: _kind(c) for c in TutorSession.__table__.columns if c.name != "id"}
    targets = [bulk.TargetColumn(c, kinds[c]) for c in cols]
    seconds = 0.0
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS bare_session")
        conn.exec_driver_sql(
            "CREATE TABLE bare_session AS SELECT * FROM tutor_session WHERE 1 = 0"
            if engine.dialect.name == "postgresql"
            else "CREATE TABLE bare_session AS SELECT * FROM tutor_session WHERE 0"
        )
        raw = conn.connection.dbapi_connection
        assert raw is not None
        if engine.dialect.name == "sqlite":
            sql = f"INSERT INTO bare_session ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})"
            cursor = raw.cursor()
            for rows in bulk.sqlite_rows(sample, targets):
                t0 = time.perf_counter()
                cursor.executemany(sql, rows)
                seconds += time.perf_counter() - t0
        else:
            with raw.cursor() as cursor:  # type: ignore[attr-defined]
                for start in range(0, len(sample), 200_000):
                    chunk = sample.iloc[start : start + 200_000]
                    table = pa.Table.from_pandas(chunk[cols], preserve_index=False)
                    buffer = io.BytesIO()
                    pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=False))
                    t0 = time.perf_counter()
                    with cursor.copy(
                        f"COPY bare_session ({', '.join(cols)}) FROM STDIN WITH (FORMAT csv)"
                    ) as copy:
                        copy.write(buffer.getvalue())
                    seconds += time.perf_counter() - t0
        conn.execute(text("DROP TABLE bare_session"))
    return len(sample), seconds


def _kind(column: object) -> str:
    name = type(getattr(column, "type", None)).__name__.lower()
    if "datetime" in name or "utcdatetime" in name:
        return "timestamp"
    if "bool" in name:
        return "bool"
    if "int" in name:
        return "int"
    if "float" in name:
        return "float"
    return "str"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tutors", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--world", type=Path, default=None, help="world folder (generated if absent)"
    )
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--workdir", type=Path, default=Path("var/bench"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    folder = args.world or args.workdir / f"world-{args.tutors}x{args.days}-s{args.seed}"
    ensure_world(folder, args.tutors, args.days, args.seed)
    for kind in args.engines.split(","):
        print(f"\n== {kind}")
        engine = fresh_engine(kind, args.workdir)
        report = run_import(engine, folder)
        sessions = report.files["sessions"]
        rows, bare = bare_insert_seconds(engine, folder)
        bare_rate = rows / bare
        share = (
            report.validate_seconds
            * sessions.rows
            / max(sum(f.rows for f in report.files.values()), 1)
        )
        end_to_end = sessions.rows / (sessions.seconds + share)
        print(
            f"  bare {'executemany' if kind == 'sqlite' else 'COPY'} of the same sessions rows: {bare_rate:,.0f} rows/s"
        )
        print(
            f"  sessions import: {sessions.rows_per_second:,.0f} rows/s writing "
            f"({sessions.rows_per_second / bare_rate:.2f}× bare), "
            f"{end_to_end:,.0f} rows/s with its share of validation ({end_to_end / bare_rate:.2f}× bare)"
        )
        engine.dispose()


if __name__ == "__main__":
    main()
