"""/api/cron/{job}: never open, bearer secret compared in constant time, original shapes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tutorpulse.core import jobs
from tutorpulse.core.db import unit_of_work
from tutorpulse.core.models import JobLock, JobRun

CRON_SECRET = "cron-s3cret-value"
AUTH = {"Authorization": f"Bearer {CRON_SECRET}"}


def _runs(factory: sessionmaker[Session], name: str) -> list[JobRun]:
    with factory() as db:
        return list(db.scalars(select(JobRun).where(JobRun.job_name == name)))


@pytest.fixture
def counted(register_job: Callable[..., Any]) -> list[str]:
    triggers: list[str] = []

    @register_job("test.cron_target")
    def target(context: jobs.JobContext) -> dict[str, Any]:
        triggers.append(context.trigger)
        return {"generated": 2, "skipped": 0}

    return triggers


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-secret"},
        {"Authorization": f"Basic {CRON_SECRET}"},
        {"Authorization": "Bearer "},
        {"Authorization": f"Bearer {CRON_SECRET}x"},
    ],
    ids=["missing", "wrong", "not-bearer", "empty", "longer"],
)
def test_missing_or_wrong_secret_is_401_and_runs_nothing(
    client: TestClient,
    counted: list[str],
    headers: dict[str, str],
    session_factory: sessionmaker[Session],
) -> None:
    response = client.get("/api/cron/test.cron_target", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["success"] is False
    assert response.json()["error"]
    assert counted == []
    assert _runs(session_factory, "test.cron_target") == []


def test_without_a_configured_secret_every_call_is_503(
    make_app: Callable[..., FastAPI], counted: list[str]
) -> None:
    for secret in (None, ""):
        with TestClient(make_app(cron_secret=secret)) as client:
            for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer anything"}):
                response = client.post("/api/cron/test.cron_target", headers=headers)
                assert response.status_code == 503
                assert "CRON_SECRET" in response.json()["error"]
    assert counted == []


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_right_secret_runs_the_job_and_answers_the_original_shape(
    client: TestClient, counted: list[str], method: str, session_factory: sessionmaker[Session]
) -> None:
    response = client.request(method, "/api/cron/test.cron_target", headers=AUTH)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    assert body["result"] == {"generated": 2, "skipped": 0}
    assert "results" not in body
    assert isinstance(body["duration"], int)
    assert body["timestamp"] == "2026-03-02T09:00:00+00:00"
    (run,) = _runs(session_factory, "test.cron_target")
    assert (body["runId"], body["job"], run.trigger, run.status) == (
        run.id,
        "test.cron_target",
        "cron",
        "succeeded",
    )
    assert counted == ["cron"]


def test_original_paths_map_to_their_jobs(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs.load_job_modules()  # so the real jobs, where they exist, are what we stand in for

    def fake(name: str) -> jobs.JobSpec:
        def func(context: jobs.JobContext) -> dict[str, Any]:
            return {"sent": 4, "failed": 1, "skipped": 0, "errors": []}

        return jobs.JobSpec(name, "stand-in", func, None, 60)

    for name in ("alerts.generate", "email.send_pending", "insights.discover"):
        monkeypatch.setitem(jobs._REGISTRY, name, fake(name))

    alerts = client.get("/api/cron/generate-alerts", headers=AUTH).json()
    emails = client.get("/api/cron/send-emails", headers=AUTH).json()
    patterns = client.post("/api/cron/discover-patterns", headers=AUTH).json()

    assert (alerts["job"], emails["job"], patterns["job"]) == (
        "alerts.generate",
        "email.send_pending",
        "insights.discover",
    )
    assert "results" not in alerts
    assert (
        emails["results"]
        == emails["result"]
        == {
            "sent": 4,
            "failed": 1,
            "skipped": 0,
            "errors": [],
        }
    )
    assert patterns["success"] is True


def test_original_path_whose_job_is_not_registered_is_404(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs.load_job_modules()
    monkeypatch.delitem(jobs._REGISTRY, "insights.discover", raising=False)

    response = client.get("/api/cron/discover-patterns", headers=AUTH)

    assert response.status_code == 404
    assert "insights.discover" in response.json()["error"]
    unknown = client.get("/api/cron/no.such_job", headers=AUTH)
    assert unknown.status_code == 404
    # Unauthenticated callers learn nothing about which jobs exist.
    assert client.get("/api/cron/no.such_job").status_code == 401


def test_locked_job_is_409_naming_the_holder(
    client: TestClient,
    counted: list[str],
    session_factory: sessionmaker[Session],
) -> None:
    with unit_of_work(session_factory) as db:
        db.add(
            JobLock(
                job_name="test.cron_target",
                holder="worker-2:77 run 5",
                acquired_at=client.app.state.clock.now(),  # type: ignore[attr-defined]
                expires_at=client.app.state.clock.now() + timedelta(minutes=30),  # type: ignore[attr-defined]
            )
        )

    response = client.post("/api/cron/test.cron_target", headers=AUTH)

    assert response.status_code == 409
    body = response.json()
    assert body["success"] is False
    assert body["holder"] == "worker-2:77 run 5"
    assert "worker-2:77 run 5" in body["error"]
    assert counted == []
    assert [r.status for r in _runs(session_factory, "test.cron_target")] == ["locked"]


def test_failed_job_is_500_without_leaking_the_exception(
    client: TestClient, register_job: Callable[..., Any], session_factory: sessionmaker[Session]
) -> None:
    @register_job("test.cron_boom")
    def boom(context: jobs.JobContext) -> dict[str, Any]:
        raise RuntimeError("password=hunter2 in a connection string")

    response = client.get("/api/cron/test.cron_boom", headers=AUTH)

    assert response.status_code == 500
    body = response.json()
    assert body["success"] is False
    assert "hunter2" not in response.text
    (run,) = _runs(session_factory, "test.cron_boom")
    assert body["runId"] == run.id
    assert run.error is not None
    assert "hunter2" in run.error
