"""Dashboard pages shared across domains: the overview and the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from tutorpulse.core.audit import Actor, list_audit
from tutorpulse.tutors import service as tutors_service
from tutorpulse.web.auth import require_user
from tutorpulse.web.deps import ClockDep, DbSession
from tutorpulse.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/")
def overview_page(
    request: Request,
    db: DbSession,
    clock: ClockDep,
    _actor: Annotated[Actor, Depends(require_user())],
) -> Response:
    overview = tutors_service.get_overview(db, now=clock.now())
    return render(request, "overview.html", {"overview": overview, "as_of": overview.as_of})


@router.get("/audit")
def audit_page(
    request: Request,
    db: DbSession,
    clock: ClockDep,
    _actor: Annotated[Actor, Depends(require_user("admin"))],
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> Response:
    rows, total = list_audit(db, limit=limit, offset=offset)
    return render(
        request,
        "audit.html",
        {"entries": rows, "total": total, "limit": limit, "offset": offset, "as_of": clock.now()},
    )
