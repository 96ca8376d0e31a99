"""HTML pages of tutors: the searchable list and one tutor's page (any logged-in role)."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from tutorpulse.core.audit import Actor
from tutorpulse.tutors import service
from tutorpulse.tutors.api import SortKey
from tutorpulse.web.auth import require_user
from tutorpulse.web.deps import ClockDep, DbSession
from tutorpulse.web.templating import is_htmx, render

router = APIRouter(include_in_schema=False)
Viewer = Annotated[Actor, Depends(require_user())]
PAGE_SIZES = (25, 50, 100)

# (sort key, header, numeric?) in display order.
COLUMNS = (
    ("tutorId", "Tutor", False),
    ("name", "Name", False),
    ("primarySubject", "Primary subject", False),
    ("certificationLevel", "Certification", False),
    ("status", "Status", False),
    ("lastLoginAt", "Last login", False),
    ("sessions7d", "Sessions 7d", True),
    ("sessions30d", "Sessions 30d", True),
    ("avgRating30d", "Avg rating 30d", True),
    ("tutorNoShowRate30d", "No-show rate 30d", True),
    ("churnProbability", "Churn risk", True),
    ("priorityScore", "Alert priority", True),
)


@router.get("/tutors")
def tutors_page(
    request: Request,
    db: DbSession,
    clock: ClockDep,
    _actor: Viewer,
    q: Annotated[str | None, Query(max_length=200)] = None,
    status: Literal["", "active", "paused", "churned"] = "",
    subject: Annotated[str, Query(max_length=64)] = "",
    certification: Literal["", "basic", "advanced", "expert"] = "",
    sort: SortKey = "tutorId",
    order: Literal["asc", "desc"] = "asc",
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> Response:
    page = service.list_tutors(
        db,
        now=clock.now(),
        q=q,
        status=status or None,
        subject=subject or None,
        certification=certification or None,
        sort=sort,
        order=order,
        limit=limit,
        offset=offset,
    )
    filters = {
        "q": q or "",
        "status": status,
        "subject": subject,
        "certification": certification,
        "limit": limit,
    }

    def link(**changes: object) -> str:
        params = {**filters, "sort": sort, "order": order, "offset": offset, **changes}
        return "/tutors?" + urlencode({k: v for k, v in params.items() if v not in ("", None)})

    context = {
        "page": page,
        "filters": filters,
        "choices": service.list_filter_choices(db),
        "columns": COLUMNS,
        "page_sizes": PAGE_SIZES,
        "link": link,
        "as_of": page.as_of,
    }
    template = "tutors/_table.html" if is_htmx(request) else "tutors/list.html"
    return render(request, template, context)


@router.get("/tutors/{tutor_id}")
def tutor_page(
    request: Request,
    db: DbSession,
    clock: ClockDep,
    _actor: Viewer,
    tutor_id: str,
    sessions_offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    events_offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> Response:
    now = clock.now()
    target = request.headers.get("hx-target") if is_htmx(request) else None
    base = f"/tutors/{tutor_id}"
    if target == "sessions":
        sessions = service.list_tutor_sessions(
            db, tutor_id=tutor_id, limit=20, offset=sessions_offset
        )
        return render(
            request,
            "tutors/_sessions.html",
            {"sessions": sessions, "base": base, "events_offset": events_offset},
        )
    if target == "events":
        events = service.list_tutor_events(db, tutor_id=tutor_id, limit=20, offset=events_offset)
        return render(
            request,
            "tutors/_events.html",
            {"events": events, "base": base, "sessions_offset": sessions_offset},
        )
    detail = service.get_tutor_detail(db, tutor_id=tutor_id, now=now)
    context = {
        "detail": detail,
        "sessions": service.list_tutor_sessions(
            db, tutor_id=tutor_id, limit=20, offset=sessions_offset
        ),
        "events": service.list_tutor_events(db, tutor_id=tutor_id, limit=20, offset=events_offset),
        "base": base,
        "sessions_offset": sessions_offset,
        "events_offset": events_offset,
        "as_of": now,
        "rating_chart": {
            "labels": [w.end.strftime("%Y-%m-%d") for w in detail.ratings_by_week],
            "mean": [w.mean for w in detail.ratings_by_week],
            "low": [w.ci_low for w in detail.ratings_by_week],
            "high": [w.ci_high for w in detail.ratings_by_week],
            "n": [w.n for w in detail.ratings_by_week],
        },
    }
    return render(request, "tutors/detail.html", context)
