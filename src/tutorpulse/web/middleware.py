"""Per-request context: request id, access log line, latency metric, security headers."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tutorpulse.core.logging import request_id_var
from tutorpulse.core.observability import observe_request

log = logging.getLogger("tutorpulse.access")

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

# Dashboard pages load only our own scripts and styles (no inline script, no CDN).
# Swagger UI (/api/docs) starts itself with an inline script, so it gets its own policy.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)


def route_template(scope: Scope) -> str:
    """The matched route's path template (bounded label set), or 'unmatched'."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"


class RequestContextMiddleware:
    """Pure ASGI middleware (no response buffering, works with streaming)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        request_id = incoming if incoming and _VALID_REQUEST_ID.match(incoming) else None
        request_id = request_id or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        path: str = scope.get("path", "")

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID_HEADER] = request_id
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                headers.setdefault("X-Frame-Options", "DENY")
                if headers.get("content-type", "").startswith("text/html"):
                    csp = DOCS_CSP if path == "/api/docs" else PAGE_CSP
                    headers.setdefault("Content-Security-Policy", csp)
            await send(message)

        try:
            bad_field = _nul_field(scope)
            if bad_field is not None:
                await _reject_nul(scope, bad_field)(scope, receive, send_wrapper)
            else:
                await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = route_template(scope)
            method = str(scope.get("method", ""))
            observe_request(method=method, route=route, status=status, seconds=elapsed)
            actor = scope.get("state", {}).get("actor")
            log.info(
                "%s %s %s %.1fms",
                method,
                path,
                status,
                elapsed * 1000,
                extra={
                    "method": method,
                    "path": path,
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "actor": getattr(actor, "label", None),
                },
            )
            request_id_var.reset(token)


def _nul_field(scope: Scope) -> str | None:
    """The name of a path or query value holding a NUL character (no database stores one)."""
    if "\x00" in scope.get("path", ""):
        return "path"
    query = scope.get("query_string", b"")
    if b"%00" not in query and b"\x00" not in query:
        return None
    for key, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if "\x00" in key or "\x00" in value:
            return key.replace("\x00", "") or "query"
    return None


def _reject_nul(scope: Scope, field: str) -> Response:
    message = "must not contain NUL characters"
    path = str(scope.get("path", ""))
    if path.startswith("/api/") or path == "/metrics":
        return JSONResponse(
            {"error": f"{field}: {message}", "details": [{"field": field, "message": message}]},
            status_code=400,
        )
    from tutorpulse.web.templating import render  # the layout needs the app's templates

    return render(
        Request(scope),
        "error.html",
        {
            "status": 400,
            "title": "Bad Request",
            "message": "Some of the request's values are not valid.",
            "details": [{"field": field, "message": message}],
        },
        status_code=400,
    )


def _header(scope: Scope, name: bytes) -> str | None:
    raw: Any
    for key, raw in scope.get("headers", []):
        if key == name:
            return str(raw.decode("latin-1"))
    return None
