"""core.prune deletes what has expired and nothing that is still in use."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tutorpulse.core import jobs, jobs_prune  # jobs_prune registers core.prune
from tutorpulse.core.clock import FrozenClock
from tutorpulse.core.db import unit_of_work
from tutorpulse.core.jobs import registered_jobs
from tutorpulse.core.models import JobLock, JobRun, User, WebSession
from tutorpulse.core.settings import Settings

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _session(user_id: int, token: str, *, expires: timedelta, revoked: bool = False) -> WebSession:
    return WebSession(
        token_hash=token,
        user_id=user_id,
        csrf_token="csrf",
        created_at=NOW - timedelta(days=1),
        expires_at=NOW + expires,
        revoked_at=NOW - timedelta(hours=1) if revoked else None,
    )


def _run(name: str, *, age: timedelta, status: str, holder: str | None = None) -> JobRun:
    return JobRun(
        job_name=name,
        trigger="schedule",
        status=status,
        started_at=NOW - age,
        finished_at=None if status == "running" else NOW - age + timedelta(seconds=5),
        holder=holder,
    )


def test_prune_is_registered_with_a_daily_schedule() -> None:
    spec = registered_jobs()["core.prune"]
    assert spec.func is jobs_prune.prune
    assert spec.default_cron == "30 3 * * *"


def test_prune_removes_expired_rows_and_keeps_live_ones(
    run: Callable[..., JobRun], session_factory: sessionmaker[Session]
) -> None:
    with unit_of_work(session_factory) as db:
        user = User(email="coach@jobs-test.invalid", password_hash="x", role="coach")
        db.add(user)
        db.flush()
        db.add_all(
            [
                _session(user.id, "expired", expires=-timedelta(minutes=1)),
                _session(user.id, "live", expires=timedelta(hours=3)),
                _session(user.id, "logged-out", expires=timedelta(hours=3), revoked=True),
                JobLock(
                    job_name="alerts.generate",
                    holder="dead:1 run 1",
                    acquired_at=NOW - timedelta(hours=3),
                    expires_at=NOW - timedelta(hours=2),
                ),
                JobLock(
                    job_name="email.send_pending",
                    holder="alive:2 run 2",
                    acquired_at=NOW - timedelta(minutes=1),
                    expires_at=NOW + timedelta(minutes=59),
                ),
                _run(
                    "alerts.generate",
                    age=timedelta(hours=3),
                    status="running",
                    holder="dead:1 run 1",
                ),
                _run(
                    "email.send_pending",
                    age=timedelta(minutes=1),
                    status="running",
                    holder="alive:2 run 2",
                ),
                _run(
                    "risk.score", age=timedelta(hours=5), status="running", holder="crashed:3 run 3"
                ),
                _run(
                    "risk.score",
                    age=timedelta(minutes=2),
                    status="running",
                    holder="starting:4 run 4",
                ),
                _run("risk.score", age=timedelta(days=91), status="succeeded"),
                _run("risk.score", age=timedelta(days=89), status="failed"),
            ]
        )

    result = run("core.prune")

    assert result.status == "succeeded", result.error
    assert result.counts == {
        "expiredSessionsDeleted": 2,
        "staleLocksReleased": 1,
        "abandonedRunsFailed": 2,
        "oldRunsDeleted": 1,
        "retentionDays": 90,
    }
    with session_factory() as db:
        assert db.scalars(select(WebSession.token_hash)).all() == ["live"]
        assert db.scalars(select(JobLock.job_name)).all() == ["email.send_pending"]
        runs = {
            (r.job_name, r.holder or f"{(NOW - r.started_at).days}d"): r.status
            for r in db.scalars(select(JobRun).where(JobRun.job_name != "core.prune"))
        }
    assert runs == {
        ("alerts.generate", "dead:1 run 1"): "failed",
        ("email.send_pending", "alive:2 run 2"): "running",
        ("risk.score", "crashed:3 run 3"): "failed",
        ("risk.score", "starting:4 run 4"): "running",
        ("risk.score", "89d"): "failed",
    }


def test_prune_honours_the_retention_setting(
    session_factory: sessionmaker[Session], settings: Settings, clock: FrozenClock
) -> None:
    with unit_of_work(session_factory) as db:
        db.add_all(
            [
                _run("risk.score", age=timedelta(days=8), status="succeeded"),
                _run("risk.score", age=timedelta(days=6), status="succeeded"),
            ]
        )
    # TUTORPULSE_JOB_RUN_RETENTION_DAYS once Settings declares it; set directly here.
    short = settings.model_copy(update={"job_run_retention_days": 7})

    result = jobs.run_job(
        "core.prune", session_factory=session_factory, settings=short, clock=clock, trigger="test"
    )

    assert result.counts["oldRunsDeleted"] == 1
    assert result.counts["retentionDays"] == 7
