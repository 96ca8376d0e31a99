"""Performers / first-sessions / reliability / heatmap latency next to DuckDB on the raw files.

    python benchmarks/bench_analytics.py --world DIR --database sqlite:///bench.db \
        --database postgresql+psycopg://postgres@127.0.0.1/bench --now 2026-11-26

The databases must already hold the world in DIR (``tutorpulse generate`` then
``tutorpulse import``); they are only read. For each database and endpoint the
service runs ``--repeat`` times with the cache off (cold: every query and statistic
computed) and with the cache on (warm: the data-version probe plus a cache hit, what
a request costs within the refresh interval), after one warm-up each. DuckDB then
runs the same SQL aggregates the endpoint's repository issues (per-tutor session and
event aggregates, first-session aggregates, tutor-local weekday × hour cells, the
replacement window query, last activity) straight from the Parquet files. Prints
p50/p95 per row and a Markdown table. Figures, not assertions.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy.orm import Session
from timing import fetch_all, pct, timed

from tutorpulse.analytics import cache, service
from tutorpulse.core.db import create_db_engine
from tutorpulse.core.settings import Settings


def cases(settings: Settings, now: datetime) -> dict[str, Callable[[Session], Any]]:
    return {
        "performers": lambda db: service.get_performers(
            db, settings=settings, now=now, subject=None, limit=50
        ),
        "first-sessions": lambda db: service.get_first_sessions(
            db, settings=settings, now=now, subject=None
        ),
        "reliability": lambda db: service.get_reliability(
            db, settings=settings, now=now, threshold=0.15, days_ahead=7, limit=50
        ),
        "heatmap": lambda db: service.get_heatmap(
            db,
            settings=settings,
            now=now,
            metric_type="engagement",
            days=30,
            tutor_external_id=None,
        ),
    }


def duckdb_queries(world: Path, now: datetime, settings: Settings) -> dict[str, list[str]]:
    s, t, e = (
        f"read_parquet('{world / name}.parquet')" for name in ("sessions", "tutors", "events")
    )
    hi = f"TIMESTAMPTZ '{now.isoformat()}'"

    def lo(days: int) -> str:
        return f"TIMESTAMPTZ '{(now - timedelta(days=days)).isoformat()}'"

    w, fw = lo(settings.analytics_window_days), lo(settings.analytics_first_session_days)
    quality = ", ".join(
        f"sum(s.{c}), sum(s.{c}::DOUBLE * s.{c}), count(s.{c})"
        for c in (
            "student_rating",
            "student_satisfaction",
            "engagement_score",
            "empathy_score",
            "clarity_score",
        )
    )
    per_tutor = (
        "SELECT s.tutor_id, count(*), count(*) FILTER (s.status = 'completed'), "
        "count(*) FILTER (s.status = 'tutor_no_show'), "
        "count(*) FILTER (s.status = 'student_no_show'), "
        "count(*) FILTER (s.status = 'rescheduled' AND s.rescheduled_by = 'tutor'), "
        "count(*) FILTER (s.status = 'cancelled' AND s.cancelled_by = 'tutor'), "
        "count(*) FILTER (s.technical_issue), count(s.technical_issue), "
        "count(*) FILTER (s.would_recommend), count(s.would_recommend), "
        "sum(greatest(epoch(s.actual_start - s.scheduled_start) / 60, 0)), "
        f"count(s.actual_start), {quality} FROM {s} s JOIN {t} t USING (tutor_id) "
        f"WHERE s.scheduled_start >= {{lo}} AND s.scheduled_start < {hi} "
        "AND s.status <> 'scheduled' {active} GROUP BY s.tutor_id"
    )
    events = (
        "SELECT tutor_id, count(*) FILTER (event_type = 'login'), "
        "count(*) FILTER (event_type <> 'login') "
        f"FROM {e} WHERE event_type IN ('login', 'profile_updated', 'availability_updated', "
        f"'training_completed', 'opportunity_viewed') AND occurred_at >= {w} "
        f"AND occurred_at < {hi} GROUP BY tutor_id"
    )
    first = (
        f"s.is_first_session AND s.status IN ('completed', 'tutor_no_show') "
        f"AND s.scheduled_start >= {fw} AND s.scheduled_start < {hi}"
    )
    rmax = settings.analytics_poor_first_rating_max
    failed = (
        f"(s.status = 'tutor_no_show' OR (s.status = 'completed' AND s.student_rating <= {rmax}))"
    )
    local = "timezone(t.timezone, s.scheduled_start)"
    return {
        "performers": [
            f"SELECT * FROM {t} WHERE status = 'active'",
            per_tutor.format(lo=w, active="AND t.status = 'active'"),
            events,
        ],
        "first-sessions": [
            f"SELECT * FROM {t}",
            f"SELECT s.tutor_id, count(*), min(scheduled_start), count(*) FILTER ({failed}), "
            "avg(student_rating), avg(engagement_score), avg(empathy_score), avg(clarity_score), "
            "avg(student_satisfaction), count(*) FILTER (technical_issue), count(technical_issue) "
            f"FROM {s} s WHERE {first} GROUP BY s.tutor_id",
            per_tutor.format(lo=fw, active=""),
            f"SELECT s.tutor_id, s.scheduled_start FROM {s} s WHERE {first} AND {failed}",
            f"SELECT student_rating <= {rmax}, count(*) FILTER (rebooked), count(rebooked) "
            f"FROM {s} s WHERE {first} AND status = 'completed' AND student_rating IS NOT NULL "
            "GROUP BY 1",
            f"SELECT tutor_id, max(scheduled_start) FROM {s} WHERE status = 'completed' "
            f"AND scheduled_start < {hi} GROUP BY tutor_id",
        ],
        "reliability": [
            f"SELECT status, coalesce(rescheduled_by, cancelled_by), count(*) FROM {s} "
            f"WHERE scheduled_start >= {w} AND scheduled_start < {hi} AND status <> 'scheduled' "
            "GROUP BY 1, 2",
            f"SELECT dayofweek({local}), hour({local}), count(*), "
            "count(*) FILTER (s.status = 'tutor_no_show'), "
            "count(*) FILTER (s.status = 'student_no_show') "
            f"FROM {s} s JOIN {t} t USING (tutor_id) WHERE s.scheduled_start >= {w} "
            f"AND s.scheduled_start < {hi} AND s.status <> 'scheduled' GROUP BY 1, 2",
            f"""WITH seq AS (
                  SELECT tutor_id, scheduled_start,
                    CASE WHEN status = 'tutor_no_show' THEN 'no_show'
                         WHEN status = 'cancelled' AND cancelled_by = 'tutor' THEN 'cancellation'
                         WHEN status = 'rescheduled' AND rescheduled_by = 'tutor' THEN 'reschedule'
                    END AS cause,
                    lead(tutor_id) OVER w AS next_tutor, lead(scheduled_start) OVER w AS next_start
                  FROM {s} WHERE scheduled_start >= {w}
                  WINDOW w AS (PARTITION BY student_id, subject ORDER BY scheduled_start, session_id))
                SELECT cause, count(*), count(*) FILTER (next_tutor IS NOT NULL
                  AND next_tutor <> tutor_id AND next_start - scheduled_start <= INTERVAL 14 DAY)
                FROM seq WHERE cause IS NOT NULL AND scheduled_start < {hi} GROUP BY cause""",
            f"SELECT * FROM {t} WHERE status = 'active'",
            per_tutor.format(lo=w, active="AND t.status = 'active'"),
            events,
        ],
        "heatmap": [
            f"SELECT dayofweek({local}), hour({local}), avg(engagement_score), count(*) "
            f"FROM {s} s JOIN {t} t USING (tutor_id) WHERE s.scheduled_start >= {lo(30)} "
            f"AND s.scheduled_start < {hi} AND engagement_score IS NOT NULL GROUP BY 1, 2"
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--world", type=Path, required=True, help="the world's Parquet files")
    parser.add_argument("--database", action="append", required=True, help="SQLAlchemy URL")
    parser.add_argument("--now", default=None, help="the world's --now (default: today 00:00 UTC)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", action="append", help="endpoint(s) to run (default: all)")
    args = parser.parse_args()
    now = (
        datetime.fromisoformat(args.now).replace(tzinfo=UTC)
        if args.now
        else datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    )
    cold_settings = Settings(_env_file=None, analytics_cache_seconds=0)
    warm_settings = Settings(_env_file=None, analytics_cache_seconds=300)
    rows: list[tuple[str, str, str, float, float]] = []
    for url in args.database:
        engine = create_db_engine(url)
        name = engine.dialect.name
        cold_cases, warm_cases = cases(cold_settings, now), cases(warm_settings, now)
        for kind in cold_cases:
            if args.only and kind not in args.only:
                continue
            with Session(engine) as db:
                cold = timed(partial(cold_cases[kind], db), args.repeat)
                cache.clear()
                warm = timed(partial(warm_cases[kind], db), args.repeat)
                db.rollback()
            rows.append((name, kind, "cold (no cache)", pct(cold, 50), pct(cold, 95)))
            rows.append((name, kind, "warm (cache hit)", pct(warm, 50), pct(warm, 95)))
            print(
                f"{name:10} {kind:15} cold p50 {pct(cold, 50):7.3f}s p95 {pct(cold, 95):7.3f}s"
                f" | warm p50 {pct(warm, 50):7.4f}s p95 {pct(warm, 95):7.4f}s",
                flush=True,
            )
        engine.dispose()
    con = duckdb.connect()
    for kind, sqls in duckdb_queries(args.world, now, cold_settings).items():
        if args.only and kind not in args.only:
            continue
        times = timed(partial(fetch_all, con, sqls), args.repeat)
        rows.append(
            ("duckdb", kind, "same aggregates, raw Parquet", pct(times, 50), pct(times, 95))
        )
        print(
            f"duckdb     {kind:15} p50 {pct(times, 50):7.3f}s p95 {pct(times, 95):7.3f}s",
            flush=True,
        )
    print("\n| engine | endpoint | mode | p50 (s) | p95 (s) |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:.3f} | {r[4]:.3f} |")


if __name__ == "__main__":
    main()
