"""Dashboard pages: deliverability summary and suppression list management.

``/email/deliverability`` and ``/email/suppressions`` are readable by any
logged-in user; adding or removing a suppression needs a coach or admin and the
form's CSRF token, and is audited.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from tutorpulse.core.audit import Actor
from tutorpulse.core.errors import AppError
from tutorpulse.email import deliverability, suppression
from tutorpulse.web.auth import require_csrf, require_user
from tutorpulse.web.deps import ClockDep, DbSession, RequestId
from tutorpulse.web.templating import render

router = APIRouter(include_in_schema=False)
Viewer = Annotated[Actor, Depends(require_user())]
Editor = Annotated[Actor, Depends(require_user("admin", "coach"))]
Csrf = Annotated[None, Depends(require_csrf)]
PAGE_SIZE = 50
ReasonFilter = Literal["", "unsubscribe", "bounce", "complaint", "manual"]


@router.get("/email/deliverability")
def deliverability_page(
    request: Request,
    db: DbSession,
    clock: ClockDep,
    _actor: Viewer,
    days: Annotated[int, Query(ge=1, le=365)] = 30,
) -> Response:
    summary = deliverability.compute_deliverability(db, now=clock.now(), days=days)
    return render(
        request,
        "email/deliverability.html",
        {
            "s": summary,
            "windows": deliverability.WINDOWS,
            "as_of": summary.end,
            "suppressed_by_reason": suppression.count_by_reason(db),
        },
    )


def _suppressions_context(
    db: DbSession, *, q: str, reason: str, offset: int, actor: Actor
) -> dict[str, object]:
    page = suppression.list_suppressions(
        db, q=q or None, reason=reason or None, limit=PAGE_SIZE, offset=offset
    )
    filters = {k: v for k, v in {"q": q, "reason": reason}.items() if v}
    return {
        "page": page,
        "total": page.total,
        "limit": PAGE_SIZE,
        "offset": offset,
        "q": q,
        "reason": reason,
        "reasons": suppression.REASONS,
        "can_edit": actor.role in ("admin", "coach"),
        "pager_base": "/email/suppressions?" + (urlencode(filters) + "&" if filters else ""),
        "form": {"email": "", "note": ""},
        "form_error": None,
        "flash": None,
    }


@router.get("/email/suppressions")
def suppressions_page(
    request: Request,
    db: DbSession,
    actor: Viewer,
    q: Annotated[str, Query(max_length=200)] = "",
    reason: ReasonFilter = "",
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    done: Annotated[str, Query(max_length=20)] = "",
    email: Annotated[str, Query(max_length=320)] = "",
) -> Response:
    context = _suppressions_context(db, q=q, reason=reason, offset=offset, actor=actor)
    if done == "added" and email:
        context["flash"] = f"{email} is suppressed: no email will be sent to it."
    elif done == "removed" and email:
        context["flash"] = f"{email} was removed from the suppression list."
    elif done == "exists" and email:
        context["flash"] = f"{email} was already on the suppression list."
    return render(request, "email/suppressions.html", context)


@router.post("/email/suppressions")
def suppressions_add(
    request: Request,
    db: DbSession,
    clock: ClockDep,
    actor: Editor,
    _csrf: Csrf,
    request_id: RequestId,
    email: Annotated[str, Form(max_length=320)] = "",
    note: Annotated[str, Form(max_length=suppression.MAX_NOTE_LENGTH)] = "",
) -> Response:
    try:
        row, created = suppression.add_suppression(
            db,
            email=email,
            reason="manual",
            note=note.strip() or None,
            source="dashboard",
            now=clock.now(),
            actor=actor,
            request_id=request_id,
        )
    except AppError as exc:
        context = _suppressions_context(db, q="", reason="", offset=0, actor=actor)
        context["form"] = {"email": email, "note": note}
        context["form_error"] = exc.details[0].message if exc.details else exc.message
        return render(request, "email/suppressions.html", context, status_code=exc.status)
    query = urlencode({"done": "added" if created else "exists", "email": row.email})
    return RedirectResponse(f"/email/suppressions?{query}", status_code=303)


@router.post("/email/suppressions/remove")
def suppressions_remove(
    db: DbSession,
    actor: Editor,
    _csrf: Csrf,
    request_id: RequestId,
    email: Annotated[str, Form(min_length=3, max_length=320)],
) -> Response:
    row = suppression.remove_suppression(db, email=email, actor=actor, request_id=request_id)
    query = urlencode({"done": "removed", "email": row.email})
    return RedirectResponse(f"/email/suppressions?{query}", status_code=303)
