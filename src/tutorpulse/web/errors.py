"""One error format for the API and readable error pages for the dashboard.

``/api/*`` (and ``/metrics``) answer ``{"error": message, "details": [{field, message}]}``
with the right 4xx; every other path gets an HTML error page (or, for an HTMX
request, an error fragment). Bad input is never a 500, and no page shows a
stack trace.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from tutorpulse.core.errors import AppError
from tutorpulse.web.auth import LoginRequired, login_url
from tutorpulse.web.templating import is_htmx, render

log = logging.getLogger("tutorpulse.http")

_LOC_SOURCES = ("body", "query", "path", "header", "cookie")


def is_api_path(path: str) -> bool:
    return path == "/api" or path.startswith("/api/") or path == "/metrics"


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in _LOC_SOURCES]
    return ".".join(parts) or str(loc[-1] if loc else "request")


def _message(err: dict[str, Any]) -> str:
    msg = str(err.get("msg", "invalid value"))
    if err.get("type") == "missing":
        return "is required"
    return msg


def validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {"field": _field_name(tuple(err.get("loc", ()))), "message": _message(err)}
        for err in exc.errors()
    ]


def _page(
    request: Request,
    status: int,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    template = "_error_fragment.html" if is_htmx(request) else "error.html"
    return render(
        request,
        template,
        {"status": status, "title": title, "message": message, "details": details or []},
        status_code=status,
        headers=headers,
    )


def _api_error(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> JSONResponse:
    if status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": 'Bearer realm="tutorpulse"'}
    return JSONResponse(body, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        target = login_url(exc.next_path)
        if is_htmx(request):
            # A redirect would be followed by the XHR and swapped into the page.
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> Response:
        if is_api_path(request.url.path):
            return _api_error(exc.status, exc.as_dict())
        details = [d.as_dict() for d in exc.details]
        return _page(request, exc.status, exc.message, details)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        details = validation_details(exc)
        summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
        if is_api_path(request.url.path):
            return _api_error(400, {"error": f"Invalid request — {summary}", "details": details})
        return _page(request, 400, "Some of the request's values are not valid.", details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        headers = getattr(exc, "headers", None)
        if is_api_path(request.url.path):
            return _api_error(exc.status_code, {"error": str(exc.detail), "details": []}, headers)
        message = "There is no page at this address." if exc.status_code == 404 else str(exc.detail)
        return _page(request, exc.status_code, message, headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        if is_api_path(request.url.path):
            return _api_error(500, {"error": "Internal server error", "details": []})
        try:
            return _page(request, 500, "Something went wrong on our side. It has been logged.")
        except Exception:  # the error page itself failed: fall back to plain text
            return Response("Internal server error", status_code=500, media_type="text/plain")
