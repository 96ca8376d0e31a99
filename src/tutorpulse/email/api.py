"""JSON routes: ``GET /api/email-preview`` and ``GET|POST /api/interventions`` (create_single).

Campaign actions (create_campaign, preview_targeting, segments, stats,
recommendations) belong to the interventions issue; until it lands they answer
400 naming the actions that work.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from tutorpulse.core.audit import Actor, record_audit
from tutorpulse.core.errors import ErrorDetail, Invalid, NotFound
from tutorpulse.email import service
from tutorpulse.email.catalog import template_names
from tutorpulse.email.outbox_schemas import (
    InterventionAction,
    InterventionCreated,
    InterventionPage,
    InterventionRead,
    PreviewRead,
    TemplateList,
    TemplateRead,
)
from tutorpulse.web.auth import require_api
from tutorpulse.web.deps import ClockDep, DbSession, RequestId, SettingsDep

router = APIRouter(prefix="/api", tags=["email"])

Reader = Annotated[Actor, Depends(require_api("read"))]
Writer = Annotated[Actor, Depends(require_api("write"))]

POST_ACTIONS = ("create_single",)
GET_ACTIONS = ("list", "templates")
LATER_ACTIONS = ("create_campaign", "preview_targeting", "segments", "stats", "recommendations")
# Rendered email HTML shown to a browser: no scripts, no forms, no plugins, no
# requests except images; sandboxed into an opaque origin.
PREVIEW_CSP = (
    "sandbox; default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'; "
    "frame-ancestors 'self'"
)


def _unsupported(action: str, supported: tuple[str, ...]) -> Invalid:
    later = action in LATER_ACTIONS
    reason = "is not supported yet" if later else "is not a known action"
    return Invalid(
        f"Action {action!r} {reason}; supported actions: {', '.join(supported)}",
        [ErrorDetail("action", f"must be one of {', '.join(supported)}")],
    )


@router.get(
    "/email-preview",
    summary="Render an email template with sample data",
    responses={
        200: {"content": {"text/html": {}, "text/plain": {}, "application/json": {}}},
        400: {"description": "Unknown template; the body lists availableTemplates"},
    },
)
def email_preview(
    settings: SettingsDep,
    _actor: Reader,
    template: Annotated[
        str, Query(max_length=64, description="Original name or template key.")
    ] = "",
    variant: Annotated[
        str | None, Query(max_length=40, description="Engagement alert issue type.")
    ] = None,
    format: Literal["html", "text", "json"] = "html",
) -> Response:
    try:
        key, rendered = service.preview_email(template, settings=settings, variant=variant)
    except NotFound:
        return JSONResponse(
            {
                "error": f"Unknown template {template!r}" if template else "template is required",
                "details": [{"field": "template", "message": "unknown template"}],
                "availableTemplates": template_names(),
            },
            status_code=400,
        )
    if format == "json":
        body = PreviewRead(
            template=key.key, subject=rendered.subject, html=rendered.html, text=rendered.text
        )
        return JSONResponse(body.model_dump(by_alias=True))
    headers = {"Content-Security-Policy": PREVIEW_CSP, "X-Email-Subject": _ascii(rendered.subject)}
    if format == "text":
        return PlainTextResponse(rendered.text, headers=headers)
    return HTMLResponse(rendered.html, headers=headers)


def _ascii(value: str) -> str:
    return value.encode("ascii", "replace").decode("ascii")


@router.get(
    "/interventions",
    summary="List queued and sent interventions (paged), or the email templates",
    response_model=InterventionPage | TemplateList,
)
def list_interventions(
    db: DbSession,
    _actor: Reader,
    action: Annotated[str, Query(max_length=50)] = "list",
    status: Annotated[str | None, Query(max_length=20)] = None,
    template: Annotated[str | None, Query(max_length=64)] = None,
    tutor_id: Annotated[str | None, Query(alias="tutorId", max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> InterventionPage | TemplateList:
    if action == "templates":
        return TemplateList(templates=[TemplateRead.of(t) for t in service.list_templates()])
    if action != "list":
        raise _unsupported(action, GET_ACTIONS)
    page = service.list_outbox(
        db, status=status, template_key=template, tutor_id=tutor_id, limit=limit, offset=offset
    )
    return InterventionPage(
        interventions=[InterventionRead.of(row, tutor) for row, tutor in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post(
    "/interventions",
    summary="Queue one email intervention for a tutor (action create_single)",
    status_code=201,
    response_model=InterventionCreated,
    responses={
        200: {"description": "Replay: an earlier request with this Idempotency-Key made it"},
        400: {"description": "Unknown action or template, or a variable is missing or invalid"},
        404: {"description": "Unknown tutor"},
        409: {"description": "The Idempotency-Key was used for another message"},
    },
)
def post_interventions(
    body: InterventionAction,
    db: DbSession,
    clock: ClockDep,
    settings: SettingsDep,
    actor: Writer,
    request_id: RequestId,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    if body.action != "create_single":
        raise _unsupported(body.action, POST_ACTIONS)
    if not body.tutor_id:
        raise Invalid.field("tutorId", "is required")
    if not body.template_id:
        raise Invalid.field("templateId", "is required")
    queued = service.queue_email(
        db,
        tutor_id=body.tutor_id,
        template_key=body.template_id,
        variables=body.variables,
        now=clock.now(),
        settings=settings,
        actor=actor,
        idempotency_key=idempotency_key,
    )
    if queued.created:
        record_audit(
            db,
            actor=actor,
            action="intervention.create_single",
            target_type="intervention",
            target_id=str(queued.intervention.id),
            details={"tutorId": queued.tutor_external_id, "template": body.template_id},
            request_id=request_id,
        )
    result = InterventionCreated(
        created=queued.created,
        intervention=InterventionRead.of(queued.intervention, queued.tutor_external_id),
    )
    return JSONResponse(
        result.model_dump(by_alias=True, mode="json"), status_code=201 if queued.created else 200
    )
