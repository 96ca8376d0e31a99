"""run_job records every run, holds the lock, and never lets a job overlap itself."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tutorpulse.core import jobs
from tutorpulse.core.clock import FrozenClock, SystemClock
from tutorpulse.core.db import unit_of_work
from tutorpulse.core.errors import NotFound
from tutorpulse.core.models import JobLock, JobRun
from tutorpulse.core.settings import Settings

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # the frozen clock's start (conftest)


def _runs(factory: sessionmaker[Session], name: str) -> list[JobRun]:
    with factory() as db:
        return list(db.scalars(select(JobRun).where(JobRun.job_name == name).order_by(JobRun.id)))


def _lock_rows(factory: sessionmaker[Session]) -> int:
    with factory() as db:
        return int(db.scalar(select(func.count()).select_from(JobLock)) or 0)


def test_success_records_counts_times_and_context(
    register_job: Callable[..., Any],
    run: Callable[..., JobRun],
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
) -> None:
    seen: dict[str, Any] = {}

    @register_job("test.count_things")
    def count_things(context: jobs.JobContext) -> dict[str, Any]:
        seen["run_id"] = context.run_id
        seen["trigger"] = context.trigger
        seen["now"] = context.clock.now()
        with unit_of_work(context.session_factory) as db:
            seen["running"] = db.get_one(JobRun, context.run_id).status
        clock.set(NOW + timedelta(seconds=42))
        return {"generated": 3, "skipped": 1, "at": NOW}

    result = run("test.count_things", trigger="cli")

    assert result.status == "succeeded"
    assert result.counts == {"generated": 3, "skipped": 1, "at": str(NOW)}
    assert result.error is None
    assert result.trigger == "cli"
    assert result.started_at == NOW
    assert result.finished_at == NOW + timedelta(seconds=42)
    assert result.duration_seconds is not None
    assert result.duration_seconds >= 0
    assert seen == {"run_id": result.id, "trigger": "cli", "now": NOW, "running": "running"}
    stored = _runs(session_factory, "test.count_things")
    assert [(r.id, r.status, r.counts["generated"]) for r in stored] == [
        (result.id, "succeeded", 3)
    ]
    assert _lock_rows(session_factory) == 0


def test_failure_records_error_text_and_releases_the_lock(
    register_job: Callable[..., Any],
    run: Callable[..., JobRun],
    session_factory: sessionmaker[Session],
) -> None:
    @register_job("test.explode")
    def explode(context: jobs.JobContext) -> dict[str, Any]:
        raise RuntimeError("the warehouse is on fire")

    result = run("test.explode")

    assert result.status == "failed"
    assert result.error is not None
    assert result.error.splitlines()[0] == "RuntimeError: the warehouse is on fire"
    assert "Traceback" in result.error
    assert "explode" in result.error
    assert result.counts == {}
    assert result.finished_at is not None
    assert _lock_rows(session_factory) == 0
    # The lock was released, so the next run goes ahead.
    assert run("test.explode").status == "failed"
    assert len(_runs(session_factory, "test.explode")) == 2


def test_a_job_that_returns_no_dict_fails(
    register_job: Callable[..., Any], run: Callable[..., JobRun]
) -> None:
    @register_job("test.bad_return")
    def bad_return(context: jobs.JobContext) -> dict[str, Any]:
        return [1, 2]  # type: ignore[return-value]

    result = run("test.bad_return")
    assert result.status == "failed"
    assert result.error is not None
    assert "expected a dict of counts" in result.error


def test_unknown_job_raises_not_found_and_records_nothing(
    run: Callable[..., JobRun], session_factory: sessionmaker[Session]
) -> None:
    with pytest.raises(NotFound, match=r"Unknown job 'test\.nope'"):
        run("test.nope")
    assert _runs(session_factory, "test.nope") == []


def test_held_lock_raises_job_locked_and_records_a_locked_run(
    register_job: Callable[..., Any],
    run: Callable[..., JobRun],
    session_factory: sessionmaker[Session],
) -> None:
    calls: list[int] = []

    @register_job("test.guarded")
    def guarded(context: jobs.JobContext) -> dict[str, Any]:
        calls.append(context.run_id)
        return {}

    with unit_of_work(session_factory) as db:
        db.add(
            JobLock(
                job_name="test.guarded",
                holder="worker-7:4242 run 1",
                acquired_at=NOW - timedelta(minutes=5),
                expires_at=NOW + timedelta(minutes=55),
            )
        )

    with pytest.raises(jobs.JobLocked) as caught:
        run("test.guarded", trigger="cron")

    assert calls == []
    assert caught.value.status == 409
    assert caught.value.holder == "worker-7:4242 run 1"
    assert "worker-7:4242 run 1" in caught.value.message
    (locked,) = _runs(session_factory, "test.guarded")
    assert (locked.id, locked.status, locked.trigger) == (caught.value.run_id, "locked", "cron")
    assert locked.error is not None
    assert "worker-7:4242 run 1" in locked.error
    # The other holder's lock is untouched.
    with session_factory() as db:
        assert db.get_one(JobLock, "test.guarded").holder == "worker-7:4242 run 1"


def test_stale_lock_is_taken_over_and_the_dead_run_marked_failed(
    register_job: Callable[..., Any],
    run: Callable[..., JobRun],
    session_factory: sessionmaker[Session],
) -> None:
    @register_job("test.recover", lock_ttl_seconds=600)
    def recover(context: jobs.JobContext) -> dict[str, Any]:
        with context.session_factory() as db:
            lock = db.get_one(JobLock, "test.recover")
        return {"holder": lock.holder}

    dead_holder = "gone-host:99 run 1"
    with unit_of_work(session_factory) as db:
        dead_run = JobRun(
            job_name="test.recover",
            trigger="schedule",
            status="running",
            started_at=NOW - timedelta(hours=2),
            holder=dead_holder,
        )
        db.add(dead_run)
        db.add(
            JobLock(
                job_name="test.recover",
                holder=dead_holder,
                acquired_at=NOW - timedelta(hours=2),
                expires_at=NOW - timedelta(seconds=1),
            )
        )

    result = run("test.recover")

    assert result.status == "succeeded"
    assert result.counts["holder"] == result.holder
    with session_factory() as db:
        dead = db.get_one(JobRun, dead_run.id)
        assert dead.status == "failed"
        assert dead.error is not None
        assert dead.error.startswith("Abandoned")
        assert db.get(JobLock, "test.recover") is None


def test_two_threads_never_run_the_same_job_at_once(
    register_job: Callable[..., Any],
    session_factory: sessionmaker[Session],
    settings: Settings,
) -> None:
    active = 0
    most_active = 0
    guard = threading.Lock()

    @register_job("test.slow_thread")
    def slow(context: jobs.JobContext) -> dict[str, Any]:
        nonlocal active, most_active
        with guard:
            active += 1
            most_active = max(most_active, active)
        time.sleep(0.8)
        with guard:
            active -= 1
        return {"ok": 1}

    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def attempt() -> None:
        barrier.wait()
        try:
            result = jobs.run_job(
                "test.slow_thread",
                session_factory=session_factory,
                settings=settings,
                clock=SystemClock(),
                trigger="test",
            )
            outcomes.append(result.status)
        except jobs.JobLocked:
            outcomes.append("locked")

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["locked", "succeeded"]
    assert most_active == 1
    assert sorted(r.status for r in _runs(session_factory, "test.slow_thread")) == [
        "locked",
        "succeeded",
    ]
    assert _lock_rows(session_factory) == 0


def test_heartbeat_keeps_a_long_run_locked_past_its_ttl(
    register_job: Callable[..., Any],
    session_factory: sessionmaker[Session],
    settings: Settings,
) -> None:
    expiries = []

    @register_job("test.long_run", lock_ttl_seconds=10)
    def long_run(context: jobs.JobContext) -> dict[str, Any]:
        for _ in range(2):
            with context.session_factory() as db:
                expiries.append(db.get_one(JobLock, "test.long_run").expires_at)
            time.sleep(3.2)  # the heartbeat beats every ttl/4 = 2.5 s
        return {}

    result = jobs.run_job(
        "test.long_run",
        session_factory=session_factory,
        settings=settings,
        clock=SystemClock(),
        trigger="test",
    )
    assert result.status == "succeeded"
    assert expiries[1] - expiries[0] >= timedelta(seconds=2)


def test_metrics_count_runs_by_job_and_outcome(
    register_job: Callable[..., Any], run: Callable[..., JobRun]
) -> None:
    @register_job("test.metered")
    def metered(context: jobs.JobContext) -> dict[str, Any]:
        if context.trigger == "fail":
            raise ValueError("no")
        return {}

    def sample(name: str, outcome: str) -> float:
        labels = {"job": "test.metered", "outcome": outcome}
        return REGISTRY.get_sample_value(name, labels) or 0.0

    before_ok = sample("tutorpulse_job_runs_total", "succeeded")
    before_failed = sample("tutorpulse_job_runs_total", "failed")
    before_hist = sample("tutorpulse_job_duration_seconds_count", "succeeded")

    run("test.metered")
    run("test.metered")
    run("test.metered", trigger="fail")

    assert sample("tutorpulse_job_runs_total", "succeeded") == before_ok + 2
    assert sample("tutorpulse_job_runs_total", "failed") == before_failed + 1
    assert sample("tutorpulse_job_duration_seconds_count", "succeeded") == before_hist + 2
    last = REGISTRY.get_sample_value(
        "tutorpulse_job_last_success_timestamp_seconds", {"job": "test.metered"}
    )
    assert last is not None
    assert abs(last - time.time()) < 60


def test_list_runs_pages_newest_first_and_filters_by_job(
    register_job: Callable[..., Any],
    run: Callable[..., JobRun],
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
) -> None:
    @register_job("test.alpha")
    def alpha(context: jobs.JobContext) -> dict[str, Any]:
        return {}

    @register_job("test.beta")
    def beta(context: jobs.JobContext) -> dict[str, Any]:
        return {}

    ids = []
    for minute, name in enumerate(["test.alpha", "test.beta", "test.alpha", "test.alpha"]):
        clock.set(NOW + timedelta(minutes=minute))
        ids.append(run(name).id)

    with session_factory() as db:
        page, total = jobs.list_runs(db, limit=2)
        assert total == 4
        assert [r.id for r in page] == [ids[3], ids[2]]
        page, total = jobs.list_runs(db, limit=2, offset=2)
        assert [r.id for r in page] == [ids[1], ids[0]]
        page, total = jobs.list_runs(db, job_name="test.alpha", limit=10)
        assert total == 3
        assert [r.id for r in page] == [ids[3], ids[2], ids[0]]
        page, total = jobs.list_runs(db, limit=100_000)
        assert len(page) == 4
        latest = jobs.latest_runs(db)
        assert latest["test.alpha"].id == ids[3]
        assert latest["test.beta"].id == ids[1]
