"""What the events table's keys cost a SQLite insert, index by index.

    python benchmarks/bench_event_indexes.py                      # 150,000 rows already stored
    python benchmarks/bench_event_indexes.py --stored 150000,1000000 --txn 500,2000

The product's `engagement_event` table (taken from a freshly migrated database,
with the product's connection settings: WAL, synchronous=NORMAL, its cache and
checkpoint settings) is filled with --stored rows, then --batches transactions of
--txn rows each are timed, for the table as shipped and with its keys removed one
at a time. Rows look like the ingestion benchmark's: a random UUID as idempotency
key, a random one of --tutors tutors, the current time. The two keys whose values
arrive in random order (the unique idempotency key and the per-tutor time index)
touch about one index page per row each, and every touched page is written to the
WAL at commit; the other two indexes grow at their end. The printed ratio to the
same table without secondary keys is an upper bound for any endpoint that stores
events in the shipped table, one transaction per --txn events.
Figures are printed; nothing is asserted.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import sqlite3
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import insert

from tutorpulse.core import migrate
from tutorpulse.core.db import create_db_engine
from tutorpulse.tutors.models import Tutor

UNIQUE_KEY = re.compile(r",\s*CONSTRAINT uq_engagement_event_external_id UNIQUE \(external_id\)")
INSERT = (
    "INSERT INTO engagement_event (external_id, tutor_id, event_type, occurred_at, data, "
    "received_at) VALUES (?, ?, ?, ?, ?, ?)"
)
TUTOR_INDEX = "ix_engagement_event_tutor_occurred"
VARIANTS: dict[str, tuple[bool, set[str]]] = {
    # name: (keep the unique idempotency key, indexes dropped)
    "as shipped (unique key + 3 indexes)": (True, set()),
    "without the unique key": (False, set()),
    "without the (tutor, time) index": (True, {TUTOR_INDEX}),
    "without both random-order keys": (False, {TUTOR_INDEX}),
    "no secondary keys at all": (False, {"*"}),
}


def template(folder: Path, tutors: int) -> Path:
    """A migrated database with ``tutors`` tutors (the events table's foreign key)."""
    path = folder / "template.db"
    engine = create_db_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(Tutor),
            [
                {"external_id": f"T{i:05d}", "email": f"t{i}@bench.test", "name": f"Tutor {i}",
                 "timezone": "UTC", "subjects": ["Math"], "primary_subject": "Math",
                 "joined_on": date(2026, 1, 1), "status": "active"}
                for i in range(tutors)
            ],
        )  # fmt: skip
    engine.dispose()
    return path


def reshape(conn: sqlite3.Connection, keep_unique: bool, dropped: set[str]) -> list[str]:
    """Recreate the (empty) events table without the dropped keys; its index names."""
    table_sql = conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'engagement_event'"
    ).fetchone()[0]
    indexes = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
        "AND tbl_name = 'engagement_event' AND sql IS NOT NULL"
    ).fetchall()
    if not keep_unique:
        stripped = UNIQUE_KEY.sub("", table_sql)
        if stripped == table_sql:
            raise SystemExit("the events table's unique key was not found in its DDL")
        table_sql = stripped
    conn.execute("DROP TABLE engagement_event")
    conn.execute(table_sql)
    kept = [(n, s) for n, s in indexes if "*" not in dropped and n not in dropped]
    for _name, sql in kept:
        conn.execute(sql)
    return [n for n, _ in kept] + (["unique external_id"] if keep_unique else [])


def rows(count: int, tutor_ids: list[int]) -> list[tuple[object, ...]]:
    out: list[tuple[object, ...]] = []
    for _ in range(count):
        stamp = datetime.now(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
        out.append((uuid.uuid4().hex, random.choice(tutor_ids), "message_sent", stamp, "{}", stamp))
    return out


def measure(source: Path, folder: Path, variant: str, stored: int, txn: int, batches: int) -> float:
    """Microseconds per inserted row for one variant, table size and transaction size."""
    keep_unique, dropped = VARIANTS[variant]
    path = folder / "run.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.copy(source, path)
    engine = create_db_engine(f"sqlite:///{path}")  # the product's connection settings
    raw = engine.raw_connection()
    conn = raw.driver_connection
    assert isinstance(conn, sqlite3.Connection)
    reshape(conn, keep_unique, dropped)
    tutor_ids = [int(i) for (i,) in conn.execute("SELECT id FROM tutor")]
    for start in range(0, stored, 100_000):
        conn.execute("BEGIN")
        conn.executemany(INSERT, rows(min(100_000, stored - start), tutor_ids))
        conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    work = [rows(txn, tutor_ids) for _ in range(batches)]
    started = time.perf_counter()
    for batch in work:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(INSERT, batch)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    raw.close()
    engine.dispose()
    return elapsed / (txn * batches) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stored", default="150000", help="rows stored before timing (list)")
    parser.add_argument("--txn", default="500,2000", help="rows per transaction (list)")
    parser.add_argument("--rows", type=int, default=60_000, help="rows timed per figure")
    parser.add_argument("--tutors", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tp-index-bench-") as tmp:
        folder = Path(tmp)
        source = template(folder, args.tutors)
        for stored in (int(s) for s in args.stored.split(",")):
            for txn in (int(t) for t in args.txn.split(",")):
                print(f"\n== {stored:,} rows stored, {txn:,} rows per transaction ==", flush=True)
                figures = {}
                for variant in VARIANTS:
                    figures[variant] = measure(
                        source, folder, variant, stored, txn, max(1, args.rows // txn)
                    )
                bare = figures["no secondary keys at all"]
                for variant, micros in figures.items():
                    print(f"  {variant:<38} {micros:7.2f} µs/row  {1e6 / micros:>9,.0f} rows/s  "
                          f"{bare / micros:5.2f}× of no keys", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
