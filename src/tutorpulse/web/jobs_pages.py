"""The jobs admin page (``/jobs``) and the jobs JSON API (``/api/jobs``), admins only.

Both list the registered jobs with their schedule, next run, last run and lock,
page through recent runs, and let an admin run a job now. A run started here
is synchronous (the response waits for it), recorded as a ``JobRun`` with
trigger ``api`` and written to the audit log with the admin who started it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel
from sqlalchemy.orm import Session

from tutorpulse.core.audit import Actor, record_audit
from tutorpulse.core.clock import Clock
from tutorpulse.core.jobs import (
    JobLocked,
    get_job_or_raise,
    list_runs,
    load_job_modules,
    registered_jobs,
    run_job,
)
from tutorpulse.core.jobs_schedule import JobOverview, job_overview
from tutorpulse.core.models import JobRun
from tutorpulse.core.settings import Settings
from tutorpulse.web.auth import require_api, require_csrf, require_user
from tutorpulse.web.deps import ClockDep, DbSession, RequestId, SettingsDep
from tutorpulse.web.templating import render

router = APIRouter()

MAX_LIMIT = 200
RUN_TRIGGER = "api"


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)


class JobRunRead(_Camel):
    id: int
    job_name: str
    trigger: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    duration_seconds: float | None
    counts: dict[str, Any]
    error: str | None
    holder: str | None


class JobLockRead(_Camel):
    holder: str
    acquired_at: datetime
    expires_at: datetime


class JobRead(_Camel):
    name: str
    description: str
    default_cron: str | None
    cron: str | None
    enabled: bool
    next_run_at: datetime | None
    schedule_error: str | None
    last_run: JobRunRead | None
    lock: JobLockRead | None


class JobList(_Camel):
    jobs: list[JobRead]
    scheduler: dict[str, Any] | None


class JobRunPage(_Camel):
    runs: list[JobRunRead]
    total: int
    limit: int
    offset: int


def _job_read(row: JobOverview) -> JobRead:
    return JobRead(
        name=row.name,
        description=row.description,
        default_cron=row.default_cron,
        cron=row.cron,
        enabled=row.enabled,
        next_run_at=row.next_run_at,
        schedule_error=row.schedule_error,
        last_run=JobRunRead.model_validate(row.last_run) if row.last_run else None,
        lock=JobLockRead.model_validate(row.lock) if row.lock else None,
    )


def _scheduler_state(request: Request) -> dict[str, Any] | None:
    scheduler = getattr(request.app.state, "scheduler", None)
    state = getattr(scheduler, "state", None)
    return state if isinstance(state, dict) else None


def _run_now(
    request: Request,
    db: Session,
    *,
    name: str,
    actor: Actor,
    settings: Settings,
    clock: Clock,
    request_id: str | None,
) -> JobRun:
    """Run ``name`` for ``actor`` and audit it; re-raises ``JobLocked`` after auditing."""
    get_job_or_raise(name)
    # Release the request's transaction first: on SQLite the authentication step
    # may hold the write lock, which the job's own units of work need.
    db.commit()
    outcome: dict[str, Any]
    try:
        run = run_job(
            name,
            session_factory=request.app.state.session_factory,
            settings=settings,
            clock=clock,
            trigger=RUN_TRIGGER,
        )
        outcome = {"runId": run.id, "status": run.status}
    except JobLocked as exc:
        outcome = {"runId": exc.run_id, "status": "locked", "holder": exc.holder}
        record_audit(
            db,
            actor=actor,
            action="job.run",
            target_type="job",
            target_id=name,
            details=outcome,
            request_id=request_id,
        )
        db.commit()
        raise
    record_audit(
        db,
        actor=actor,
        action="job.run",
        target_type="job",
        target_id=name,
        details=outcome,
        request_id=request_id,
    )
    return run


# --- JSON API ---------------------------------------------------------------------------


@router.get(
    "/api/jobs", response_model=JobList, tags=["jobs"], summary="Registered jobs and last runs"
)
def api_jobs(
    request: Request,
    db: DbSession,
    clock: ClockDep,
    _actor: Annotated[Actor, Depends(require_api("admin"))],
) -> JobList:
    load_job_modules()
    rows = job_overview(db, now=clock.now())
    return JobList(jobs=[_job_read(r) for r in rows], scheduler=_scheduler_state(request))


@router.get(
    "/api/jobs/runs", response_model=JobRunPage, tags=["jobs"], summary="Job runs, newest first"
)
def api_job_runs(
    db: DbSession,
    _actor: Annotated[Actor, Depends(require_api("admin"))],
    job: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> JobRunPage:
    runs, total = list_runs(db, job_name=job or None, limit=limit, offset=offset)
    return JobRunPage(
        runs=[JobRunRead.model_validate(r) for r in runs], total=total, limit=limit, offset=offset
    )


@router.post(
    "/api/jobs/{name}/run",
    response_model=JobRunRead,
    tags=["jobs"],
    summary="Run a job now and wait for it",
    responses={404: {"description": "No such job"}, 409: {"description": "Already running"}},
)
def api_run_job(
    name: str,
    request: Request,
    db: DbSession,
    settings: SettingsDep,
    clock: ClockDep,
    request_id: RequestId,
    actor: Annotated[Actor, Depends(require_api("admin"))],
) -> JobRunRead:
    """The finished run (``status`` succeeded or failed); 409 when the job is running."""
    load_job_modules()
    run = _run_now(
        request, db, name=name, actor=actor, settings=settings, clock=clock, request_id=request_id
    )
    return JobRunRead.model_validate(run)


# --- Page -------------------------------------------------------------------------------


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


@router.get("/jobs", include_in_schema=False)
def jobs_page(
    request: Request,
    db: DbSession,
    clock: ClockDep,
    _actor: Annotated[Actor, Depends(require_user("admin"))],
    job: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 25,
    offset: Annotated[int, Query(ge=0)] = 0,
    run: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    load_job_modules()
    now = clock.now()
    overview = job_overview(db, now=now)
    runs, total = list_runs(db, job_name=job or None, limit=limit, offset=offset)
    flash = db.get(JobRun, run) if run is not None else None
    scheduler = _scheduler_state(request)
    return render(
        request,
        "jobs.html",
        {
            "as_of": now,
            "jobs": overview,
            "runs": runs,
            "total": total,
            "limit": limit,
            "offset": offset,
            "job_filter": job or "",
            "job_names": list(registered_jobs()),
            "pager_base": "?" + (urlencode({"job": job}) + "&" if job else ""),
            "flash": flash,
            "scheduler": scheduler,
            "fmt_duration": fmt_duration,
        },
    )


@router.post("/jobs/{name}/run", include_in_schema=False)
def jobs_page_run(
    name: str,
    request: Request,
    db: DbSession,
    settings: SettingsDep,
    clock: ClockDep,
    request_id: RequestId,
    actor: Annotated[Actor, Depends(require_user("admin"))],
    _csrf: Annotated[None, Depends(require_csrf)],
) -> Response:
    """Run the job, then show the page with its outcome (Post/Redirect/Get)."""
    load_job_modules()
    run_id: int | None
    try:
        run = _run_now(
            request,
            db,
            name=name,
            actor=actor,
            settings=settings,
            clock=clock,
            request_id=request_id,
        )
        run_id = run.id
    except JobLocked as exc:
        run_id = exc.run_id
    target = f"/jobs?run={run_id}" if run_id else "/jobs"
    return RedirectResponse(target, status_code=303)
