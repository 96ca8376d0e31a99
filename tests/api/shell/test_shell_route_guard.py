"""Every route of the app is guarded unless it is on the explicit public list."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from starlette.routing import Mount

from tutorpulse.core.settings import Settings
from tutorpulse.web.introspect import iter_routes

# (method, path template) that answer without credentials, and why.
PUBLIC = {
    ("GET", "/api/health"),  # load balancers
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/api/openapi.json"),
    ("GET", "/api/docs"),
    # Email tracking and compliance: the signed token is the credential (email/api_tracking.py).
    ("GET", "/t/o/{token}.gif"),  # open pixel
    ("GET", "/t/c/{token}"),  # click redirect
    ("GET", "/u/{token}"),  # unsubscribe confirmation page
    ("POST", "/u/{token}"),  # RFC 8058 one-click unsubscribe (no cookies, no CSRF)
    # Provider webhooks verify the provider's signature (email/api_webhooks.py).
    ("POST", "/api/webhooks/resend"),
    ("POST", "/api/webhooks/sendgrid"),
}
# Mounted static files are public too (checked below).
PUBLIC_MOUNTS = {"/static"}


def _fill(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "T0001", path)


def test_every_route_answers_401_or_login_redirect_without_credentials(
    app_factory: Callable[..., FastAPI], settings: Settings
) -> None:
    # With a cron secret configured, the cron triggers answer 401 without it (they
    # answer 503 when no secret is configured at all).
    configured = settings.model_copy(update={"cron_secret": SecretStr("cron-secret-for-test")})
    app = app_factory(configured)
    client = TestClient(app, follow_redirects=False)
    checked = []
    for route in iter_routes(app):
        if isinstance(route.original_route, Mount):
            assert route.path in PUBLIC_MOUNTS, f"unexpected mount {route.path}"
            continue
        for method in sorted((route.methods or set()) - {"HEAD"}):
            if (method, route.path) in PUBLIC:
                continue
            response = client.request(method, _fill(route.path))
            where = f"{method} {route.path}"
            if route.path.startswith("/api/") or route.path == "/metrics":
                assert response.status_code == 401, f"{where} answered {response.status_code}"
                assert "error" in response.json(), where
            else:
                assert response.status_code == 303, f"{where} answered {response.status_code}"
                assert response.headers["location"].startswith("/login?next="), where
            checked.append(where)
    # The walk really covered the app (API, pages and the jobs' cron triggers).
    assert {
        "GET /api/dashboard/metrics",
        "GET /api/dashboard/tutors",
        "GET /",
        "GET /tutors",
        "POST /logout",
        "GET /metrics",
    } <= set(checked)
    assert len(checked) >= 15


def test_public_routes_answer_without_credentials(client: TestClient) -> None:
    assert client.get("/api/health").status_code == 200
    assert client.get("/login").status_code == 200
    assert client.get("/api/openapi.json").status_code == 200
    assert client.get("/api/docs").status_code == 200
    assert client.get("/static/app.css").status_code == 200
