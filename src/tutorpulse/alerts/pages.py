"""Alerts inbox (/alerts, any logged-in user; changes need coach or admin) and the rules
page (/alerts/rules, admins). Forms post with the CSRF token and redirect back (PRG)."""

from __future__ import annotations

import contextlib
import threading
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from tutorpulse.alerts import service
from tutorpulse.alerts.rules import CATEGORIES
from tutorpulse.core.audit import Actor, record_audit
from tutorpulse.core.errors import Conflict, Invalid
from tutorpulse.core.jobs import JobLocked, get_job_or_raise, load_job_modules, run_job
from tutorpulse.web.auth import require_csrf, require_user
from tutorpulse.web.deps import ClockDep, DbSession, RequestId
from tutorpulse.web.templating import render

router = APIRouter(include_in_schema=False)
Viewer = Annotated[Actor, Depends(require_user())]
Coach = Annotated[Actor, Depends(require_user("admin", "coach"))]
AdminUser = Annotated[Actor, Depends(require_user("admin"))]
Csrf = Annotated[None, Depends(require_csrf)]
SEVERITIES = ("critical", "high", "medium", "low")
STATES = ("open", "acknowledged", "snoozed", "resolved")
PAGE = 50


@router.get("/alerts")
def alerts_page(
    request: Request,
    db: DbSession,
    clock: ClockDep,
    _actor: Viewer,
    state: Literal["", "open", "acknowledged", "snoozed", "resolved"] = "",
    severity: Literal["", "critical", "high", "medium", "low"] = "",
    category: Literal["", "churn", "engagement", "quality", "reliability", "technical"] = "",
    rule: Annotated[str, Query(max_length=64)] = "",
    assignee: Annotated[int | None, Query(ge=1)] = None,
    subject: Annotated[str, Query(max_length=64)] = "",
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    now = clock.now()
    page = service.list_alerts(
        db,
        now=now,
        limit=PAGE,
        offset=offset,
        state=state or None,
        severity=severity or None,
        category=category or None,
        rule=rule or None,
        assigned_to_id=assignee,
        subject=subject or None,
    )
    filters = {
        "state": state,
        "severity": severity,
        "category": category,
        "rule": rule,
        "assignee": assignee or "",
        "subject": subject,
    }

    def link(**changes: object) -> str:
        params = {**filters, "offset": offset, **changes}
        return "/alerts?" + urlencode({k: v for k, v in params.items() if v not in ("", None, 0)})

    return render(
        request,
        "alerts/list.html",
        {
            "page": page,
            "filters": filters,
            "link": link,
            "offset": offset,
            "page_size": PAGE,
            "counts": service.severity_counts(db),
            "severities": SEVERITIES,
            "states": STATES,
            "categories": CATEGORIES,
            "rules": [r.key for r in service.list_rules(db)],
            "assignees": service.list_assignees(db),
            "as_of": now,
            "back": str(request.url.path) + ("?" + request.url.query if request.url.query else ""),
        },
    )


@router.get("/alerts/counts")
def alert_counts(request: Request, db: DbSession, _actor: Viewer) -> Response:
    """The unresolved counts by severity (polled by the inbox every 30 s)."""
    return render(
        request,
        "alerts/_counts.html",
        {"counts": service.severity_counts(db), "severities": SEVERITIES},
    )


@router.get("/alerts/rules")
def rules_page(
    request: Request, db: DbSession, clock: ClockDep, _actor: AdminUser, preview: bool = True
) -> Response:
    now = clock.now()
    settings = request.app.state.settings
    counts = service.preview_rules(db, now=now, settings=settings) if preview else {}
    rules = [service.rule_read(r, counts.get(r.key)) for r in service.list_rules(db)]
    start, end = service.backtest_window(now, settings)
    return render(
        request,
        "alerts/rules.html",
        {
            "rules": rules,
            "as_of": now,
            "backtest": service.last_backtest(db),
            "backtest_window": (start, end),
            "backtest_step": settings.alerts_backtest_step_days,
        },
    )


@router.post("/alerts/rules/backtest")
def rules_backtest(
    request: Request,
    db: DbSession,
    clock: ClockDep,
    actor: AdminUser,
    request_id: RequestId,
    _csrf: Csrf,
) -> Response:
    """Start the ``alerts.backtest`` job in the background (it can take minutes on a large
    world) and go back to the rules page, which shows the run's state and last report."""
    session_factory = request.app.state.session_factory
    settings = request.app.state.settings
    load_job_modules()  # the web process registers jobs on first use
    get_job_or_raise(service.BACKTEST_JOB)

    def run() -> None:
        # A locked job is recorded as a "locked" run, which the page shows.
        with contextlib.suppress(JobLocked):
            run_job(service.BACKTEST_JOB, session_factory=session_factory, settings=settings,
                    clock=clock, trigger="page")  # fmt: skip

    record_audit(
        db,
        actor=actor,
        action="job.run",
        target_type="job",
        target_id=service.BACKTEST_JOB,
        details={"status": "started"},
        request_id=request_id,
    )
    # Commit first: on SQLite the job's own units of work need the write lock.
    db.commit()
    threading.Thread(target=run, name="alerts-backtest", daemon=True).start()
    return RedirectResponse("/alerts/rules#backtest", status_code=303)


def _number(form: Any, name: str, cast: type) -> Any:
    raw = form.get(name)
    if raw is None or str(raw).strip() == "":
        return None
    try:
        return cast(str(raw))
    except ValueError:
        raise Invalid.field(name, "must be a number") from None


@router.post("/alerts/rules/{key}")
async def rules_update(
    key: str, request: Request, db: DbSession, clock: ClockDep, actor: AdminUser, _csrf: Csrf
) -> Response:
    form = await request.form()
    changes: dict[str, Any] = {"enabled": form.get("enabled") == "on"}
    for name, cast in (
        ("threshold", float),
        ("resolve_threshold", float),
        ("base_priority", int),
        ("cooldown_hours", int),
        ("resolve_after_hours", int),
    ):
        value = _number(form, name, cast)
        if value is not None:
            changes[name] = value
    service.update_rule(db, key=key, changes=changes, actor=actor, now=clock.now())
    return RedirectResponse("/alerts/rules", status_code=303)


@router.get("/alerts/{alert_id}")
def alert_page(
    request: Request, alert_id: int, db: DbSession, clock: ClockDep, _actor: Viewer
) -> Response:
    now = clock.now()
    detail = service.get_alert_detail(db, alert_id=alert_id, now=now)
    return render(
        request,
        "alerts/detail.html",
        {"alert": detail, "assignees": service.list_assignees(db), "as_of": now},
    )


def _back(value: Any, default: str) -> str:
    text = str(value or "")
    return text if text.startswith("/alerts") and not text.startswith("//") else default


@router.post("/alerts/{alert_id}/action")
async def alert_action(
    request: Request,
    alert_id: int,
    db: DbSession,
    clock: ClockDep,
    actor: Coach,
    request_id: RequestId,
    _csrf: Csrf,
) -> Response:
    form = await request.form()
    action = str(form.get("action") or "")
    until = None
    if action == "snooze":
        raw = str(form.get("snooze_until") or "")
        try:
            until = datetime.fromisoformat(raw)
        except ValueError:
            raise Invalid.field("snoozeUntil", "must be a date and time") from None
        until = until if until.tzinfo else until.replace(tzinfo=UTC)
    service.transition(
        db,
        alert_id=alert_id,
        action=action,
        actor=actor,
        now=clock.now(),
        note=str(form.get("note") or "") or None,
        snooze_until=until,
        assignee_id=_number(form, "assignee_id", int),
        request_id=request_id,
    )
    return RedirectResponse(_back(form.get("back"), f"/alerts/{alert_id}"), status_code=303)


@router.post("/alerts/bulk")
async def alerts_bulk(
    request: Request,
    db: DbSession,
    clock: ClockDep,
    actor: Coach,
    request_id: RequestId,
    _csrf: Csrf,
) -> Response:
    form = await request.form()
    action = str(form.get("action") or "")
    if action not in ("acknowledge", "assign"):
        raise Invalid.field("action", "bulk actions are acknowledge and assign")
    ids = [int(str(v)) for v in form.getlist("alert_id") if str(v).isdigit()]
    if not ids:
        raise Invalid.field("alert_id", "select at least one alert")
    assignee = _number(form, "assignee_id", int)
    for alert_id in ids:
        try:
            service.transition(
                db,
                alert_id=alert_id,
                action=action,
                actor=actor,
                now=clock.now(),
                assignee_id=assignee,
                request_id=request_id,
            )
        except Conflict:  # already acknowledged or resolved: nothing to do for this one
            continue
    return RedirectResponse(_back(form.get("back"), "/alerts"), status_code=303)
