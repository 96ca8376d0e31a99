"""The jobs admin page and /api/jobs: admins only, CSRF on the trigger, audited runs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tutorpulse.core import jobs
from tutorpulse.core.clock import FrozenClock
from tutorpulse.core.db import unit_of_work
from tutorpulse.core.jobs_schedule import set_schedule
from tutorpulse.core.models import AuditLog, JobLock, JobRun


@pytest.fixture
def sample_jobs(register_job: Callable[..., Any]) -> list[str]:
    calls: list[str] = []

    @register_job("test.admin_ok", default_cron="0 * * * *")
    def ok(context: jobs.JobContext) -> dict[str, Any]:
        calls.append(context.trigger)
        return {"tutorsScored": 1234}

    @register_job("test.admin_fail")
    def fail(context: jobs.JobContext) -> dict[str, Any]:
        raise ValueError("model file missing")

    return calls


def _soup(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


def _runs(factory: sessionmaker[Session], name: str) -> list[JobRun]:
    with factory() as db:
        return list(db.scalars(select(JobRun).where(JobRun.job_name == name).order_by(JobRun.id)))


def _audit(factory: sessionmaker[Session]) -> list[AuditLog]:
    with factory() as db:
        return list(db.scalars(select(AuditLog).where(AuditLog.action == "job.run")))


# --- page -----------------------------------------------------------------------------


def test_page_requires_an_admin(client: TestClient, login: Callable[[str], str]) -> None:
    anonymous = client.get("/jobs", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/login")
    login("coach")
    assert client.get("/jobs").status_code == 403


def test_page_lists_jobs_with_schedule_next_run_and_last_status(
    client: TestClient,
    login: Callable[[str], str],
    sample_jobs: list[str],
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
) -> None:
    login("admin")
    with unit_of_work(session_factory) as db:
        set_schedule(db, job_name="test.admin_ok", cron="15 * * * *", actor="test", now=clock.now())
        db.add(
            JobLock(
                job_name="test.admin_fail",
                holder="worker-9:1 run 77",
                acquired_at=clock.now() - timedelta(minutes=3),
                expires_at=clock.now() + timedelta(minutes=57),
            )
        )
    jobs.run_job(
        "test.admin_ok",
        session_factory=session_factory,
        settings=client.app.state.settings,  # type: ignore[attr-defined]
        clock=clock,
        trigger="cli",
    )

    page = _soup(client.get("/jobs").text)

    cards = {card["data-job"]: card for card in page.select("[data-testid=jobs] [data-job]")}
    assert {"core.prune", "test.admin_ok", "test.admin_fail"} <= set(cards)

    def field(job: str, name: str) -> str:
        return cards[job].select_one(f"dd[data-field={name}]").get_text(" ", strip=True)

    assert field("test.admin_ok", "schedule") == "15 * * * *"
    assert field("test.admin_ok", "next-run") == "2026-03-02 09:15 UTC"  # after the frozen 09:00
    assert cards["test.admin_ok"].select_one("[data-status]")["data-status"] == "succeeded"
    assert field("test.admin_fail", "schedule") == "manual only"
    assert field("test.admin_fail", "last-run") == "never run"
    assert "worker-9:1 run 77" in field("test.admin_fail", "now")
    assert field("test.admin_ok", "now") == "idle"
    (run_row,) = page.select("[data-testid=runs] tbody tr")
    assert "tutorsScored 1,234" in run_row.get_text(" ", strip=True)
    assert "cli" in run_row.get_text(" ", strip=True)
    assert "not running in this process" in page.select_one("[data-testid=scheduler]").text


def test_run_now_needs_the_csrf_token(
    client: TestClient,
    login: Callable[[str], str],
    sample_jobs: list[str],
    session_factory: sessionmaker[Session],
) -> None:
    login("admin")
    response = client.post("/jobs/test.admin_ok/run", data={"csrf_token": "forged"})
    assert response.status_code == 403
    assert sample_jobs == []
    assert _runs(session_factory, "test.admin_ok") == []


def test_run_now_runs_audits_and_shows_the_outcome(
    client: TestClient,
    login: Callable[[str], str],
    sample_jobs: list[str],
    session_factory: sessionmaker[Session],
) -> None:
    login("admin")
    page = _soup(client.get("/jobs").text)
    form = page.select_one("[data-job='test.admin_ok'] form")
    token = form.select_one("input[name=csrf_token]")["value"]

    response = client.post(form["action"], data={"csrf_token": token}, follow_redirects=False)

    (run,) = _runs(session_factory, "test.admin_ok")
    assert response.status_code == 303
    assert response.headers["location"] == f"/jobs?run={run.id}"
    assert (run.status, run.trigger) == ("succeeded", "api")
    assert sample_jobs == ["api"]
    (entry,) = _audit(session_factory)
    assert (entry.actor_type, entry.actor_name, entry.target_id) == (
        "user",
        "admin@jobs-test.invalid",
        "test.admin_ok",
    )
    assert entry.details == {"runId": run.id, "status": "succeeded"}
    flash = _soup(client.get(response.headers["location"]).text).select_one("[data-testid=flash]")
    assert flash["data-status"] == "succeeded"
    assert "tutorsScored 1,234" in flash.text


def test_run_now_of_a_failing_job_shows_its_error(
    client: TestClient, login: Callable[[str], str], sample_jobs: list[str]
) -> None:
    token = login("admin")
    response = client.post("/jobs/test.admin_fail/run", data={"csrf_token": token})
    flash = _soup(response.text).select_one("[data-testid=flash]")
    assert flash["data-status"] == "failed"
    assert "ValueError: model file missing" in flash.text


def test_run_now_of_a_running_job_reports_the_holder(
    client: TestClient,
    login: Callable[[str], str],
    sample_jobs: list[str],
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
) -> None:
    token = login("admin")
    with unit_of_work(session_factory) as db:
        db.add(
            JobLock(
                job_name="test.admin_ok",
                holder="box-1:5 run 3",
                acquired_at=clock.now(),
                expires_at=clock.now() + timedelta(minutes=10),
            )
        )
    response = client.post("/jobs/test.admin_ok/run", data={"csrf_token": token})
    flash = _soup(response.text).select_one("[data-testid=flash]")
    assert flash["data-status"] == "locked"
    assert "box-1:5 run 3" in flash.text
    assert sample_jobs == []
    assert _audit(session_factory)[0].details["status"] == "locked"


def test_runs_are_paged_and_filtered(
    client: TestClient,
    login: Callable[[str], str],
    sample_jobs: list[str],
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
) -> None:
    login("admin")
    settings = client.app.state.settings  # type: ignore[attr-defined]
    for _minute in range(3):
        clock.set(clock.now() + timedelta(minutes=1))
        for name in ("test.admin_ok", "test.admin_fail"):
            jobs.run_job(
                name, session_factory=session_factory, settings=settings, clock=clock, trigger="cli"
            )

    first = _soup(client.get("/jobs?limit=4").text)
    ids = [int(tr["data-run-id"]) for tr in first.select("[data-testid=runs] tbody tr")]
    assert len(ids) == 4
    assert ids == sorted(ids, reverse=True)
    older = first.select_one("a[rel=next]")["href"]
    second = _soup(client.get("/jobs" + older).text)
    rest = [int(tr["data-run-id"]) for tr in second.select("[data-testid=runs] tbody tr")]
    assert len(rest) == 2
    assert not set(rest) & set(ids)

    only_fail = _soup(client.get("/jobs?job=test.admin_fail").text)
    names = {tr.select("td")[1].text for tr in only_fail.select("[data-testid=runs] tbody tr")}
    assert names == {"test.admin_fail"}
    details = only_fail.select_one("[data-testid=runs] details")
    assert details.summary.text == "ValueError: model file missing"


# --- JSON API ---------------------------------------------------------------------------


def test_api_needs_an_admin_scope(
    client: TestClient, api_key: Callable[[list[str]], str], sample_jobs: list[str]
) -> None:
    assert client.get("/api/jobs").status_code == 401
    reader = {"Authorization": f"Bearer {api_key(['read', 'write'])}"}
    assert client.get("/api/jobs", headers=reader).status_code == 403
    assert client.get("/api/jobs/runs", headers=reader).status_code == 403
    assert client.post("/api/jobs/test.admin_ok/run", headers=reader).status_code == 403
    assert sample_jobs == []


def test_api_lists_jobs_runs_and_runs_a_job(
    client: TestClient,
    api_key: Callable[[list[str]], str],
    sample_jobs: list[str],
    session_factory: sessionmaker[Session],
) -> None:
    admin = {"Authorization": f"Bearer {api_key(['admin'])}"}

    ran = client.post("/api/jobs/test.admin_ok/run", headers=admin)
    assert ran.status_code == 200, ran.text
    run = ran.json()
    assert (run["jobName"], run["status"], run["trigger"]) == ("test.admin_ok", "succeeded", "api")
    assert run["counts"] == {"tutorsScored": 1234}
    failed = client.post("/api/jobs/test.admin_fail/run", headers=admin).json()
    assert failed["status"] == "failed"
    assert failed["error"].startswith("ValueError: model file missing")
    assert client.post("/api/jobs/test.nope/run", headers=admin).status_code == 404

    listing = client.get("/api/jobs", headers=admin).json()
    by_name = {j["name"]: j for j in listing["jobs"]}
    assert by_name["test.admin_ok"]["defaultCron"] == "0 * * * *"
    assert by_name["test.admin_ok"]["lastRun"]["id"] == run["id"]
    assert by_name["test.admin_fail"]["lastRun"]["status"] == "failed"
    assert by_name["core.prune"]["lock"] is None
    assert listing["scheduler"] is None

    page = client.get("/api/jobs/runs", params={"limit": 1}, headers=admin).json()
    assert (page["total"], page["limit"], len(page["runs"])) == (2, 1, 1)
    assert page["runs"][0]["id"] == failed["id"]
    only_ok = client.get("/api/jobs/runs", params={"job": "test.admin_ok"}, headers=admin).json()
    assert [r["id"] for r in only_ok["runs"]] == [run["id"]]
    assert client.get("/api/jobs/runs", params={"limit": 1000}, headers=admin).status_code == 400
    actors = {(e.actor_type, e.target_id) for e in _audit(session_factory)}
    assert actors == {("api_key", "test.admin_ok"), ("api_key", "test.admin_fail")}


def test_api_run_of_a_locked_job_is_409(
    client: TestClient,
    api_key: Callable[[list[str]], str],
    sample_jobs: list[str],
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
) -> None:
    admin = {"Authorization": f"Bearer {api_key(['admin'])}"}
    with unit_of_work(session_factory) as db:
        db.add(
            JobLock(
                job_name="test.admin_ok",
                holder="box-2:6 run 4",
                acquired_at=clock.now(),
                expires_at=clock.now() + timedelta(minutes=10),
            )
        )
    response = client.post("/api/jobs/test.admin_ok/run", headers=admin)
    assert response.status_code == 409
    assert "box-2:6 run 4" in response.json()["error"]
