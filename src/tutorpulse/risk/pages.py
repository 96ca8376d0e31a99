"""Risk pages: at-risk tutors, upcoming sessions at risk, and the models page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from tutorpulse.core.audit import Actor
from tutorpulse.risk import service
from tutorpulse.web.auth import require_user
from tutorpulse.web.deps import ClockDep, DbSession
from tutorpulse.web.templating import render

router = APIRouter(include_in_schema=False)
Viewer = Annotated[Actor, Depends(require_user())]
PAGE = 50


@router.get("/risk")
def risk_page(
    request: Request,
    db: DbSession,
    clock: ClockDep,
    _actor: Viewer,
    level: Annotated[str, Query(max_length=10)] = "",
    subject: Annotated[str, Query(max_length=64)] = "",
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> Response:
    page = service.list_tutor_risks(
        db, limit=PAGE, offset=offset, level=level or None, subject=subject or None
    )
    context = {"page": page, "level": level, "subject": subject, "as_of": clock.now()}
    return render(request, "risk/tutors.html", context)


@router.get("/risk/sessions")
def risk_sessions_page(
    request: Request,
    db: DbSession,
    clock: ClockDep,
    _actor: Viewer,
    days_ahead: Annotated[int, Query(alias="daysAhead", ge=1, le=60)] = 7,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> Response:
    page = service.list_session_risks(
        db, now=clock.now(), days_ahead=days_ahead, limit=PAGE, offset=offset
    )
    context = {"page": page, "as_of": clock.now()}
    return render(request, "risk/sessions.html", context)


@router.get("/models")
def models_page(request: Request, db: DbSession, clock: ClockDep, _actor: Viewer) -> Response:
    models = service.list_models(db)
    active = [m for m in models if m.is_active]
    return render(
        request, "risk/models.html", {"models": models, "active": active, "as_of": clock.now()}
    )
