"""Authentication and authorisation over HTTP: API keys, sessions, roles, CSRF."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

from bs4 import BeautifulSoup
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tutorpulse.core.audit import Actor
from tutorpulse.core.clock import FrozenClock
from tutorpulse.core.models import ApiKey, AuditLog, WebSession
from tutorpulse.web.auth import LOGIN_CSRF_COOKIE, SESSION_COOKIE, require_api


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# --- API keys ---------------------------------------------------------------------------


def test_api_without_credentials_is_401_with_error_body(client: TestClient) -> None:
    response = client.get("/api/dashboard/metrics")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert set(body) == {"error", "details"}
    assert "Authorization" in body["error"]


def test_malformed_or_unknown_key_is_401(client: TestClient) -> None:
    assert (
        client.get("/api/dashboard/metrics", headers={"Authorization": "Basic abc"}).status_code
        == 401
    )
    assert (
        client.get("/api/dashboard/metrics", headers=bearer("tp_not-a-real-key")).status_code == 401
    )
    assert client.get("/api/dashboard/metrics", headers=bearer("something")).status_code == 401


def test_key_needs_the_scope_and_admin_implies_every_scope(
    client: TestClient, api_key: Callable[..., str]
) -> None:
    ingest_only = api_key("ingest")
    reader = api_key("read")
    admin = api_key("admin")
    assert client.get("/api/dashboard/metrics", headers=bearer(ingest_only)).status_code == 403
    assert client.get("/api/dashboard/metrics", headers=bearer(reader)).status_code == 200
    assert client.get("/api/dashboard/metrics", headers=bearer(admin)).status_code == 200
    # The audit log needs admin: a read key is authenticated but not allowed.
    forbidden = client.get("/api/audit", headers=bearer(reader))
    assert forbidden.status_code == 403
    assert "admin" in forbidden.json()["error"]
    assert client.get("/api/audit", headers=bearer(admin)).status_code == 200


def test_key_use_records_last_used_at_and_only_the_hash_is_stored(
    client: TestClient, api_key: Callable[..., str], db: Session, clock: FrozenClock
) -> None:
    key = api_key("read", name="dashboard reader")
    row = db.scalar(select(ApiKey).where(ApiKey.name == "dashboard reader"))
    assert row is not None
    assert row.last_used_at is None
    assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in (row.key_hash, row.prefix)
    assert key.startswith(row.prefix)
    assert client.get("/api/dashboard/metrics", headers=bearer(key)).status_code == 200
    db.refresh(row)
    assert row.last_used_at == clock.now()


def test_revoked_key_is_refused(
    client: TestClient, api_key: Callable[..., str], db: Session
) -> None:
    from tutorpulse.core import auth

    key = api_key("read", name="to revoke")
    assert client.get("/api/dashboard/metrics", headers=bearer(key)).status_code == 200
    row = db.scalar(select(ApiKey).where(ApiKey.name == "to revoke"))
    assert row is not None
    auth.revoke_api_key(db, key_id=row.id)
    assert client.get("/api/dashboard/metrics", headers=bearer(key)).status_code == 401


# --- sessions on the API ----------------------------------------------------------------


def test_session_roles_map_to_scopes(login_as: Callable[[str], Any]) -> None:
    viewer = login_as("viewer")
    admin = login_as("admin")
    assert viewer.client.get("/api/dashboard/metrics").status_code == 200
    assert viewer.client.get("/api/audit").status_code == 403
    assert admin.client.get("/api/audit").status_code == 200


def _add_write_route(app: FastAPI) -> None:
    def write(actor: Annotated[Actor, Depends(require_api("write"))]) -> dict[str, str]:
        return {"actor": actor.label}

    app.add_api_route("/api/test-write", write, methods=["POST"])


def test_session_authenticated_api_writes_need_csrf_header_and_write_role(
    app: FastAPI, login_as: Callable[[str], Any]
) -> None:
    _add_write_route(app)
    coach = login_as("coach")
    analyst = login_as("analyst")
    c = coach.client
    assert c.post("/api/test-write").status_code == 403
    assert c.post("/api/test-write", headers={"X-CSRF-Token": "wrong"}).status_code == 403
    ok = c.post("/api/test-write", headers={"X-CSRF-Token": coach.csrf_token})
    assert ok.status_code == 200
    assert ok.json() == {"actor": f"user:{coach.user.email}"}
    denied = analyst.client.post("/api/test-write", headers={"X-CSRF-Token": analyst.csrf_token})
    assert denied.status_code == 403
    assert "write" in denied.json()["error"]


def test_bearer_key_writes_need_no_csrf(
    app: FastAPI, client: TestClient, api_key: Callable[..., str]
) -> None:
    _add_write_route(app)
    assert client.post("/api/test-write", headers=bearer(api_key("write"))).status_code == 200
    assert client.post("/api/test-write", headers=bearer(api_key("read"))).status_code == 403


# --- dashboard login --------------------------------------------------------------------


def _login_form(client: TestClient, next_path: str = "/") -> dict[str, str]:
    page = client.get("/login", params={"next": next_path})
    assert page.status_code == 200
    form = BeautifulSoup(page.text, "html.parser").find("form", action="/login")
    assert form is not None
    return {i["name"]: i.get("value", "") for i in form.find_all("input") if i.get("name")}


def test_page_without_session_redirects_to_login_with_next(client: TestClient) -> None:
    response = client.get("/tutors", params={"q": "ann"})
    assert response.status_code == 303
    target = urlsplit(response.headers["location"])
    assert target.path == "/login"
    assert parse_qs(target.query)["next"] == ["/tutors?q=ann"]


def test_htmx_request_without_session_gets_hx_redirect(client: TestClient) -> None:
    response = client.get("/tutors", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["hx-redirect"].startswith("/login?next=")


def test_login_sets_an_httponly_lax_cookie_and_stores_only_its_hash(
    client: TestClient, db: Session, login_as: Callable[[str], Any]
) -> None:
    user = login_as("analyst").user
    fields = _login_form(client, "/tutors")
    fields.update(email=user.email.upper(), password="correct horse battery")
    response = client.post("/login", data=fields)
    assert response.status_code == 303
    assert response.headers["location"] == "/tutors"
    cookie_header = next(
        h for h in response.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE + "=")
    )
    assert "httponly" in cookie_header.lower()
    assert "samesite=lax" in cookie_header.lower()
    assert "max-age=3600" in cookie_header.lower()
    token = client.cookies.get(SESSION_COOKIE)
    assert token
    stored = db.scalars(select(WebSession.token_hash).where(WebSession.user_id == user.id)).all()
    assert hashlib.sha256(token.encode()).hexdigest() in stored
    assert token not in stored
    assert client.get("/tutors").status_code == 200
    actions = db.scalars(select(AuditLog.action).where(AuditLog.actor_id == user.id)).all()
    assert "auth.login" in actions


def test_wrong_password_shows_the_form_again_with_an_error(
    client: TestClient, login_as: Callable[[str], Any], db: Session
) -> None:
    user = login_as("viewer").user
    fields = _login_form(client)
    fields.update(email=user.email, password="wrong password!")
    response = client.post("/login", data=fields)
    assert response.status_code == 401
    soup = BeautifulSoup(response.text, "html.parser")
    assert soup.find(id="login-error").get_text(strip=True) == "Email or password is not correct."
    assert soup.find("input", {"name": "email"})["value"] == user.email
    assert client.cookies.get(SESSION_COOKIE) is None
    failed = db.scalars(select(AuditLog).where(AuditLog.action == "auth.login_failed")).all()
    assert [f.target_id for f in failed] == [user.email]


def test_login_post_without_the_form_token_is_rejected(
    client: TestClient, login_as: Callable[[str], Any]
) -> None:
    user = login_as("viewer").user
    response = client.post(
        "/login", data={"email": user.email, "password": "correct horse battery"}
    )
    assert response.status_code == 403
    assert client.cookies.get(SESSION_COOKIE) is None
    # A token that does not match the cookie is refused too.
    _login_form(client)
    assert client.cookies.get(LOGIN_CSRF_COOKIE, path="/login")
    forged = {"email": user.email, "password": "correct horse battery", "csrf_token": "forged"}
    assert client.post("/login", data=forged).status_code == 403


def test_login_never_redirects_off_site(client: TestClient, login_as: Callable[[str], Any]) -> None:
    user = login_as("viewer").user
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        fields = _login_form(client, evil)
        fields.update(email=user.email, password="correct horse battery")
        response = client.post("/login", data=fields)
        assert response.headers["location"] == "/"
        client.cookies.clear()


def test_logout_needs_csrf_then_revokes_the_session(viewer: Any, db: Session) -> None:
    c: TestClient = viewer.client
    assert c.post("/logout").status_code == 403
    assert c.post("/logout", data={"csrf_token": "nope"}).status_code == 403
    assert c.get("/").status_code == 200
    response = c.post("/logout", data={"csrf_token": viewer.csrf_token})
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    session = db.scalar(select(WebSession).where(WebSession.user_id == viewer.user.id))
    assert session is not None
    assert session.revoked_at is not None
    # Even replaying the old cookie no longer works.
    c.cookies.set(SESSION_COOKIE, "x")
    assert c.get("/").status_code == 303


def test_replayed_cookie_after_logout_is_refused(app: FastAPI, viewer: Any) -> None:
    c: TestClient = viewer.client
    token = c.cookies.get(SESSION_COOKIE)
    c.post("/logout", data={"csrf_token": viewer.csrf_token})
    replay = TestClient(app, follow_redirects=False)
    replay.cookies.set(SESSION_COOKIE, token)
    assert replay.get("/").status_code == 303
    assert replay.get("/api/dashboard/metrics").status_code == 401


def test_session_expires_after_max_age(viewer: Any, clock: FrozenClock) -> None:
    c: TestClient = viewer.client
    assert c.get("/").status_code == 200
    clock.set(clock.now() + timedelta(seconds=3599))
    assert c.get("/").status_code == 200
    clock.set(clock.now() + timedelta(seconds=2))
    assert c.get("/").status_code == 303
    assert c.get("/api/dashboard/metrics").status_code == 401


def test_wrong_role_gets_a_403_page(viewer: Any) -> None:
    response = viewer.client.get("/audit")
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    soup = BeautifulSoup(response.text, "html.parser")
    box = soup.find(class_="error-box")
    assert box["data-status"] == "403"
    assert "403" in box.find("h2").get_text()
    assert "admin" in box.find(class_="error-message").get_text()
    assert "Traceback" not in response.text
