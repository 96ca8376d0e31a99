"""Operations endpoints: health, Prometheus metrics, API docs (served from vendored assets)."""

from __future__ import annotations

import hmac
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import text

from tutorpulse.core import auth, migrate
from tutorpulse.core.errors import Forbidden, Unauthorized
from tutorpulse.core.observability import render_metrics
from tutorpulse.web.deps import ClockDep, DbSession, SettingsDep

log = logging.getLogger("tutorpulse.ops")
router = APIRouter()


_SCHEDULER_STATES = {0: "stopped", 1: "running", 2: "paused"}  # APScheduler 3 numbering


def _scheduler_state(request: Request) -> dict[str, Any] | None:
    """The embedded scheduler's ``state``: its own JSON-ready dict, or a plain state name."""
    scheduler = getattr(request.app.state, "scheduler", None)
    if scheduler is None:
        return None
    state = getattr(scheduler, "state", None)
    if isinstance(state, dict):
        return state
    if isinstance(state, int) and not isinstance(state, bool):
        return {"state": _SCHEDULER_STATES.get(state, str(state))}
    return {"state": str(state)}


@router.get("/api/health", tags=["operations"], summary="Liveness and readiness (public)")
def health(request: Request, clock: ClockDep) -> JSONResponse:
    """200 when the database answers and its schema is at the code's migration head, else 503.

    Public on purpose (load balancers); it reveals no data, only states.
    """
    engine = request.app.state.engine
    database: dict[str, Any] = {"ok": False}
    migrations: dict[str, Any] = {"current": False}
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        database = {"ok": True, "backend": engine.dialect.name}
        revision = migrate.current_revision(engine)
        head = migrate.head_revision()
        migrations = {"current": revision == head, "revision": revision, "head": head}
    except Exception as exc:  # reported, not raised: health must answer
        log.warning("health check: database unreachable: %s", exc.__class__.__name__)
        database = {"ok": False, "error": exc.__class__.__name__}
    ok = database["ok"] and migrations["current"]
    body = {
        "status": "ok" if ok else "unavailable",
        "database": database,
        "migrations": migrations,
        "scheduler": _scheduler_state(request),
        "time": clock.now().isoformat(),
    }
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get("/metrics", tags=["operations"], include_in_schema=False)
def metrics(request: Request, db: DbSession, settings: SettingsDep, clock: ClockDep) -> Response:
    """Prometheus exposition. With ``metrics_token`` set, that bearer token is required;
    otherwise an API key with the admin scope."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("Authentication required: send 'Authorization: Bearer <token>'")
    expected = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    if expected is not None:
        if not hmac.compare_digest(token.encode(), expected.encode()):
            raise Unauthorized("Invalid metrics token")
    else:
        key = auth.authenticate_api_key(db, token=token, now=clock.now())
        if key is None:
            raise Unauthorized("Invalid or revoked API key")
        if "admin" not in key.scopes:
            raise Forbidden("Metrics need an API key with the 'admin' scope")
    payload, content_type = render_metrics()
    return Response(payload, media_type=content_type)


@router.get("/api/docs", include_in_schema=False)
def api_docs() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/api/openapi.json",
        title="TutorPulse API",
        swagger_js_url="/static/vendor/swagger-ui-bundle.js",
        swagger_css_url="/static/vendor/swagger-ui.css",
        swagger_favicon_url="/static/favicon.svg",
    )
