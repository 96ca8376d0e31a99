"""Trends benchmark: each ``type`` of /api/analytics/trends next to DuckDB on the raw files.

    python benchmarks/bench_analytics_trends.py --world DIR --database sqlite:///bench.db \
        --database postgresql+psycopg://postgres@127.0.0.1/bench --now 2026-06-01

The databases must already hold the world in DIR (``tutorpulse generate`` then
``tutorpulse import``). For each database and analysis it runs the service
``--repeat`` times with the cache off (cold: every query and statistic computed)
and with the cache on (warm: the data-version probe and a cache hit, what a
repeated request costs within the refresh interval), after one warm-up. DuckDB
then computes the same SQL aggregates (the tutor-local daily/hourly/cohort cells,
the per-tutor last activity and the cohort × period activity) straight from the
Parquet files, ``--repeat`` times. It prints p50 and p95 per row. Figures, not
assertions.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import duckdb
from sqlalchemy.orm import Session
from timing import fetch_all, pct, timed

from tutorpulse.analytics.trends_cache import TrendsCache
from tutorpulse.analytics.trends_service import TrendParams, get_trends
from tutorpulse.core.db import create_db_engine

CASES: dict[str, TrendParams] = {
    "engagement": TrendParams(type="engagement", metric="engagement", days=30),
    "seasonal": TrendParams(type="seasonal", metric="engagement", days=30),
    "cohort": TrendParams(type="cohort", metric="engagement", cohort_field="sessionSubject"),
    "retention": TrendParams(type="retention", days=180),
}


def duckdb_queries(world: Path, now: datetime, days: int, start_month: str) -> dict[str, str]:
    s, t, e = (
        f"read_parquet('{world / name}.parquet')" for name in ("sessions", "tutors", "events")
    )
    lo = (now - timedelta(days=days + 2)).strftime("%Y-%m-%d")
    hi = now.strftime("%Y-%m-%d")
    local = "timezone(t.timezone, s.scheduled_start)"
    window = f"s.scheduled_start >= TIMESTAMPTZ '{lo}' AND s.scheduled_start < TIMESTAMPTZ '{hi}'"
    cells = (
        "sum(CASE WHEN s.status = 'completed' THEN s.engagement_score END), "
        "count(CASE WHEN s.status = 'completed' THEN s.engagement_score END), "
        "sum(CASE WHEN s.status = 'completed' THEN s.engagement_score ^ 2 END)"
    )
    base = f"FROM {s} s JOIN {t} t USING (tutor_id) WHERE {window}"
    retention = f"""
        WITH c AS (SELECT tutor_id, joined_on, strftime(joined_on, '%Y-%m') AS cohort
                   FROM {t} WHERE strftime(joined_on, '%Y-%m') >= '{start_month}'),
        last_done AS (SELECT s.tutor_id, max(s.scheduled_start) AS last_completed
                      FROM {s} s JOIN c USING (tutor_id)
                      WHERE s.status = 'completed' AND s.scheduled_start < TIMESTAMPTZ '{hi}'
                      GROUP BY s.tutor_id),
        act AS (SELECT s.tutor_id, (s.scheduled_start::DATE - c.joined_on) // 7 AS p
                FROM {s} s JOIN c USING (tutor_id) WHERE s.status = 'completed'
                  AND s.scheduled_start < TIMESTAMPTZ '{hi}'
                UNION
                SELECT e.tutor_id, (e.occurred_at::DATE - c.joined_on) // 7 AS p
                FROM {e} e JOIN c USING (tutor_id) WHERE e.event_type = 'login'
                  AND e.occurred_at < TIMESTAMPTZ '{hi}')
        SELECT (SELECT count(*) FROM last_done) AS n,
               (SELECT count(*) FROM (SELECT c.cohort, act.p, count(*) FROM act
                 JOIN c USING (tutor_id) GROUP BY 1, 2)) AS cells
    """
    return {
        "engagement": f"SELECT {local}::DATE AS d, {cells} {base} GROUP BY d",
        "seasonal": f"SELECT {local}::DATE AS d, hour({local}) AS h, {cells} {base} GROUP BY d, h",
        "cohort": f"SELECT s.subject, {local}::DATE AS d, {cells} {base} GROUP BY 1, d",
        "retention": retention,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--world", type=Path, required=True, help="the world's Parquet files")
    parser.add_argument("--database", action="append", required=True, help="SQLAlchemy URL")
    parser.add_argument("--now", default=None, help="the world's --now (default: today 00:00 UTC)")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    now = (
        datetime.fromisoformat(args.now).replace(tzinfo=UTC)
        if args.now
        else datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    )
    rows: list[tuple[str, str, str, float, float]] = []
    start_month = ""
    for url in args.database:
        engine = create_db_engine(url)
        name = engine.dialect.name
        for kind, params in CASES.items():
            with Session(engine) as db:
                cold = timed(
                    partial(get_trends, db, params=params, now=now, inactivity_days=30),
                    args.repeat,
                )
                cache = TrendsCache(300)
                warm = timed(
                    partial(
                        get_trends, db, params=params, now=now, inactivity_days=30, cache=cache
                    ),
                    args.repeat,
                )
                if kind == "retention":
                    body = get_trends(db, params=params, now=now, inactivity_days=30)
                    start_month = str(getattr(body, "cohort_start_date", ""))[:7]
            rows.append((name, kind, "cold (no cache)", pct(cold, 50), pct(cold, 95)))
            rows.append((name, kind, "warm (cache hit)", pct(warm, 50), pct(warm, 95)))
            print(
                f"{name:10} {kind:10} cold p50 {pct(cold, 50):7.3f}s p95 {pct(cold, 95):7.3f}s"
                f" | warm p95 {pct(warm, 95):7.4f}s",
                flush=True,
            )
        engine.dispose()
    con = duckdb.connect()
    for kind, sql in duckdb_queries(args.world, now, 30, start_month).items():
        times = timed(partial(fetch_all, con, [sql]), args.repeat)
        rows.append(("duckdb", kind, "raw Parquet", pct(times, 50), pct(times, 95)))
        print(
            f"duckdb     {kind:10} p50 {pct(times, 50):7.3f}s p95 {pct(times, 95):7.3f}s",
            flush=True,
        )
    print("\n| engine | type | mode | p50 (s) | p95 (s) |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:.3f} | {r[4]:.3f} |")


if __name__ == "__main__":
    main()
