"""Ingestion benchmark: event POSTs per second, batched events per second, freshness lag.

    python benchmarks/bench_ingest.py                       # both engines
    python benchmarks/bench_ingest.py --engines sqlite --seconds 10

For each engine it builds a fresh database with --tutors tutors, starts the real
app with one uvicorn worker (scheduler off, background refresher on), and drives
it from this, a second process, over 127.0.0.1 with a minimal asyncio HTTP/1.1
client (keep-alive connections; httpx would be the bottleneck here). It then
does the same against a bare FastAPI endpoint that inserts one row
(benchmarks/bare_ingest_app.py), also one uvicorn worker, and prints the ratio.

Phases per engine:
1. bare single-row POSTs, 2. bare 500-event batches (2b. the same into a table with
   the events table's unique key and three indexes, to separate what the schema
   costs from what the endpoint's work costs; 2c. on SQLite, the same into a small
   staging table with those keys whose rows a thread moves into the big table every
   second — a design the product does not use — and how long the staging table takes
   to empty after the load),
3. /api/engagement/track with auth, validation, idempotency (a unique eventId per
   request), lastLoginAt upkeep and dirty marks, background refresher ON,
4. the same with the refresher OFF (the difference is the cost of keeping health
   current while ingesting), 5. /api/engagement/track/batch with 500 events,
6. freshness: single events to an idle server, time until the tutor's
   tutor_health row shows the login (polled every 20 ms).
Figures are printed; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, text
from sqlalchemy.engine import make_url

from tutorpulse.core import auth, migrate
from tutorpulse.core.db import create_db_engine, make_session_factory, unit_of_work
from tutorpulse.core.settings import Settings
from tutorpulse.engagement.refresh import rebuild
from tutorpulse.tutors.models import Tutor

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
Bodies = Callable[[], bytes]  # makes each request's body
ZONES = ["America/New_York", "Europe/London", "Asia/Kolkata", "UTC", "America/Los_Angeles"]


@dataclass
class LoadResult:
    requests: int
    seconds: float
    errors: int
    latencies: list[float]
    items_per_request: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def items_per_second(self) -> float:
        return self.rps * self.items_per_request

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


# ---- a minimal keep-alive HTTP/1.1 client ------------------------------------------


async def _one_connection(
    port: int, path: str, headers: str, bodies: Bodies, stop_at: float, out: LoadResult
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < stop_at:
            body = bodies()
            request = (
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            out.latencies.append(time.perf_counter() - started)
            out.requests += 1
            if status >= 300:
                out.errors += 1
    finally:
        writer.close()


def run_load(
    port: int,
    path: str,
    headers: str,
    bodies: Bodies,
    *,
    seconds: float,
    concurrency: int,
    items: int,
) -> LoadResult:
    async def main() -> LoadResult:
        warm = LoadResult(0, 0, 0, [], items)
        await asyncio.gather(
            *[_one_connection(port, path, headers, bodies, time.perf_counter() + 1.0, warm)
              for _ in range(concurrency)]
        )  # fmt: skip
        out = LoadResult(0, 0, 0, [], items)
        started = time.perf_counter()
        await asyncio.gather(
            *[_one_connection(port, path, headers, bodies, started + seconds, out)
              for _ in range(concurrency)]
        )  # fmt: skip
        out.seconds = time.perf_counter() - started
        return out

    return asyncio.run(main())


# ---- servers ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    target: str, env: dict[str, str], app_dir: Path | None = None
) -> tuple[subprocess.Popen, int]:
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", "--factory", target, "--host", "127.0.0.1",
           "--port", str(port), "--workers", "1", "--no-access-log", "--log-level", "warning"]  # fmt: skip
    if app_dir is not None:
        cmd += ["--app-dir", str(app_dir)]
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, cwd=ROOT)
    deadline = time.time() + 240  # the app imports the whole analytics stack
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server {target} did not start")


def _get_json(port: int, path: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as response:
        return dict(json.loads(response.read()))


def stop_server(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


# ---- databases --------------------------------------------------------------------


def fresh_database(engine_name: str, tutors: int) -> tuple[str, str]:
    """(app URL, bare URL) of freshly created databases with ``tutors`` tutors."""
    if engine_name == "sqlite":
        folder = ROOT / "var" / "bench"
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("ingest.db", "ingest-bare.db"):
            for suffix in ("", "-wal", "-shm"):
                (folder / f"{name}{suffix}").unlink(missing_ok=True)
        url, bare = f"sqlite:///{folder / 'ingest.db'}", f"sqlite:///{folder / 'ingest-bare.db'}"
    else:
        admin = create_db_engine(PG_ADMIN)
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for name in ("tutorpulse_ingest", "tutorpulse_ingest_bare"):
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        admin.dispose()
        base = make_url(PG_ADMIN)
        url = base.set(database="tutorpulse_ingest").render_as_string(False)
        bare = base.set(database="tutorpulse_ingest_bare").render_as_string(False)
    engine = create_db_engine(url)
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(Tutor),
            [
                {"external_id": f"T{i:05d}", "email": f"t{i}@bench.test", "name": f"Tutor {i}",
                 "timezone": ZONES[i % len(ZONES)], "subjects": ["Math"], "primary_subject": "Math",
                 "joined_on": date(2026, 1, 1), "status": "active"}
                for i in range(tutors)
            ],
        )  # fmt: skip
    # Every tutor has its health row, as after an import (the import's catch-up
    # refresh): otherwise the first measured pass computes all of them at once.
    rebuild(make_session_factory(engine), settings=Settings(_env_file=None),
            now_fn=lambda: datetime.now(UTC))  # fmt: skip
    engine.dispose()
    return url, bare


def make_key(url: str) -> str:
    engine = create_db_engine(url)
    with unit_of_work(make_session_factory(engine)) as db:
        _row, key = auth.create_api_key(db, name="bench", scopes=["ingest"])
    engine.dispose()
    return key


def pending_dirty(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM tutor_dirty")).scalar_one())


# ---- phases ---------------------------------------------------------------------


def event_body(tutors: int, unique: bool) -> bytes:
    tutor = f"T{random.randrange(tutors):05d}"
    body: dict[str, object] = {"tutorId": tutor, "eventType": "login"}
    if unique:
        body["eventId"] = uuid.uuid4().hex
    return json.dumps(body).encode()


def batch_body(tutors: int, size: int, unique: bool) -> bytes:
    events = []
    for _ in range(size):
        e: dict[str, object] = {
            "tutorId": f"T{random.randrange(tutors):05d}",
            "eventType": "message_sent",
        }
        if unique:
            e["eventId"] = uuid.uuid4().hex
        events.append(e)
    return json.dumps({"events": events}).encode()


def report(label: str, r: LoadResult) -> dict[str, float]:
    line = (
        f"  {label:<44} {r.rps:>8,.0f} req/s  {r.items_per_second:>9,.0f} events/s  "
        f"p50 {r.pct(0.5):6.1f} ms  p99 {r.pct(0.99):7.1f} ms  errors {r.errors}"
    )
    print(line, flush=True)
    return {"rps": r.rps, "events_per_s": r.items_per_second, "p50_ms": r.pct(0.5),
            "p99_ms": r.pct(0.99), "errors": r.errors}  # fmt: skip


def freshness(port: int, key: str, url: str, tutors: int, probes: int) -> list[float]:
    engine = create_db_engine(url)
    lags = []
    for n in range(probes):
        tutor = f"T{(tutors - 1 - n):05d}"
        stamp = datetime.now(UTC).replace(microsecond=0)
        body = json.dumps({"tutorId": tutor, "eventType": "login", "timestamp": stamp.isoformat(),
                           "eventId": f"probe-{uuid.uuid4().hex}"}).encode()  # fmt: skip
        headers = f"Authorization: Bearer {key}\r\n"
        result = LoadResult(0, 0, 0, [], 1)
        asyncio.run(_one_shot(port, "/api/engagement/track", headers, body, result))
        accepted = time.perf_counter()
        while True:
            with engine.connect() as conn:
                row = conn.execute(
                    text("SELECT h.last_login_at FROM tutor_health h JOIN tutor t ON t.id = h.tutor_id "
                         "WHERE t.external_id = :t"), {"t": tutor}
                ).first()  # fmt: skip
            seen = row is not None and row[0] is not None and _as_dt(row[0]) >= stamp
            if seen or time.perf_counter() - accepted > 120:
                break
            time.sleep(0.02)
        lags.append(time.perf_counter() - accepted)
        time.sleep(0.5)
    engine.dispose()
    return lags


def _as_dt(value: object) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


async def _one_shot(port: int, path: str, headers: str, body: bytes, out: LoadResult) -> None:
    """Send exactly one request on a fresh connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode() + body
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    if int(head[9:12]) >= 300:
        out.errors += 1
    out.requests += 1
    writer.close()


def bench_engine(engine_name: str, args: argparse.Namespace) -> dict[str, object]:
    print(f"\n== {engine_name}: {args.tutors:,} tutors, {args.seconds:.0f} s per phase, "
          f"{args.concurrency} connections ==", flush=True)  # fmt: skip
    url, bare_url = fresh_database(engine_name, args.tutors)
    key = make_key(url)
    results: dict[str, object] = {}
    common = {"TUTORPULSE_SCHEDULER_ENABLED": "false", "TUTORPULSE_LOG_LEVEL": "WARNING"}

    proc, port = start_server("bare_ingest_app:create", {"BARE_DATABASE_URL": bare_url},
                              app_dir=ROOT / "benchmarks")  # fmt: skip
    try:
        results["bare_single"] = report("bare endpoint, one row per POST", run_load(
            port, "/bare", "", lambda: event_body(args.tutors, False),
            seconds=args.seconds, concurrency=args.concurrency, items=1))  # fmt: skip
        results["bare_batch"] = report(f"bare endpoint, {args.batch}-event batches", run_load(
            port, "/bare/batch", "", lambda: batch_body(args.tutors, args.batch, False),
            seconds=args.seconds, concurrency=4, items=args.batch))  # fmt: skip
        results["bare_batch_indexed"] = report(
            f"bare, {args.batch}-event batches, product's indexes", run_load(
            port, "/bare/batch-indexed", "", lambda: batch_body(args.tutors, args.batch, True),
            seconds=args.seconds, concurrency=4, items=args.batch))  # fmt: skip
        if engine_name == "sqlite":
            results["bare_batch_staged"] = report(
                f"bare, {args.batch}-event batches, staged + merged", run_load(
                port, "/bare/batch-staged", "", lambda: batch_body(args.tutors, args.batch, True),
                seconds=args.seconds, concurrency=4, items=args.batch))  # fmt: skip
            drained = time.perf_counter()
            while (stats := _get_json(port, "/bare/staged-stats"))["pending"]:
                time.sleep(0.1)
            results["staged_drain_s"] = time.perf_counter() - drained
            print(f"    staging table empty {results['staged_drain_s']:.1f} s after the load; "
                  f"{stats['count']} merges moved {stats['rows']:,} rows in {stats['seconds']:.1f} s "
                  "holding the writer", flush=True)  # fmt: skip
    finally:
        stop_server(proc)

    auth_header = f"Authorization: Bearer {key}\r\n"
    for refresher in ("true", "false"):
        env = {**common, "TUTORPULSE_DATABASE_URL": url,
               "TUTORPULSE_ENGAGEMENT_BACKGROUND_REFRESH": refresher}  # fmt: skip
        proc, port = start_server("tutorpulse.app:create_app", env)
        try:
            label = "refresher on" if refresher == "true" else "refresher off"
            results[f"track_single_{label.split()[1]}"] = report(
                f"/track, one event per POST ({label})",
                run_load(port, "/api/engagement/track", auth_header,
                         lambda: event_body(args.tutors, True), seconds=args.seconds,
                         concurrency=args.concurrency, items=1),
            )  # fmt: skip
            if refresher == "true":
                engine = create_db_engine(url)
                drained = time.perf_counter()
                while pending_dirty(engine) and time.perf_counter() - drained < 300:
                    time.sleep(0.2)
                results["backlog_drain_s"] = time.perf_counter() - drained
                print(f"  refresh backlog after the load drained in {results['backlog_drain_s']:.1f} s",
                      flush=True)  # fmt: skip
                results["track_batch"] = report(
                    f"/track/batch, {args.batch}-event batches ({label})",
                    run_load(port, "/api/engagement/track/batch", auth_header,
                             lambda: batch_body(args.tutors, args.batch, True), seconds=args.seconds,
                             concurrency=4, items=args.batch),
                )  # fmt: skip
                drained = time.perf_counter()
                while pending_dirty(engine) and time.perf_counter() - drained < 300:
                    time.sleep(0.2)
                engine.dispose()
                lags = freshness(port, key, url, args.tutors, args.probes)
                results["freshness_s"] = {"median": statistics.median(lags), "max": max(lags)}
                print(f"  freshness (event accepted → in tutor_health), {len(lags)} probes: "
                      f"median {statistics.median(lags):.2f} s, max {max(lags):.2f} s", flush=True)  # fmt: skip
        finally:
            stop_server(proc)

    bare_single = results["bare_single"]["rps"]  # type: ignore[index]
    bare_batch = results["bare_batch"]["events_per_s"]  # type: ignore[index]
    single = results["track_single_on"]["rps"]  # type: ignore[index]
    batch = results["track_batch"]["events_per_s"]  # type: ignore[index]
    off = results["track_single_off"]["rps"]  # type: ignore[index]
    indexed = results["bare_batch_indexed"]["events_per_s"]  # type: ignore[index]
    print(f"  the events table's indexes alone: bare batches {indexed / bare_batch:.2f}× of the "
          f"plain table; /track/batch {batch / indexed:.2f}× of the bare indexed insert", flush=True)  # fmt: skip
    if "bare_batch_staged" in results:
        staged = results["bare_batch_staged"]["events_per_s"]  # type: ignore[index]
        print(f"  a bare insert through a staging table (a design the product does not use): "
              f"{staged / bare_batch:.2f}× of the plain table", flush=True)  # fmt: skip
    print(f"  ratio vs bare: single {single / bare_single:.2f}×, batched {batch / bare_batch:.2f}×; "
          f"refresher costs {(1 - single / off) * 100:.0f}% of single-event throughput", flush=True)  # fmt: skip
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--tutors", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--probes", type=int, default=10)
    args = parser.parse_args()
    out = {}
    for name in args.engines.split(","):
        out[name] = bench_engine(name.strip(), args)
    path = ROOT / "var" / "bench" / "ingest-results.json"
    path.write_text(json.dumps(out, indent=2, default=str))
    print(f"\nresults written to {path}")


if __name__ == "__main__":
    main()
