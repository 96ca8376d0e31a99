"""Engagement metrics latency on an imported world, next to DuckDB on the raw files.

    python benchmarks/bench_engagement.py --world var/bench/world-100000x365-s7 \
        --database sqlite:///var/bench/bench.db \
        --database postgresql://postgres@127.0.0.1/tutorpulse_bench

The databases must hold the world's import and its rollups (``tutorpulse import``
refreshes them; ``tutorpulse engagement rebuild`` recomputes them). For each
database it answers the engagement endpoints in-process (FastAPI's test client),
``--repeat`` times after a warm-up, and prints p50/p95. DuckDB then computes the
same platform answer (metric value and previous value, DAU/WAU/MAU, event-type
counts, the weekday × hour heatmap and 7/30-day activation by join month) from the
world's Parquet files with the tutors' time zones, and the script prints its time,
the ratio, and whether the figures agree. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import secrets
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
from fastapi.testclient import TestClient

from tutorpulse.app import create_app
from tutorpulse.core import auth
from tutorpulse.core.clock import SystemClock
from tutorpulse.core.db import create_db_engine, make_session_factory, unit_of_work
from tutorpulse.core.settings import Settings, normalise_database_url


def timed(fn: Any, repeat: int) -> tuple[list[float], Any]:
    result = fn()  # warm-up
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return times, result


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def duckdb_answer(world: Path, end: date, days: int, period: int) -> dict[str, Any]:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    f = {n: str(world / f"{n}.parquet") for n in ("tutors", "sessions", "events")}
    start, prev_end = end - timedelta(days=days - 1), end - timedelta(days=days)
    prev_start = prev_end - timedelta(days=period - 1)
    con.execute(f"""
        CREATE TEMP VIEW s AS SELECT s.*, CAST(timezone(t.timezone, s.scheduled_start) AS DATE) AS d
        FROM read_parquet('{f["sessions"]}') s JOIN read_parquet('{f["tutors"]}') t USING (tutor_id);
        CREATE TEMP VIEW e AS SELECT e.tutor_id, e.event_type, timezone(t.timezone, e.occurred_at) AS lt
        FROM read_parquet('{f["events"]}') e JOIN read_parquet('{f["tutors"]}') t USING (tutor_id);
    """)
    value = con.execute(
        f"SELECT avg(engagement_score), count(engagement_score) FROM s WHERE status = 'completed' "
        f"AND d BETWEEN DATE '{start}' AND DATE '{end}'"
    ).fetchone()
    previous = con.execute(
        f"SELECT avg(engagement_score), count(engagement_score) FROM s WHERE status = 'completed' "
        f"AND d BETWEEN DATE '{prev_start}' AND DATE '{prev_end}'"
    ).fetchone()
    kpi = end - timedelta(days=1)
    active = con.execute(f"""
        WITH a AS (
            SELECT tutor_id, CAST(lt AS DATE) AS d FROM e WHERE event_type = 'login'
            UNION SELECT tutor_id, d FROM s WHERE status = 'completed')
        SELECT count(DISTINCT tutor_id) FILTER (WHERE d = DATE '{kpi}'),
               count(DISTINCT tutor_id) FILTER (WHERE d BETWEEN DATE '{kpi - timedelta(days=6)}' AND DATE '{kpi}'),
               count(DISTINCT tutor_id) FILTER (WHERE d BETWEEN DATE '{kpi - timedelta(days=29)}' AND DATE '{kpi}')
        FROM a WHERE d BETWEEN DATE '{kpi - timedelta(days=29)}' AND DATE '{kpi}'
    """).fetchone()
    types = dict(con.execute(
        f"SELECT event_type, count(*) FROM e WHERE CAST(lt AS DATE) BETWEEN DATE '{start}' AND DATE '{end}' GROUP BY 1"
    ).fetchall())  # fmt: skip
    heat = con.execute(
        f"SELECT isodow(lt) - 1, hour(lt), count(*) FROM e WHERE CAST(lt AS DATE) "
        f"BETWEEN DATE '{start}' AND DATE '{end}' GROUP BY 1, 2"
    ).fetchall()
    first = date(end.year, end.month, 1)
    for _ in range(11):
        first = (first - timedelta(days=1)).replace(day=1)
    activation = con.execute(f"""
        WITH f AS (SELECT tutor_id, min(d) AS first_done FROM s WHERE status = 'completed' GROUP BY 1)
        SELECT strftime(t.joined_on, '%Y-%m') AS m, count(*),
               count(*) FILTER (WHERE DATE '{end}' - t.joined_on >= 7 AND f.first_done - t.joined_on <= 7),
               count(*) FILTER (WHERE DATE '{end}' - t.joined_on >= 30 AND f.first_done - t.joined_on <= 30)
        FROM read_parquet('{f["tutors"]}') t LEFT JOIN f USING (tutor_id)
        WHERE t.joined_on >= DATE '{first}' GROUP BY 1 ORDER BY 1
    """).fetchall()
    con.close()
    return {"value": value, "previous": previous, "active": active, "types": types, "heat": heat,
            "activation": activation}  # fmt: skip


def args_tutor(world: Path) -> str:
    """The first tutor id of the world (ids are zero-padded to the world's size)."""
    import pyarrow.parquet as pq

    return str(pq.read_table(world / "tutors.parquet", columns=["tutor_id"]).column(0)[0])


def bench_database(url: str, world: Path, repeat: int) -> None:
    url = normalise_database_url(url)
    print(f"\n== {url.split('@')[-1]} ==", flush=True)
    engine = create_db_engine(url)
    settings = Settings(_env_file=None, database_url=url, scheduler_enabled=False,
                        engagement_background_refresh=False)  # fmt: skip
    with unit_of_work(make_session_factory(engine)) as db:
        _row, key = auth.create_api_key(db, name=f"bench-{secrets.token_hex(3)}", scopes=["read"])
    app = create_app(settings, engine=engine, clock=SystemClock())
    client = TestClient(app)
    client.headers["Authorization"] = f"Bearer {key}"
    tutor = args_tutor(world)
    cases = {
        "metrics?days=7 (platform)": "/api/engagement/metrics?days=7",
        "metrics?days=30 (platform)": "/api/engagement/metrics?days=30",
        "metrics?tutorId&days=30": f"/api/engagement/metrics?tutorId={tutor}&days=30",
        "metrics?days=7&includeEvents": "/api/engagement/metrics?days=7&includeEvents=true&eventsLimit=100",
        "timeline?limit=50": f"/api/engagement/tutors/{tutor}/timeline?limit=50",
        "/activation page": "/activation",
    }
    # The platform block is cached until the next platform refresh; time the computation too.
    from sqlalchemy.orm import Session

    from tutorpulse.engagement import metrics

    for days in (7, 30):
        with Session(engine) as db:
            cold, _ = timed(
                lambda d=days, db=db: metrics.compute_platform_metrics(
                    db, days=d, now=datetime.now(UTC)
                ),
                5,
            )
        print(
            f"  platform block days={days}, uncached      p50 {pct(cold, 0.5):7.1f} ms   p95 {pct(cold, 0.95):7.1f} ms"
        )
    answers: dict[str, Any] = {}
    slowest = 0.0
    for label, path in cases.items():
        if path == "/activation":
            continue  # pages need a login; the API is what the target is about
        times, response = timed(lambda p=path: client.get(p), repeat)
        assert response.status_code == 200, response.text
        answers[label] = response.json()
        slowest = max(slowest, pct(times, 0.95))
        print(
            f"  {label:<34} p50 {pct(times, 0.5):7.1f} ms   p95 {pct(times, 0.95):7.1f} ms",
            flush=True,
        )
    body = answers["metrics?days=7 (platform)"]
    end = date.fromisoformat(body["platform"]["asOfDay"])
    started = time.perf_counter()
    duck = duckdb_answer(world, end, 7, 30)
    duck_s = time.perf_counter() - started
    print(f"  DuckDB, same platform answer from the raw Parquet files: {duck_s * 1000:,.0f} ms; "
          f"slowest endpoint p95 / DuckDB = {slowest / (duck_s * 1000):.2f}", flush=True)  # fmt: skip
    platform = body["platform"]
    checks = {
        "value": (round(body["value"], 3), round(duck["value"][0] or 0.0, 3)),
        "currentPeriodCount": (body["currentPeriodCount"], duck["value"][1]),
        "previousValue": (round(body["previousValue"] or 0, 3), round(duck["previous"][0] or 0, 3)),
        "dau": (platform["dau"]["value"], duck["active"][0]),
        "wau": (platform["wau"]["value"], duck["active"][1]),
        "mau": (platform["mau"]["value"], duck["active"][2]),
        "eventTypeCounts": (
            platform["eventTypeCounts"],
            {k: int(v) for k, v in duck["types"].items()},
        ),
        "heatmap total": (
            sum(map(sum, platform["heatmap"]["counts"])),
            sum(c for _, _, c in duck["heat"]),
        ),
        "activation 7d": (
            [a["activated7d"] for a in platform["activation"]],
            [int(r[2]) for r in duck["activation"]],
        ),
        "activation 30d": (
            [a["activated30d"] for a in platform["activation"]],
            [int(r[3]) for r in duck["activation"]],
        ),
    }
    for name, (ours, theirs) in checks.items():
        same = (
            ours == theirs
            if not isinstance(ours, dict)
            else dict(sorted(ours.items())) == dict(sorted(theirs.items()))
        )
        print(
            f"    {name:<20} {'agrees' if same else 'DIFFERS'}: ours {ours!s:.60} / duckdb {theirs!s:.60}"
        )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--world", type=Path, required=True)
    parser.add_argument("--database", action="append", required=True)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    print(f"world {args.world}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    for url in args.database:
        bench_database(url, args.world, args.repeat)


if __name__ == "__main__":
    main()
