"""Alerts benchmark: a full ``alerts.generate`` run, a second run with nothing changed, a
later full pass (every open alert re-triggers), and
the compute part of event-to-alert latency (login event → engagement.refresh →
alerts.generate → the tutor's no_login_7d alert resolved).

Runs the real jobs (JobRun recorded, locks held) against an imported, refreshed
database; it writes alerts into it. The clock is frozen at ``--now`` (the world's end).

    .venv/bin/python benchmarks/bench_alerts.py --database-url sqlite:///var/w1500.db \
        --now 2025-06-01T00:00:00+00:00
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select

from tutorpulse.alerts import service as alerts_service
from tutorpulse.alerts.models import Alert, AlertEvent
from tutorpulse.core.clock import FrozenClock
from tutorpulse.core.db import create_db_engine, make_session_factory, unit_of_work
from tutorpulse.core.jobs import load_job_modules, run_job
from tutorpulse.core.models import JobRun
from tutorpulse.core.settings import Settings
from tutorpulse.engagement import service as engagement_service
from tutorpulse.tutors.models import Tutor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--now", required=True, help="ISO datetime, the world's end")
    args = parser.parse_args()
    settings = Settings(_env_file=None, database_url=args.database_url)
    engine = create_db_engine(settings.resolved_database_url())
    factory = make_session_factory(engine)
    clock = FrozenClock(datetime.fromisoformat(args.now))
    load_job_modules()
    with unit_of_work(factory, write=True) as db:  # start from no alerts and no runs
        db.execute(delete(AlertEvent))
        db.execute(delete(Alert))
        db.execute(delete(JobRun).where(JobRun.job_name == "alerts.generate"))
        tutors = db.scalar(select(func.count()).select_from(Tutor)) or 0

    def job(name: str) -> tuple[float, dict[str, object]]:
        started = time.perf_counter()
        run = run_job(name, session_factory=factory, settings=settings, clock=clock, trigger="cli")
        assert run.status == "succeeded", run.error
        return time.perf_counter() - started, dict(run.counts)

    full_s, full = job("alerts.generate")
    clock.set(clock.now() + timedelta(minutes=1))
    quiet_s, quiet = job("alerts.generate")
    # A later full pass (every ALERTS_FULL_PASS_MINUTES): every open alert re-triggers.
    clock.set(clock.now() + timedelta(minutes=1))
    started = time.perf_counter()
    with unit_of_work(factory, write=True) as db:
        steady = alerts_service.generate(db, now=clock.now(), settings=settings).as_dict()
    steady_s = time.perf_counter() - started

    with unit_of_work(factory) as db:
        target = db.execute(
            select(Alert.id, Tutor.external_id)
            .join(Tutor, Tutor.id == Alert.tutor_id)
            .where(Alert.rule_key == "no_login_7d", Alert.state == "open")
            .limit(1)
        ).first()
    latency = None
    if target is not None:
        alert_id, external = target
        clock.set(clock.now() + timedelta(minutes=1))
        started = time.perf_counter()
        with unit_of_work(factory, write=True) as db:
            engagement_service.record_event(
                db,
                item=engagement_service.EventInput(
                    tutor_id=external, event_type="login", timestamp=clock.now().isoformat()
                ),
                idempotency_key=None,
                now=clock.now(),
                settings=settings,
            )
        refresh_s, _ = job("engagement.refresh")
        generate_s, _ = job("alerts.generate")
        latency = time.perf_counter() - started
        with unit_of_work(factory) as db:
            state = db.scalar(select(Alert.state).where(Alert.id == alert_id))
        assert state == "resolved", f"alert {alert_id} is {state}"
    report = {
        "database": engine.dialect.name,
        "tutors": tutors,
        "fullRunSeconds": round(full_s, 2),
        "fullCounts": {k: full[k] for k in ("generated", "evaluated", "skipped", "errors")},
        "secondRunSeconds": round(quiet_s, 2),
        "secondRunCounts": {k: quiet[k] for k in ("mode", "evaluated", "generated", "updated")},
        "laterFullPassSeconds": round(steady_s, 2),
        "laterFullPassCounts": {k: steady[k] for k in ("evaluated", "generated", "updated")},
        "eventToAlertComputeSeconds": None if latency is None else round(latency, 2),
        "eventToAlertParts": None
        if latency is None
        else {"refresh": round(refresh_s, 2), "generate": round(generate_s, 2)},
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
