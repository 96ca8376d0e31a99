"""Dashboard benchmark: time the dashboard endpoints and pages on a generated world.

    python benchmarks/bench_dashboard.py                       # reference world: 100k tutors × 365 days
    python benchmarks/bench_dashboard.py --tutors 19000 --days 180
    python benchmarks/bench_dashboard.py --world var/bench-world --engines sqlite
    python benchmarks/bench_dashboard.py --database sqlite:///var/tutorpulse.db   # an existing database

For each engine it imports the world into a fresh database (unless --database is
given), then answers every dashboard endpoint and page in-process (FastAPI's
test client, no network), ``--repeat`` times each, with the clock frozen at the
world's end (today 00:00 UTC). It prints p50, p95 and the slowest time per
request (after one warm-up request) and the response size. Figures, not assertions: nothing here fails on a slow run.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from tutorpulse.app import create_app
from tutorpulse.core import auth, migrate
from tutorpulse.core.clock import FrozenClock
from tutorpulse.core.db import create_db_engine, make_session_factory, unit_of_work
from tutorpulse.core.settings import Settings
from tutorpulse.tutors import importer
from tutorpulse.web.auth import SESSION_COOKIE
from tutorpulse.world.config import WorldConfig
from tutorpulse.world.generator import generate_world
from tutorpulse.world.writer import write_world

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PG_DATABASE = "tutorpulse_bench_dashboard"

API = (
    "/api/dashboard/metrics",
    "/api/dashboard/tutors?limit=50",
    "/api/dashboard/tutors?limit=50&offset={last_page}",
    "/api/dashboard/tutors?risk_level=high&limit=50",
    "/api/dashboard/overview",
    "/api/tutors?limit=25",
    "/api/tutors?sort=sessions30d&order=desc&limit=25",
    "/api/tutors?q=son&limit=25",
    "/api/tutors/{tutor}",
    "/api/tutors/{tutor}/sessions?limit=20",
    "/api/tutors/{tutor}/events?limit=20",
)
PAGES = ("/", "/tutors", "/tutors?sort=avgRating30d&order=desc", "/tutors/{tutor}")


def today() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def ensure_world(folder: Path, tutors: int, days: int, seed: int) -> None:
    if (folder / "sessions.parquet").exists():
        print(f"world: reusing {folder}")
        return
    started = time.perf_counter()
    world = generate_world(WorldConfig(tutors=tutors, days=days, seed=seed, now=today()))
    write_world(world, folder, fmt="parquet")
    print(f"world: {tutors:,} tutors × {days} days in {time.perf_counter() - started:.1f}s")


def fresh_engine(kind: str, workdir: Path) -> Engine:
    if kind == "sqlite":
        path = workdir / "bench-dashboard.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return create_db_engine(f"sqlite:///{path}")
    admin = create_db_engine(PG_ADMIN)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{PG_DATABASE}"')
    admin.dispose()
    return create_db_engine(make_url(PG_ADMIN).set(database=PG_DATABASE).render_as_string(False))


def load(engine: Engine, world: Path) -> None:
    migrate.upgrade(engine)
    started = time.perf_counter()
    importer.import_directory(engine, directory=world, now=datetime.now(UTC))
    print(f"  imported in {time.perf_counter() - started:.1f}s")


def measure(engine: Engine, repeat: int) -> None:
    factory = make_session_factory(engine)
    clock = FrozenClock(today())
    with unit_of_work(factory) as db:
        _key, plaintext = auth.create_api_key(db, name="bench-dashboard", scopes=["read"])
        user = auth.get_user_by_email(db, email="bench-dashboard@bench.invalid")
        if user is None:
            user = auth.create_user(
                db,
                email="bench-dashboard@bench.invalid",
                password=secrets.token_urlsafe(16),  # never used to log in
                role="viewer",
            )
        _session, token = auth.start_web_session(
            db, user=user, now=clock.now(), max_age_seconds=86_400
        )
    settings = Settings(
        _env_file=None,
        database_url=engine.url.render_as_string(False),
        scheduler_enabled=False,
    )
    app = create_app(settings, engine=engine, clock=clock)
    api = TestClient(app, headers={"Authorization": f"Bearer {plaintext}"})
    pages = TestClient(app, cookies={SESSION_COOKIE: token})
    total = api.get("/api/dashboard/tutors?limit=1").json()["total"]
    first = api.get("/api/tutors?limit=1").json()["tutors"]
    values = {"last_page": max(total - 50, 0), "tutor": first[0]["tutorId"] if first else "T0001"}
    print(f"  {total:,} tutors; times in ms over {repeat} runs (after one warm-up request)")
    print(f"  {'p50':>8} {'p95':>8} {'max':>8} {'KiB':>7}  request")
    for client, paths in ((api, API), (pages, PAGES)):
        for template in paths:
            path = template.format(**values)
            times = []
            size = 0
            client.get(path)  # warm-up: first-use costs (imports, template compile)
            for _ in range(repeat):
                started = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - started) * 1000)
                size = len(response.content)
                if response.status_code != 200:
                    print(f"  {path}: HTTP {response.status_code}")
                    break
            p95 = (
                statistics.quantiles(times, n=20, method="inclusive")[-1]
                if len(times) > 1
                else times[0]
            )
            print(
                f"  {statistics.median(times):8.1f} {p95:8.1f} {max(times):8.1f}"
                f" {size / 1024:7.1f}  {path}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tutors", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--world", type=Path, default=None, help="world folder (made if missing)")
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--database", default=None, help="use this loaded database instead")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--workdir", type=Path, default=Path("benchmarks/out"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    if args.database:
        print(f"database: {make_url(args.database).render_as_string(hide_password=True)}")
        measure(create_db_engine(args.database), args.repeat)
        return
    world = args.world or args.workdir / f"world-{args.tutors}x{args.days}-s{args.seed}"
    ensure_world(world, args.tutors, args.days, args.seed)
    for kind in [e.strip() for e in args.engines.split(",") if e.strip()]:
        print(f"{kind}:")
        engine = fresh_engine(kind, args.workdir)
        load(engine, world)
        measure(engine, args.repeat)
        engine.dispose()


if __name__ == "__main__":
    main()
