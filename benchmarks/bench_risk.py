"""Risk benchmark: training time and a full rescore (all tutors, all upcoming sessions).

    python benchmarks/bench_risk.py --tutors 100000 --days 365          # in memory
    python benchmarks/bench_risk.py --db sqlite:////path/copy-of-bench.db --now 2026-05-01

With ``--db`` it runs the real service on an imported database (write it to a *copy*:
it adds model versions, tutor_health rows for tutors that have none, and scores):
``train_models`` (both targets) and ``score_all`` with its per-stage timings.

Generates the world in memory (no database): the figures cover feature
computation, prediction and explanations; database reads and writes are
measured separately by ``tutorpulse models score`` (its timings are printed).
Training uses a deterministic sample of at most ``--train-tutors`` tutors,
as ``risk.train`` does with ``TUTORPULSE_RISK_TRAIN_MAX_TUTORS``.
"""

from __future__ import annotations

import argparse
import math
import time
from datetime import UTC, datetime

from tutorpulse.core.settings import Settings
from tutorpulse.risk import noshow, service
from tutorpulse.risk.explain import explain, rows_to_explain
from tutorpulse.risk.features import compute_tutor_features
from tutorpulse.risk.frames import DAY, Frames, frames_from_world
from tutorpulse.world.config import WorldConfig
from tutorpulse.world.generator import generate_world


def sample(frames: Frames, max_tutors: int) -> Frames:
    k = max(1, math.ceil(len(frames.tutors) / max_tutors))
    keep = lambda df: df[df["tutor_id"] % k == 0]  # noqa: E731
    return Frames(keep(frames.tutors), keep(frames.sessions), keep(frames.events), frames.end_ts)


def bench_db(url: str, now: datetime, *, train: bool = True) -> None:
    from sqlalchemy import insert, select

    from tutorpulse.core.db import create_db_engine, make_session_factory, unit_of_work
    from tutorpulse.engagement.models import TutorHealth
    from tutorpulse.tutors.models import Tutor

    settings = Settings(_env_file=None)
    factory = make_session_factory(create_db_engine(url))
    with unit_of_work(factory) as db:
        have = set(db.scalars(select(TutorHealth.tutor_id)))
        missing = [i for i in db.scalars(select(Tutor.id)) if i not in have]
        if missing:
            db.execute(
                insert(TutorHealth),
                [{"tutor_id": i, "as_of": now, "computed_at": now} for i in missing],
            )
        print(f"tutor_health rows added for the benchmark: {len(missing):,}")
    if not train:
        print("training skipped (--score-only): the active versions score")
    else:
        with unit_of_work(factory) as db:
            t = time.perf_counter()
            outcomes = service.train_models(db, now=now, settings=settings)
            print(f"train_models (both targets): {time.perf_counter() - t:.1f} s")
            for o in outcomes:
                h = o.version.metrics["heldOut"]
                print(
                    f"  {o.target}: {o.seconds} s, {o.version.algorithm}, held-out AUC "
                    f"{h['auc']}, rule AUC {o.version.metrics['baseline']['auc']}, {o.reason}"
                )
                if not o.activated:  # the benchmark measures scoring with both models
                    service.activate_model(db, version_id=o.version.id)
    for run in (1, 2, 3):
        with unit_of_work(factory) as db:
            t, cpu = time.perf_counter(), time.process_time()
            summary = service.score_all(db, now=now, settings=settings)
        elapsed, cpu = time.perf_counter() - t, time.process_time() - cpu
        # CPU time of this process (SQLite runs in it): what the run costs on an idle core;
        # the wall time also holds waiting for the shared machine's other work.
        print(
            f"score_all run {run}: {elapsed:.1f} s wall ({cpu:.1f} s CPU) including commit; "
            f"{summary.tutors_scored:,} tutors, {summary.sessions_scored:,} sessions; "
            f"stages {summary.seconds}"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", help="database URL (a copy): benchmark the service end to end")
    ap.add_argument("--now", default="2026-05-01", help="as-of date with --db")
    ap.add_argument("--score-only", action="store_true", help="with --db: skip training")
    ap.add_argument("--tutors", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--train-tutors", type=int, default=20_000)
    args = ap.parse_args()
    if args.db:
        bench_db(
            args.db, datetime.fromisoformat(args.now).replace(tzinfo=UTC), train=not args.score_only
        )
        return
    settings = Settings(_env_file=None)
    now = datetime(2026, 5, 1, tzinfo=UTC)

    t = time.perf_counter()
    world = generate_world(WorldConfig(tutors=args.tutors, days=args.days, seed=args.seed, now=now))
    frames = frames_from_world(world)
    print(
        f"world {args.tutors:,} tutors x {args.days} days: {len(frames.sessions):,} sessions, "
        f"{len(frames.events):,} events ({time.perf_counter() - t:.1f} s to generate)"
    )
    start = frames.end_ts - args.days * DAY
    small = sample(frames, args.train_tutors)
    models = {}
    for target in service.TARGETS:
        t = time.perf_counter()
        result = service.fit_target(small, target=target, start_ts=start, settings=settings)
        models[target] = result.model
        h = result.metrics["heldOut"]
        print(
            f"train {target}: {time.perf_counter() - t:.1f} s on {len(small.tutors):,} tutors; "
            f"held-out AUC {h['auc']}, rule AUC {result.metrics['baseline']['auc']}, "
            f"Brier {h['brier']} vs base rate {h['brierBaseRate']}"
        )

    t0 = time.perf_counter()
    feats = compute_tutor_features(frames, frames.end_ts)
    t1 = time.perf_counter()
    at_risk = feats[feats["inactive_days"] < settings.churn_inactivity_days]
    p = models["churn"].predict(at_risk)
    medium = service.thresholds(settings, "churn")[0]
    drivers = explain(models["churn"], at_risk, only=rows_to_explain(models["churn"], p, medium))
    t2 = time.perf_counter()
    ss = frames.sessions
    upcoming = ss[(ss["status"] == "scheduled") & (ss["start_ts"] >= frames.end_ts)]
    rows = noshow.session_features(frames, upcoming, frames.end_ts, feats)
    ns = models["tutor_no_show"]
    q = ns.predict(rows)
    medium = service.thresholds(settings, "tutor_no_show")[0]
    sdrivers = explain(ns, rows, only=rows_to_explain(ns, q, medium))
    t3 = time.perf_counter()
    print(
        f"rescore: features {t1 - t0:.1f} s; churn {len(p):,} tutors {t2 - t1:.1f} s; "
        f"no-show {len(q):,} sessions {t3 - t2:.1f} s; total {t3 - t0:.1f} s "
        f"({sum(map(bool, drivers)) + sum(map(bool, sdrivers)):,} scores with drivers)"
    )


if __name__ == "__main__":
    main()
