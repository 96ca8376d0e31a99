"""Dashboard login and logout.

The login form is protected against login CSRF with a double-submit token (a
random cookie echoed in a hidden field). A successful login replaces any
earlier session of the browser, so a planted session id cannot be reused.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from tutorpulse.core import auth
from tutorpulse.core.audit import Actor, record_audit
from tutorpulse.web.auth import (
    CSRF_FIELD,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    CurrentLogin,
    WebLogin,
    csrf_matches,
    require_csrf,
    require_user,
    safe_next,
)
from tutorpulse.web.deps import ClockDep, DbSession, RequestId, SettingsDep
from tutorpulse.web.templating import render

router = APIRouter(include_in_schema=False)


def _login_form(
    request: Request,
    *,
    next_path: str,
    email: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        {"next": next_path, "email": email, "error": error, "login_csrf": token},
        status_code=status_code,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="lax",
        secure=request.app.state.settings.cookie_secure,
        path="/login",
    )
    return response


@router.get("/login")
def login_page(
    request: Request,
    login: Annotated[WebLogin | None, CurrentLogin],
    next_path: Annotated[str | None, Query(alias="next")] = None,
) -> Response:
    target = safe_next(next_path)
    if login is not None:
        return RedirectResponse(target, status_code=303)
    return _login_form(request, next_path=target)


@router.post("/login")
def login_submit(
    request: Request,
    db: DbSession,
    clock: ClockDep,
    settings: SettingsDep,
    request_id: RequestId,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
    next_path: Annotated[str, Form(alias="next")] = "/",
) -> Response:
    target = safe_next(next_path)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not expected or not csrf_matches(csrf_token, expected):
        return _login_form(
            request,
            next_path=target,
            email=email,
            error="The login form expired. Please sign in again.",
            status_code=403,
        )
    if not email.strip() or not password or "\x00" in email + password:
        return _login_form(
            request,
            next_path=target,
            email=email,
            error="Enter your email and password.",
            status_code=400,
        )
    now = clock.now()
    user = auth.authenticate_user(db, email=email, password=password, now=now)
    if user is None:
        record_audit(
            db,
            actor=Actor(kind="system", id=None, name="login"),
            action="auth.login_failed",
            target_type="user",
            target_id=email.strip().lower()[:100],
            request_id=request_id,
        )
        return _login_form(
            request,
            next_path=target,
            email=email,
            error="Email or password is not correct.",
            status_code=401,
        )
    old_token = request.cookies.get(SESSION_COOKIE)
    if old_token:
        previous = auth.resolve_web_session(db, token=old_token, now=now)
        if previous is not None:
            auth.end_web_session(db, session_id=previous[0].id, now=now)
    session, token = auth.start_web_session(
        db, user=user, now=now, max_age_seconds=settings.session_max_age_seconds
    )
    record_audit(
        db,
        actor=auth.actor_for_user(user),
        action="auth.login",
        target_type="web_session",
        target_id=str(session.id),
        request_id=request_id,
    )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_max_age_seconds,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(
    db: DbSession,
    clock: ClockDep,
    settings: SettingsDep,
    request_id: RequestId,
    actor: Annotated[Actor, Depends(require_user())],
    login: Annotated[WebLogin | None, CurrentLogin],
    _csrf: Annotated[None, Depends(require_csrf)],
) -> Response:
    assert login is not None  # require_user guarantees a login
    auth.end_web_session(db, session_id=login.session.id, now=clock.now())
    record_audit(
        db,
        actor=actor,
        action="auth.logout",
        target_type="web_session",
        target_id=str(login.session.id),
        request_id=request_id,
    )
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=settings.cookie_secure)
    return response
