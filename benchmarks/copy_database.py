"""Copy a TutorPulse SQLite database into an empty PostgreSQL one (benchmark setup).

    python benchmarks/copy_database.py --from var/bench/bench.db \
        --to postgresql://postgres@127.0.0.1:5432/tutorpulse_bench [--only t1,t2] [--skip t3]

Loading the reference world into PostgreSQL through `tutorpulse import` and a full
`engagement rebuild` takes as long again as on SQLite; for the benchmarks both
engines only need the same rows. This script migrates the target to the current
schema, then streams every table's rows with COPY (source values as SQLite stores
them: UTC timestamps as text, JSON as text, booleans as 0/1 — all valid PostgreSQL
input with the session time zone set to UTC) and resets the id sequences. It
prints rows and seconds per table.
"""

from __future__ import annotations

import argparse
import sqlite3
import time

import psycopg
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from tutorpulse.all_models import Base
from tutorpulse.core import migrate
from tutorpulse.core.db import create_db_engine

CHUNK = 50_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="source", required=True, help="SQLite file")
    parser.add_argument("--to", dest="target", required=True, help="PostgreSQL URL")
    parser.add_argument("--only", default="", help="comma-separated tables (default: all)")
    parser.add_argument("--skip", default="", help="comma-separated tables not to copy")
    args = parser.parse_args()
    only = {t for t in args.only.split(",") if t}
    skip = {t for t in args.skip.split(",") if t}

    engine = create_db_engine(args.target)
    migrate.upgrade(engine)
    existing = set(inspect(engine).get_table_names())
    if only:
        existing &= only
    existing -= skip
    engine.dispose()
    url = make_url(args.target).set(drivername="postgresql")
    dsn = url.render_as_string(hide_password=False)

    src = sqlite3.connect(args.source)
    started_all = time.perf_counter()
    with psycopg.connect(dsn, autocommit=False) as pg:
        pg.execute("SET TIME ZONE 'UTC'")
        for table in Base.metadata.sorted_tables:
            if table.name not in existing:
                continue
            pg.execute(f'TRUNCATE "{table.name}" CASCADE')
        for table in Base.metadata.sorted_tables:
            if table.name not in existing:
                continue
            columns = [row[1] for row in src.execute(f'PRAGMA table_info("{table.name}")')]
            if not columns:
                continue
            started = time.perf_counter()
            quoted = ", ".join(f'"{c}"' for c in columns)
            cursor = src.execute(f'SELECT {quoted} FROM "{table.name}"')
            rows = 0
            with pg.cursor().copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy:
                while chunk := cursor.fetchmany(CHUNK):
                    for record in chunk:
                        copy.write_row(record)
                    rows += len(chunk)
            if "id" in columns and table.c.id.autoincrement is not False:
                pg.execute(
                    f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', 'id'), "
                    f'COALESCE((SELECT max(id) FROM "{table.name}"), 0) + 1, false)'
                )
            print(f"{table.name:28s} {rows:>12,d} rows  {time.perf_counter() - started:7.1f} s")
        pg.commit()
        pg.autocommit = True
        pg.execute("ANALYZE")
    print(f"total {time.perf_counter() - started_all:.1f} s")


if __name__ == "__main__":
    main()
