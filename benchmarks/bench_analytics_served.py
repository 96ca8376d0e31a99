"""Every analytics endpoint as served: stored default views (``analytics.warm``) vs DuckDB.

    python benchmarks/bench_analytics_served.py --world DIR --now 2026-06-01 \
        --database sqlite:///bench.db --database postgresql+psycopg://postgres@127.0.0.1/bench

The databases must already hold the world in DIR (``tutorpulse generate``, ``tutorpulse
import``, ``tutorpulse engagement rebuild``). For each database it

1. runs ``analytics.warm``'s work (``warm_all``) ``--cold-repeat`` times with the clock
   at ``--now``: each view's compute time is a *cold* computation of it (every query
   and statistic, no cache), and the last run leaves the stored results;
2. requests every analytics API route and page ``--repeat`` times through the real app
   (``create_app`` + TestClient, an API key / a viewer session, the clock at ``--now``
   so the stored results are fresh): the *served* latency a user sees, including
   routing, authentication, the snapshot read and JSON / HTML rendering; and trend
   and heatmap views that are not stored defaults (``VARIANTS``), each timed as a
   first request (in-process result caches emptied): from the cubes, or raw;
3. runs the same SQL aggregates as each endpoint in DuckDB straight from the Parquet
   files (the queries of ``bench_analytics.py`` and ``bench_analytics_trends.py``).

Prints p50/p95 and the ratio served p95 / DuckDB p95 per endpoint. Figures, not
assertions; writes an API key and a user into the databases.
"""

from __future__ import annotations

import argparse
import importlib.util
import secrets
import sys
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb
from fastapi.testclient import TestClient
from sqlalchemy import select
from timing import fetch_all, pct, timed

from tutorpulse.analytics import cache as analytics_cache
from tutorpulse.analytics import service
from tutorpulse.analytics.trends_retention import default_cohort_start
from tutorpulse.analytics.warm import warm_all
from tutorpulse.app import create_app
from tutorpulse.core import auth
from tutorpulse.core.clock import FrozenClock
from tutorpulse.core.db import create_db_engine, make_session_factory, unit_of_work
from tutorpulse.core.settings import Settings
from tutorpulse.tutors.models import Tutor
from tutorpulse.web.auth import SESSION_COOKIE

HERE = Path(__file__).parent
# endpoint → (API path, the snapshot keys it reads, the DuckDB aggregate set)
API: dict[str, tuple[str, str]] = {
    "performers": ("/api/analytics/performers", "performers"),
    "first-sessions": ("/api/analytics/first-sessions", "first-sessions"),
    "reliability": ("/api/analytics/reliability", "reliability"),
    # Other thresholds and horizons: built from the stored view and the stored rates.
    "reliability t=0.1 d=30": (
        "/api/analytics/reliability?threshold=0.1&daysAhead=30",
        "reliability",
    ),
    "reliability t=0.25 d=3": (
        "/api/analytics/reliability?threshold=0.25&daysAhead=3",
        "reliability",
    ),
    "heatmap": ("/api/analytics/heatmap", "heatmap"),
    "trends engagement": ("/api/analytics/trends?type=engagement", "engagement"),
    "trends seasonal": ("/api/analytics/trends?type=seasonal", "seasonal"),
    "trends cohort": (
        "/api/analytics/trends?type=cohort&cohortField=primarySubject",
        "cohort",
    ),
    "trends retention": ("/api/analytics/trends?type=retention", "retention"),
}
# Views that are not stored defaults, each timed as a first request (the in-process
# result caches emptied before every request). All-tutor trends and heatmaps are
# summed from the cubes, retention horizons and later cohort starts from the stored
# bases; a tutor's series computes from the raw rows (the cohortStartDate below suits
# a world generated with --now 2026-05-01 --days 365). ``kind@days``: compared with
# DuckDB computing the same aggregates over the same window. ``{subject}`` is the world's first primary subject, ``{tutor}`` its
# first tutor.
T = "/api/analytics/trends?"
H = "/api/analytics/heatmap?"
VARIANTS: dict[str, tuple[str, str]] = {
    "trends engagement rating 365d": (
        T + "type=engagement&metric=rating&days=365",
        "engagement@365",
    ),
    "trends engagement no-show 180d subject": (
        T + "type=engagement&metric=tutorNoShowRate&days=180&subject={subject}",
        "engagement@180",
    ),
    "trends engagement logins 90d ma14": (
        T + "type=engagement&metric=logins&days=90&maWindow=14",
        "engagement@90",
    ),
    "trends seasonal engagement 365d": (
        T + "type=seasonal&metric=engagement&days=365",
        "seasonal@365",
    ),
    "trends seasonal student no-show 90d subject": (
        T + "type=seasonal&metric=studentNoShowRate&days=90&subject={subject}",
        "seasonal@90",
    ),
    "trends cohort joinMonth sessions 180d": (
        T + "type=cohort&cohortField=joinMonth&metric=sessions&days=180",
        "cohort@180",
    ),
    "trends cohort sessionSubject 365d": (
        T + "type=cohort&cohortField=sessionSubject&metric=engagement&days=365",
        "cohort@365",
    ),
    "trends cohort churnRisk events 60d": (
        T + "type=cohort&cohortField=churnRiskLevel&metric=events&days=60",
        "cohort",
    ),
    "trends cohort primarySubject clarity 90d subject": (
        T + "type=cohort&cohortField=primarySubject&metric=clarity&days=90&subject={subject}",
        "cohort@90",
    ),
    "trends engagement one tutor 365d": (
        T + "type=engagement&metric=engagement&days=365&tutorId={tutor}",
        "engagement@365",
    ),
    "trends retention 120d": (T + "type=retention&days=120", "retention"),
    "trends retention 120d cohortStartDate": (
        T + "type=retention&days=120&cohortStartDate=2025-09-17",
        "retention",
    ),
    "trends retention 365d month": (T + "type=retention&days=365&matrixPeriod=month", "retention"),
    "heatmap engagement 7d": (H + "days=7", "heatmap"),
    "heatmap no_show 90d": (H + "metricType=no_show&days=90", "heatmap"),
    "heatmap quality 365d": (H + "metricType=quality&days=365", "heatmap"),
    "heatmap one tutor 365d": (H + "days=365&tutorId={tutor}", "heatmap"),
    "page trends rating 365d subject": (
        "/analytics/trends?metric=rating&days=365&subject={subject}&cohortField=joinMonth",
        "",
    ),
    "page retention 365d month": ("/analytics/retention?days=365&matrixPeriod=month", ""),
}
PAGES = {
    "page performers": "/analytics/performers",
    "page first-sessions": "/analytics/first-sessions",
    "page reliability": "/analytics/reliability",
    "page trends": "/analytics/trends",
    "page retention": "/analytics/retention",
}


def _load(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def duckdb_sets(world: Path, now: datetime, settings: Settings) -> dict[str, list[str]]:
    perf = _load("bench_analytics").duckdb_queries(world, now, settings)
    trends = _load("bench_analytics_trends")
    out: dict[str, list[str]] = dict(perf)
    # Cohort start month of the default retention view: the first whole month of data.
    con = duckdb.connect()
    first = con.execute(
        f"SELECT min(scheduled_start) FROM read_parquet('{world / 'sessions'}.parquet')"
    ).fetchone()
    month = default_cohort_start(first[0] if first and first[0] else now).isoformat()[:7]
    tq = trends.duckdb_queries(world, now, 30, month)
    out["engagement"] = [tq["engagement"]]
    out["seasonal"] = [tq["seasonal"]]
    out["cohort"] = [tq["cohort"].replace("s.subject", "split_part(t.subjects, ';', 1)")]
    out["retention"] = [tq["retention"]]
    for days in sorted({int(k.split("@")[1]) for _p, k in VARIANTS.values() if "@" in k}):
        wq = trends.duckdb_queries(world, now, days, month)
        out[f"engagement@{days}"] = [wq["engagement"]]
        out[f"seasonal@{days}"] = [wq["seasonal"]]
        out[f"cohort@{days}"] = [
            wq["cohort"].replace("s.subject", "split_part(t.subjects, ';', 1)")
        ]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--world", type=Path, required=True, help="the world's Parquet files")
    parser.add_argument("--database", action="append", required=True, help="SQLAlchemy URL")
    parser.add_argument("--now", required=True, help="the world's --now (ISO date)")
    parser.add_argument("--repeat", type=int, default=20, help="served requests per endpoint")
    parser.add_argument("--cold-repeat", type=int, default=3, help="analytics.warm runs")
    parser.add_argument("--duckdb-repeat", type=int, default=5)
    parser.add_argument(
        "--subject",
        help="also time the performers / first-session requests of this subject (served "
        "from its stored view; no DuckDB counterpart)",
    )
    args = parser.parse_args()
    now = datetime.fromisoformat(args.now).replace(tzinfo=UTC)
    clock = FrozenClock(now)
    results: dict[tuple[str, str], dict[str, Any]] = {}
    for url in args.database:
        engine = create_db_engine(url)
        name = engine.dialect.name
        settings = Settings(
            _env_file=None,
            database_url=url,
            scheduler_enabled=False,
            analytics_cache_seconds=300,
        )
        factory = make_session_factory(engine)
        cold: dict[str, list[float]] = {}
        for i in range(args.cold_repeat):
            t0 = time.perf_counter()
            report = warm_all(factory, settings=settings, now=now)
            if report["errors"]:
                print(f"{name}: warm errors {report['errors']}", flush=True)
            for key, seconds in report["seconds"].items():
                cold.setdefault(key, []).append(seconds)
            print(f"{name}: analytics.warm run {i + 1} {time.perf_counter() - t0:.1f}s", flush=True)
            parts = {
                k: v
                for k, v in report["seconds"].items()
                if k.endswith(":cube") or "retention" in k
            }
            print(f"{name}:   cubes and retention: {parts}", flush=True)
        with unit_of_work(factory) as db:
            _key, api_key = auth.create_api_key(
                db, name=f"bench-{secrets.token_hex(3)}", scopes=["read"]
            )
            user = auth.create_user(
                db,
                email=f"bench-{secrets.token_hex(3)}@bench.invalid",
                password=secrets.token_urlsafe(16),
                role="viewer",
            )
            _session, token = auth.start_web_session(db, user=user, now=now, max_age_seconds=86_400)
        app = create_app(settings, engine=engine, clock=clock)
        api = TestClient(app, headers={"Authorization": f"Bearer {api_key}"})
        pages = TestClient(app, cookies={SESSION_COOKIE: token})
        stored_key = {
            "performers": "performers",
            "first-sessions": "first-sessions",
            "reliability": "reliability",
            "heatmap": "heatmap:engagement",
            "engagement": "trends:engagement:30:-",
            "seasonal": "trends:seasonal:30:-",
            "cohort": "trends:cohort:30:primarySubject",
            "retention": "trends:retention:180:-",
        }
        routes = [(label, path, stored_key[kind]) for label, (path, kind) in API.items()]
        if args.subject:
            routes += [
                (f"{view} ({args.subject})", f"/api/analytics/{view}?subject="
                 f"{quote(args.subject)}", f"{view}:subject={args.subject}")
                for view in ("performers", "first-sessions")
            ]  # fmt: skip
        for label, path, key in routes:
            ok = api.get(path)
            assert ok.status_code == 200, (path, ok.status_code, ok.text[:300])
            served = timed(partial(api.get, path), args.repeat)
            c = cold.get(key, [float("nan")])
            results[(name, label)] = {
                "served50": pct(served, 50),
                "served95": pct(served, 95),
                "cold50": pct(c, 50),
                "cold95": pct(c, 95),
            }
            print(
                f"{name:10} {label:20} served p50 {pct(served, 50) * 1000:7.1f} ms "
                f"p95 {pct(served, 95) * 1000:7.1f} ms | cold p50 {pct(c, 50):7.2f}s "
                f"p95 {pct(c, 95):7.2f}s",
                flush=True,
            )
        with unit_of_work(factory) as db:
            first_subject = (service.subjects(db) or ["Math"])[0]
            first_tutor = db.scalar(select(Tutor.external_id).order_by(Tutor.id).limit(1))
        for label, (template, kind) in VARIANTS.items():
            path = template.format(subject=quote(first_subject), tutor=quote(str(first_tutor)))
            client = pages if path.startswith("/analytics/") else api
            ok = client.get(path)
            assert ok.status_code == 200, (path, ok.status_code, ok.text[:300])

            def first_request(path: str = path, app: Any = app, client: Any = client) -> None:
                app.state.analytics_trends_cache.clear()
                analytics_cache.clear()
                client.get(path)

            served = timed(first_request, args.repeat)
            results[(name, label)] = {
                "served50": pct(served, 50),
                "served95": pct(served, 95),
                "kind": kind,
            }
            print(
                f"{name:10} {label:46} first request p50 {pct(served, 50) * 1000:7.1f} ms "
                f"p95 {pct(served, 95) * 1000:7.1f} ms",
                flush=True,
            )
        for label, path in PAGES.items():
            ok = pages.get(path)
            assert ok.status_code == 200, (path, ok.status_code)
            served = timed(partial(pages.get, path), args.repeat)
            results[(name, label)] = {"served50": pct(served, 50), "served95": pct(served, 95)}
            print(
                f"{name:10} {label:20} served p50 {pct(served, 50) * 1000:7.1f} ms "
                f"p95 {pct(served, 95) * 1000:7.1f} ms",
                flush=True,
            )
        engine.dispose()
    con = duckdb.connect()
    base = Settings(_env_file=None)
    duck: dict[str, tuple[float, float]] = {}
    for kind, sqls in duckdb_sets(args.world, now, base).items():
        times = timed(partial(fetch_all, con, sqls), args.duckdb_repeat)
        duck[kind] = (pct(times, 50), pct(times, 95))
        print(f"duckdb     {kind:20} p50 {duck[kind][0]:7.3f}s p95 {duck[kind][1]:7.3f}s")
    print(
        "\n| engine | endpoint | served p50 / p95 (ms) | cold p50 / p95 (s) "
        "| DuckDB p95 (s) | served p95 ÷ DuckDB p95 |\n|---|---|---|---|---|---|"
    )
    for (name, label), r in results.items():
        kind = API[label][1] if label in API else str(r.get("kind"))
        d95 = duck[kind][1] if kind in duck else None
        cold_txt = f"{r['cold50']:.2f} / {r['cold95']:.2f}" if "cold50" in r else "–"
        ratio = f"{r['served95'] / d95:.3f}" if d95 else "–"
        print(
            f"| {name} | {label} | {r['served50'] * 1000:.1f} / {r['served95'] * 1000:.1f} "
            f"| {cold_txt} | {f'{d95:.3f}' if d95 else '–'} | {ratio} |"
        )


if __name__ == "__main__":
    main()
