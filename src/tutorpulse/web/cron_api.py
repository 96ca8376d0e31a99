"""Cron triggers: ``GET|POST /api/cron/{job}`` with ``Authorization: Bearer $CRON_SECRET``.

``{job}`` is a registered job name (``core.prune``) or one of the original
platform's paths (``generate-alerts``, ``send-emails``, ``discover-patterns``).
Without a configured ``CRON_SECRET`` every call is refused with 503: the
endpoints are never open.
"""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from tutorpulse.core.clock import Clock
from tutorpulse.core.errors import NotFound
from tutorpulse.core.jobs import JobLocked, get_job, load_job_modules, run_job
from tutorpulse.core.models import JobRun
from tutorpulse.core.settings import Settings
from tutorpulse.web.deps import get_clock, get_settings

router = APIRouter(prefix="/api/cron", tags=["cron"])

# The original platform's cron paths and the jobs that now do their work.
CRON_ALIASES = {
    "generate-alerts": "alerts.generate",
    "send-emails": "email.send_pending",
    "discover-patterns": "insights.discover",
}
# The original send-emails answered with ``results``; the others with ``result``.
RESULTS_KEY_JOBS = {"email.send_pending"}


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    body = {"success": False, "error": message, "details": [], **extra}
    return JSONResponse(body, status_code=status, headers=headers)


def _authorization_error(request: Request, settings: Settings) -> JSONResponse | None:
    secret = settings.cron_secret.get_secret_value() if settings.cron_secret else ""
    if not secret:
        return _error(
            503,
            "Cron triggers are disabled: CRON_SECRET is not configured on the server",
        )
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _error(401, "Missing 'Authorization: Bearer <CRON_SECRET>' header")
    if not hmac.compare_digest(token.strip().encode(), secret.encode()):
        return _error(401, "Invalid cron secret")
    return None


def resolve_job_name(path_name: str) -> str:
    """The registered job behind ``path_name``; raises ``NotFound`` (→ 404)."""
    name = CRON_ALIASES.get(path_name, path_name)
    if get_job(name) is None:
        if path_name in CRON_ALIASES:
            raise NotFound(f"Job {name} (behind /api/cron/{path_name}) is not available yet")
        raise NotFound(f"No job named {path_name!r}")
    return name


def _body(run: JobRun, *, success: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "success": success,
        "job": run.job_name,
        "runId": run.id,
        "status": run.status,
        "result": run.counts,
        "duration": round((run.duration_seconds or 0) * 1000),
        "timestamp": (run.finished_at or run.started_at).isoformat(),
    }
    if run.job_name in RESULTS_KEY_JOBS:
        body["results"] = run.counts
    return body


_CRON_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or wrong bearer secret"},
    404: {"description": "No such job"},
    409: {"description": "The job is already running"},
    500: {"description": "The job ran and failed"},
    503: {"description": "CRON_SECRET is not configured"},
}


@router.get(
    "/{job}",
    summary="Run a job now (cron trigger, GET as the original's Vercel cron used)",
    operation_id="run_cron_job_get",
    responses=_CRON_RESPONSES,
)
@router.post(
    "/{job}",
    summary="Run a job now (cron trigger)",
    operation_id="run_cron_job",
    responses=_CRON_RESPONSES,
)
def trigger_job(
    job: str,
    request: Request,
    settings: Settings = Depends(get_settings),
    clock: Clock = Depends(get_clock),
) -> JSONResponse:
    """Run ``job`` and answer ``{success, result{counts}, duration (ms), timestamp}``."""
    denied = _authorization_error(request, settings)
    if denied is not None:
        return denied
    load_job_modules()
    name = resolve_job_name(job)
    try:
        run = run_job(
            name,
            session_factory=request.app.state.session_factory,
            settings=settings,
            clock=clock,
            trigger="cron",
        )
    except JobLocked as exc:
        return _error(
            409,
            exc.message,
            job=name,
            runId=exc.run_id,
            holder=exc.holder,
            timestamp=clock.now().isoformat(),
        )
    if run.status != "succeeded":
        body = _body(run, success=False)
        body["error"] = f"Job {name} failed (run {run.id}); its error is in the job history"
        body["details"] = []
        return JSONResponse(body, status_code=500)
    return JSONResponse(_body(run, success=True))
