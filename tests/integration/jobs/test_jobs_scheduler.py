"""The embedded scheduler seeds job_schedule, follows edits to it, and fires run_job."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tutorpulse.core import jobs
from tutorpulse.core.clock import FrozenClock
from tutorpulse.core.db import unit_of_work
from tutorpulse.core.jobs_cron import next_fire_time
from tutorpulse.core.jobs_schedule import set_schedule
from tutorpulse.core.models import JobRun, JobSchedule
from tutorpulse.core.scheduler import Scheduler, start_scheduler
from tutorpulse.core.settings import Settings

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def start(
    session_factory: sessionmaker[Session], settings: Settings, clock: FrozenClock
) -> Iterator[Callable[..., Scheduler]]:
    started: list[Scheduler] = []

    def _start(refresh_seconds: float = 60) -> Scheduler:
        scheduler = start_scheduler(
            session_factory, settings, clock, refresh_seconds=refresh_seconds
        )
        started.append(scheduler)
        return scheduler

    yield _start
    for scheduler in started:
        scheduler.shutdown(wait=True)


def _schedules(factory: sessionmaker[Session]) -> dict[str, tuple[str, bool, str | None]]:
    with factory() as db:
        return {
            r.job_name: (r.cron, r.enabled, r.updated_by) for r in db.scalars(select(JobSchedule))
        }


def _scheduled(scheduler: Scheduler) -> dict[str, str]:
    """Scheduled test jobs and core.prune (domain jobs may be registered too)."""
    return {
        job["name"]: job["cron"]
        for job in scheduler.state["jobs"]
        if job["name"].startswith("test.") or job["name"] == "core.prune"
    }


def _edit(factory: sessionmaker[Session], name: str, **changes: Any) -> None:
    with unit_of_work(factory) as db:
        set_schedule(db, job_name=name, actor="test", now=NOW, **changes)


def _noop(context: jobs.JobContext) -> dict[str, Any]:
    return {"trigger": context.trigger}


def test_first_start_seeds_default_schedules_without_overwriting_edits(
    start: Callable[..., Scheduler],
    register_job: Callable[..., Any],
    session_factory: sessionmaker[Session],
) -> None:
    register_job("test.hourly", default_cron="0 * * * *")(_noop)
    register_job("test.weekly", default_cron="0 2 * * 1")(_noop)
    register_job("test.manual")(_noop)
    with unit_of_work(session_factory) as db:
        db.add(JobSchedule(job_name="test.weekly", cron="0 4 * * 3", enabled=False))

    scheduler = start()

    rows = _schedules(session_factory)
    assert rows["test.hourly"] == ("0 * * * *", True, "seed")
    assert rows["core.prune"] == ("30 3 * * *", True, "seed")
    assert rows["test.weekly"][:2] == ("0 4 * * 3", False)  # an admin's edit survives
    assert "test.manual" not in rows
    state = scheduler.state
    assert state["running"] is True
    assert _scheduled(scheduler) == {"core.prune": "30 3 * * *", "test.hourly": "0 * * * *"}
    hourly = next(job for job in state["jobs"] if job["name"] == "test.hourly")
    next_run = datetime.fromisoformat(hourly["nextRunAt"])
    assert next_run == next_fire_time("0 * * * *", datetime.now(UTC) - timedelta(seconds=1))

    scheduler.shutdown()
    assert scheduler.state["running"] is False


def test_refresh_follows_edits_to_the_table(
    start: Callable[..., Scheduler],
    register_job: Callable[..., Any],
    session_factory: sessionmaker[Session],
) -> None:
    register_job("test.tick", default_cron="0 * * * *")(_noop)
    register_job("test.tock", default_cron="15 * * * *")(_noop)
    scheduler = start()
    assert _scheduled(scheduler)["test.tick"] == "0 * * * *"

    _edit(session_factory, "test.tick", cron="*/5 * * * *")
    _edit(session_factory, "test.tock", enabled=False)
    scheduler.refresh()
    assert _scheduled(scheduler) == {"core.prune": "30 3 * * *", "test.tick": "*/5 * * * *"}
    tick = next(job for job in scheduler.state["jobs"] if job["name"] == "test.tick")
    assert datetime.fromisoformat(tick["nextRunAt"]).minute % 5 == 0

    _edit(session_factory, "test.tock", enabled=True)
    # A row edited by hand to something unusable is reported; the rest keeps running.
    with unit_of_work(session_factory) as db:
        db.get_one(JobSchedule, "test.tick").cron = "every tuesday"
        db.add(JobSchedule(job_name="retired.job", cron="0 0 * * *", enabled=True))
    scheduler.refresh()
    state = scheduler.state
    assert _scheduled(scheduler) == {"core.prune": "30 3 * * *", "test.tock": "15 * * * *"}
    assert "five fields" in state["errors"]["test.tick"]
    assert state["unknownJobs"] == ["retired.job"]


def test_the_periodic_refresh_picks_up_changes_without_a_call(
    start: Callable[..., Scheduler],
    register_job: Callable[..., Any],
    session_factory: sessionmaker[Session],
) -> None:
    register_job("test.tick", default_cron="0 * * * *")(_noop)
    scheduler = start(refresh_seconds=0.3)

    _edit(session_factory, "test.tick", cron="45 6 * * *")

    deadline = time.monotonic() + 10
    while _scheduled(scheduler).get("test.tick") != "45 6 * * *":
        assert time.monotonic() < deadline, scheduler.state
        time.sleep(0.05)


def test_a_fire_runs_the_job_with_the_schedule_trigger(
    start: Callable[..., Scheduler],
    register_job: Callable[..., Any],
    session_factory: sessionmaker[Session],
) -> None:
    register_job("test.fired", default_cron="0 0 1 1 *")(_noop)
    scheduler = start()

    # Make APScheduler fire the job now instead of next New Year.
    scheduler._aps.modify_job("test.fired", next_run_time=datetime.now(UTC))

    deadline = time.monotonic() + 15
    while True:
        with session_factory() as db:
            run = db.scalar(select(JobRun).where(JobRun.job_name == "test.fired"))
        if run is not None and run.status != "running":
            break
        assert time.monotonic() < deadline, "the scheduled job never ran"
        time.sleep(0.05)
    assert (run.trigger, run.status, run.counts) == (
        "schedule",
        "succeeded",
        {"trigger": "schedule"},
    )


def test_a_locked_fire_is_recorded_and_not_raised(
    start: Callable[..., Scheduler],
    register_job: Callable[..., Any],
    session_factory: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
) -> None:
    register_job("test.busy")(_noop)
    scheduler = start()
    attempt = jobs.jobs_lock.try_acquire(
        session_factory, job_name="test.busy", holder="elsewhere:1 run 1", now=NOW, ttl_seconds=60
    )
    assert attempt.acquired

    scheduler._fire("test.busy")  # what APScheduler calls; must not raise

    with session_factory() as db:
        statuses = db.scalars(select(JobRun.status).where(JobRun.job_name == "test.busy")).all()
    assert statuses == ["locked"]
