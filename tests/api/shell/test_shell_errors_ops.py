"""Error format, HTML error pages, request ids, security headers, health, metrics, docs, lifespan."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from bs4 import BeautifulSoup
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine

from tutorpulse.app import create_app
from tutorpulse.core import migrate
from tutorpulse.core.clock import FrozenClock
from tutorpulse.core.settings import Settings


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _boom() -> None:
    raise RuntimeError("secret internals")


def test_unknown_api_path_is_json_404_and_unknown_page_is_html_404(
    client: TestClient, viewer: Any
) -> None:
    api = client.get("/api/nothing-here")
    assert api.status_code == 404
    assert api.json() == {"error": "Not Found", "details": []}
    page = viewer.client.get("/no-such-page")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    box = BeautifulSoup(page.text, "html.parser").find(class_="error-box")
    assert box["data-status"] == "404"
    assert box.find("a", href="/") is not None  # a way back


def test_page_validation_error_is_an_html_400_naming_the_field(viewer: Any) -> None:
    response = viewer.client.get("/tutors", params={"limit": "lots"})
    assert response.status_code == 400
    soup = BeautifulSoup(response.text, "html.parser")
    fields = [li.find("strong").get_text() for li in soup.select(".error-details li")]
    assert fields == ["limit"]


def test_htmx_errors_render_a_fragment_not_a_page(viewer: Any) -> None:
    response = viewer.client.get("/tutors", params={"limit": "0"}, headers={"HX-Request": "true"})
    assert response.status_code == 400
    soup = BeautifulSoup(response.text, "html.parser")
    assert soup.find("html") is None
    assert soup.find(class_="error-box")["data-status"] == "400"


def test_unexpected_errors_are_500_without_internals(
    app: FastAPI, viewer: Any, api_key: Callable[..., str]
) -> None:
    app.add_api_route("/api/boom", _boom)
    app.add_api_route("/boom", _boom)
    c = TestClient(app, raise_server_exceptions=False)
    api = c.get("/api/boom", headers=bearer(api_key("read")))
    assert api.status_code == 500
    assert api.json() == {"error": "Internal server error", "details": []}
    c.cookies = viewer.client.cookies
    page = c.get("/boom")
    assert page.status_code == 500
    assert page.headers["content-type"].startswith("text/html")
    assert "secret internals" not in page.text
    assert "Traceback" not in page.text


def test_request_id_is_echoed_or_generated(client: TestClient) -> None:
    echoed = client.get("/api/health", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    generated = client.get("/api/health", headers={"X-Request-ID": "bad id with spaces"})
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["x-request-id"])


def test_html_pages_carry_security_headers(client: TestClient) -> None:
    response = client.get("/login")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"


# --- health ------------------------------------------------------------------------------------


def test_health_reports_database_migrations_and_no_scheduler(client: TestClient) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["migrations"]["current"] is True
    assert body["migrations"]["revision"] == body["migrations"]["head"]
    assert body["scheduler"] is None


def test_health_is_503_when_the_database_is_unreachable(
    app_factory: Callable[..., FastAPI], tmp_path: Any
) -> None:
    from sqlalchemy import create_engine

    app = app_factory()
    app.state.engine = create_engine(f"sqlite:///{tmp_path}/missing/dir/db.sqlite")
    response = TestClient(app).get("/api/health")
    assert response.status_code == 503
    assert response.json()["database"]["ok"] is False


def test_lifespan_starts_and_stops_the_real_scheduler(
    fresh_engine: Engine, settings: Settings, clock: FrozenClock
) -> None:
    """The embedded scheduler runs inside the app's lifespan and shows on /api/health.

    A database of its own: the scheduler seeds its schedule table through its
    own connections, outside the per-test transaction.
    """
    migrate.upgrade(fresh_engine)
    app = create_app(
        settings.model_copy(update={"scheduler_enabled": True}), engine=fresh_engine, clock=clock
    )
    with TestClient(app) as c:
        scheduler = c.get("/api/health").json()["scheduler"]
        assert scheduler["running"] is True
        assert "core.prune" in {job["name"] for job in scheduler["jobs"]}
        running = app.state.scheduler
    assert app.state.scheduler is None
    assert running.state["running"] is False


# --- metrics -----------------------------------------------------------------------------------


def test_metrics_need_an_admin_key_when_no_token_is_set(
    client: TestClient, api_key: Callable[..., str], viewer: Any
) -> None:
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=bearer("tp_wrong")).status_code == 401
    assert client.get("/metrics", headers=bearer(api_key("read"))).status_code == 403
    assert viewer.client.get("/metrics").status_code == 401  # a session is not enough
    client.get("/api/tutors/T0042", headers=bearer(api_key("read")))
    response = client.get("/metrics", headers=bearer(api_key("admin")))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = [
        line
        for line in response.text.splitlines()
        if line.startswith("tutorpulse_http_request_duration_seconds_count")
    ]
    # Labelled by route template (bounded), not by the raw path.
    assert any('route="/api/tutors/{tutorId}"' in s and 'status="404"' in s for s in samples)
    assert not any("T0042" in s for s in samples)


def test_metrics_token_when_configured(
    app_factory: Callable[..., FastAPI], settings: Settings, api_key: Callable[..., str]
) -> None:
    app = app_factory(settings.model_copy(update={"metrics_token": SecretStr("m-token")}))
    c = TestClient(app)
    assert c.get("/metrics", headers=bearer("m-token")).status_code == 200
    assert c.get("/metrics", headers=bearer("other")).status_code == 401
    assert c.get("/metrics", headers=bearer(api_key("admin"))).status_code == 401


# --- OpenAPI and docs ------------------------------------------------------------------------------


def test_openapi_documents_the_bearer_scheme_and_docs_use_no_cdn(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    assert "/api/dashboard/tutors" in spec["paths"]
    schemes = spec["components"]["securitySchemes"]
    assert any(s["type"] == "http" and s["scheme"] == "bearer" for s in schemes.values())
    docs = client.get("/api/docs")
    soup = BeautifulSoup(docs.text, "html.parser")
    sources = [s["src"] for s in soup.find_all("script", src=True)]
    sources += [link["href"] for link in soup.find_all("link", href=True)]
    assert "/static/vendor/swagger-ui-bundle.js" in sources
    assert all(src.startswith("/") for src in sources)
    assert client.get("/static/vendor/swagger-ui-bundle.js").status_code == 200


def test_nul_characters_are_a_400_not_a_database_error(
    client: TestClient, viewer: Any, api_key: Callable[..., str]
) -> None:
    key = bearer(api_key("read"))
    for url, field in (("/api/tutors?q=a%00b", "q"), ("/api/tutors/T%0001", "path")):
        response = client.get(url, headers=key)
        assert response.status_code == 400, url
        assert response.json()["details"] == [
            {"field": field, "message": "must not contain NUL characters"}
        ]
    page = viewer.client.get("/tutors?q=%00")
    assert page.status_code == 400
    box = BeautifulSoup(page.text, "html.parser").find(class_="error-box")
    assert box.find("strong").get_text() == "q"
    login = client.get("/login")
    token = login.cookies.get("tp_login_csrf") or client.cookies.get("tp_login_csrf", path="/login")
    form = {"email": "a\x00@example.test", "password": "x" * 12, "csrf_token": token, "next": "/"}
    assert client.post("/login", data=form).status_code == 400
