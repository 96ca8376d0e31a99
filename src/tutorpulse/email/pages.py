"""Dashboard pages: the outbox (mailbox) with each message's timeline, and template previews.

Message HTML is never inlined into a dashboard page: it is served by its own
route with a strict Content-Security-Policy (``sandbox``, no scripts, no
network except inline images) and shown in a sandboxed ``<iframe>``.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from tutorpulse.core.audit import Actor
from tutorpulse.core.errors import NotFound
from tutorpulse.email import service
from tutorpulse.email.catalog import ENGAGEMENT_ISSUES, TEMPLATES, VARIABLES
from tutorpulse.interventions.models import INTERVENTION_STATUSES
from tutorpulse.web.auth import require_user
from tutorpulse.web.deps import ClockDep, DbSession, SettingsDep
from tutorpulse.web.templating import render

router = APIRouter(include_in_schema=False)
Viewer = Annotated[Actor, Depends(require_user())]
PAGE_SIZES = (25, 50, 100)
FRAME_CSP = (
    "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'self'"
)
FRAME_HEADERS = {"Content-Security-Policy": FRAME_CSP, "X-Frame-Options": "SAMEORIGIN"}

StatusFilter = Literal[
    "",
    "pending",
    "sending",
    "sent",
    "delivered",
    "opened",
    "clicked",
    "responded",
    "failed",
    "suppressed",
    "cancelled",
]
assert set(get_args(StatusFilter)) - {""} == set(INTERVENTION_STATUSES)


@router.get("/email/outbox")
def outbox_page(
    request: Request,
    db: DbSession,
    clock: ClockDep,
    _actor: Viewer,
    status: StatusFilter = "",
    template: Annotated[str, Query(max_length=64)] = "",
    tutor: Annotated[str, Query(max_length=64)] = "",
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> Response:
    template = template if template in TEMPLATES else ""
    error = None
    try:
        page = service.list_outbox(
            db,
            status=status or None,
            template_key=template or None,
            tutor_id=tutor or None,
            limit=limit,
            offset=offset,
        )
    except NotFound as exc:
        error = exc.message
        page = service.list_outbox(db, status=status or None, limit=limit, offset=offset)
    filters = {"status": status, "template": template, "tutor": tutor, "limit": limit}

    def link(**changes: object) -> str:
        params = {**filters, "offset": offset, **changes}
        return "/email/outbox?" + urlencode(
            {k: v for k, v in params.items() if v not in ("", None)}
        )

    return render(
        request,
        "email/outbox.html",
        {
            "page": page,
            "filters": filters,
            "statuses": INTERVENTION_STATUSES,
            "templates": TEMPLATES,
            "counts": service.outbox_status_counts(db),
            "page_sizes": PAGE_SIZES,
            "link": link,
            "error": error,
            "as_of": clock.now(),
        },
    )


@router.get("/email/outbox/{intervention_id}")
def message_page(
    request: Request, db: DbSession, clock: ClockDep, _actor: Viewer, intervention_id: int
) -> Response:
    message, tutor, events = service.get_message_or_raise(db, intervention_id=intervention_id)
    return render(
        request,
        "email/message.html",
        {"m": message, "tutor": tutor, "events": events, "as_of": clock.now()},
    )


@router.get("/email/outbox/{intervention_id}/html")
def message_html(db: DbSession, _actor: Viewer, intervention_id: int) -> Response:
    """The stored HTML part, for the sandboxed frame of the message page."""
    message, _tutor, _events = service.get_message_or_raise(db, intervention_id=intervention_id)
    if not message.content_html:
        raise NotFound(f"Message {intervention_id} has no HTML part")
    return HTMLResponse(message.content_html, headers=FRAME_HEADERS)


@router.get("/email/templates")
def templates_page(request: Request, _actor: Viewer) -> Response:
    return render(
        request,
        "email/templates.html",
        {"templates": list(TEMPLATES.values()), "variables": VARIABLES},
    )


@router.get("/email/templates/{key}")
def template_preview_page(
    request: Request,
    settings: SettingsDep,
    _actor: Viewer,
    key: str,
    variant: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    template, rendered = service.preview_email(key, settings=settings, variant=variant or None)
    return render(
        request,
        "email/preview.html",
        {
            "t": template,
            "rendered": rendered,
            "variant": variant,
            "variants": ENGAGEMENT_ISSUES if template.key == "engagement_alert" else (),
            "variables": VARIABLES,
        },
    )


@router.get("/email/templates/{key}/html")
def template_preview_html(
    settings: SettingsDep,
    _actor: Viewer,
    key: str,
    variant: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    _template, rendered = service.preview_email(key, settings=settings, variant=variant or None)
    return HTMLResponse(rendered.html, headers=FRAME_HEADERS)
