"""The job lock holds across processes: separate Pythons on the same database."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tutorpulse.core import jobs
from tutorpulse.core.clock import FrozenClock
from tutorpulse.core.models import JobLock, JobRun
from tutorpulse.core.settings import Settings

# Registers a job that sleeps and logs its start and end, waits for the go file,
# then runs it. Exit code: 0 succeeded, 3 locked, 1 anything else.
WORKER = """
import json, os, sys, time
from pathlib import Path
from tutorpulse.core import jobs
from tutorpulse.core.clock import SystemClock
from tutorpulse.core.db import create_db_engine, make_session_factory
from tutorpulse.core.settings import Settings

url, workdir = sys.argv[1], Path(sys.argv[2])
sleep_seconds, ttl = float(sys.argv[3]), int(sys.argv[4])

@jobs.job("testproc.sleep", description="sleeps", lock_ttl_seconds=ttl)
def sleep(context):
    start = time.time()
    (workdir / f"started-{os.getpid()}").write_text("")
    time.sleep(sleep_seconds)
    (workdir / f"span-{os.getpid()}.json").write_text(json.dumps([start, time.time()]))
    return {"pid": os.getpid()}

factory = make_session_factory(create_db_engine(url))
(workdir / f"ready-{os.getpid()}").write_text("")
while not (workdir / "go").exists():
    time.sleep(0.005)
try:
    run = jobs.run_job("testproc.sleep", session_factory=factory,
                       settings=Settings(database_url=url), clock=SystemClock(), trigger="test")
except jobs.JobLocked as exc:
    print(json.dumps({"status": "locked", "holder": exc.holder}))
    sys.exit(3)
print(json.dumps({"status": run.status, "error": run.error}))
sys.exit(0 if run.status == "succeeded" else 1)
"""


def _spawn(database_url: str, workdir: Path, sleep: float, ttl: int = 60) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, database_url, str(workdir), str(sleep), str(ttl)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _wait_for(predicate: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


def _runs(factory: sessionmaker[Session]) -> list[JobRun]:
    with factory() as db:
        return list(db.scalars(select(JobRun).where(JobRun.job_name == "testproc.sleep")))


@pytest.mark.slow
def test_racing_processes_run_the_job_exactly_once(
    database_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    workers = [_spawn(database_url, tmp_path, sleep=2.0) for _ in range(4)]
    try:
        _wait_for(lambda: len(list(tmp_path.glob("ready-*"))) == len(workers))
        (tmp_path / "go").write_text("")  # all four ask for the lock at the same moment
        outputs = [w.communicate(timeout=120) for w in workers]
    finally:
        for w in workers:
            w.kill()
    codes = sorted(w.returncode for w in workers)
    assert codes == [0, 3, 3, 3], outputs
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    winner_holder = next(r.holder for r in _runs(session_factory) if r.status == "succeeded")
    assert {r["holder"] for r in results if r["status"] == "locked"} == {winner_holder}
    assert len(list(tmp_path.glob("span-*.json"))) == 1
    assert sorted(r.status for r in _runs(session_factory)) == [
        "locked",
        "locked",
        "locked",
        "succeeded",
    ]


@pytest.mark.slow
def test_processes_one_after_another_both_run_without_overlap(
    database_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    (tmp_path / "go").write_text("")
    first = _spawn(database_url, tmp_path, sleep=0.5)
    assert first.wait(timeout=120) == 0, first.communicate()
    second = _spawn(database_url, tmp_path, sleep=0.5)
    assert second.wait(timeout=120) == 0, second.communicate()
    spans = sorted(json.loads(p.read_text()) for p in tmp_path.glob("span-*.json"))
    assert len(spans) == 2
    assert spans[0][1] <= spans[1][0]


@pytest.mark.slow
def test_lock_of_a_killed_process_is_taken_over_once_it_expires(
    database_url: str,
    session_factory: sessionmaker[Session],
    register_job: Callable[..., Any],
    settings: Settings,
    tmp_path: Path,
) -> None:
    (tmp_path / "go").write_text("")
    victim = _spawn(database_url, tmp_path, sleep=60, ttl=20)
    try:
        _wait_for(lambda: any(tmp_path.glob("started-*")))
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
    finally:
        victim.kill()
    with session_factory() as db:
        lock = db.get_one(JobLock, "testproc.sleep")
    (dead_run,) = _runs(session_factory)
    assert dead_run.status == "running"
    assert dead_run.holder == lock.holder

    @register_job("testproc.sleep", lock_ttl_seconds=20)
    def replacement(context: jobs.JobContext) -> dict[str, Any]:
        return {"recovered": 1}

    def run_at(moment: datetime) -> JobRun:
        return jobs.run_job(
            "testproc.sleep",
            session_factory=session_factory,
            settings=settings,
            clock=FrozenClock(moment),
            trigger="test",
        )

    # Before the lock expires the dead holder still blocks the job…
    with pytest.raises(jobs.JobLocked):
        run_at(lock.expires_at - timedelta(seconds=1))
    # …after it, the next run takes the lock over and closes the dead run.
    result = run_at(max(lock.expires_at, datetime.now(UTC)) + timedelta(seconds=1))
    assert result.status == "succeeded"
    with session_factory() as db:
        closed = db.get_one(JobRun, dead_run.id)
        assert closed.status == "failed"
        assert closed.error is not None
        assert closed.error.startswith("Abandoned")
