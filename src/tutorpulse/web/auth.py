"""FastAPI dependencies that authenticate and authorise every request.

- ``require_api(scope)`` guards ``/api`` routes: a bearer API key holding the
  scope, or a dashboard session whose role grants it (``ROLE_SCOPES``). A
  session-authenticated state-changing API call must also send the CSRF token
  in ``X-CSRF-Token``. 401 without (valid) credentials, 403 when insufficient.
- ``require_user(*roles)`` guards HTML pages: without a session the browser is
  redirected to ``/login?next=…``; a user of another role gets a 403 page.
- ``require_csrf`` guards state-changing page and HTMX routes.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.security import HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from tutorpulse.core import auth
from tutorpulse.core.audit import Actor
from tutorpulse.core.errors import Forbidden, Unauthorized
from tutorpulse.core.models import User, WebSession
from tutorpulse.web.deps import ClockDep, DbSession, open_unit_of_work

SESSION_COOKIE = "tp_session"
LOGIN_CSRF_COOKIE = "tp_login_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

# Declares the bearer scheme in the OpenAPI document (the "Authorize" button);
# the header itself is checked below so a malformed one is a 401, not ignored.
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key: `Authorization: Bearer tp_…` (see docs/security.md).",
)


class LoginRequired(Exception):
    """Raised by page dependencies when there is no live session; answered with a redirect."""

    def __init__(self, next_path: str) -> None:
        super().__init__("login required")
        self.next_path = next_path


@dataclass(frozen=True)
class WebLogin:
    session: WebSession
    user: User
    actor: Actor


def current_login(request: Request, db: DbSession, clock: ClockDep) -> WebLogin | None:
    """The dashboard login of this request's session cookie, or None."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    found = auth.resolve_web_session(db, token=token, now=clock.now())
    if found is None:
        return None
    session, user = found
    login = WebLogin(session=session, user=user, actor=auth.actor_for_user(user))
    request.state.actor = login.actor
    request.state.csrf_token = session.csrf_token
    return login


CurrentLogin = Depends(current_login)


def _bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("Authorization header must be 'Bearer <API key>'")
    return value.strip()


def csrf_matches(sent: str | None, expected: str) -> bool:
    return bool(sent) and hmac.compare_digest(str(sent).encode(), expected.encode())


class _KeyCache:
    """Recently authenticated API keys, so a busy ingest client costs no lookup per request.

    Entries live ``api_key_cache_seconds``; a revocation made in this process clears
    the cache at once, one made elsewhere takes effect within that time (documented).
    """

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, Actor]] = {}
        self._lock = threading.Lock()

    def get(self, digest: str) -> Actor | None:
        with self._lock:
            entry = self._entries.get(digest)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, digest: str, actor: Actor, ttl: float) -> None:
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[digest] = (time.monotonic() + ttl, actor)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


API_KEY_CACHE = _KeyCache()
auth.on_key_revoked(API_KEY_CACHE.clear)


def _api_key_actor(request: Request, db: Session, token: str, now: datetime) -> Actor:
    ttl = float(request.app.state.settings.api_key_cache_seconds)
    digest = auth.token_hash(token)
    if ttl > 0:
        cached = API_KEY_CACHE.get(digest)
        if cached is not None:
            return cached
    key = auth.authenticate_api_key(db, token=token, now=now)
    if key is None:
        raise Unauthorized("Invalid or revoked API key")
    actor = auth.actor_for_api_key(key)
    if ttl > 0:
        API_KEY_CACHE.put(digest, actor, ttl)
    return actor


def require_api(scope: str, *alternatives: str) -> Callable[..., Actor]:
    """Dependency for ``/api`` routes needing ``scope`` (or one of ``alternatives``).

    The admin scope implies every scope.
    """
    accepted = (scope, *alternatives)
    for name in accepted:
        if name not in auth.SCOPES:
            raise ValueError(f"unknown scope {name!r}")

    def dependency(
        request: Request,
        db: DbSession,
        clock: ClockDep,
        _scheme: object = Depends(bearer_scheme),
    ) -> Actor:
        token = _bearer_token(request)
        if token is not None:
            actor = _api_key_actor(request, db, token, clock.now())
        else:
            login = current_login(request, db, clock)
            if login is None:
                raise Unauthorized("Authentication required: send 'Authorization: Bearer <key>'")
            if request.method not in SAFE_METHODS and not csrf_matches(
                request.headers.get(CSRF_HEADER), login.session.csrf_token
            ):
                raise Forbidden(f"Missing or invalid {CSRF_HEADER} header")
            actor = login.actor
        request.state.actor = actor
        if not any(actor.has_scope(name) for name in accepted):
            needed = "' or '".join(accepted)
            raise Forbidden(f"This endpoint needs the '{needed}' scope")
        return actor

    dependency.__name__ = f"require_api_{'_'.join(accepted)}"
    return dependency


def _resolve_actor_sync(request: Request, token: str | None, scopes: tuple[str, ...]) -> Actor:
    """Authenticate in a short unit of work of its own (used off the request session)."""
    clock = request.app.state.clock
    # A write transaction: authenticating a key may record when it was last used.
    with open_unit_of_work(request, write=True) as db:
        if token is not None:
            return _api_key_actor(request, db, token, clock.now())
        found = None
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            found = auth.resolve_web_session(db, token=cookie, now=clock.now())
        if found is None:
            raise Unauthorized("Authentication required: send 'Authorization: Bearer <key>'")
        session, user = found
        if request.method not in SAFE_METHODS and not csrf_matches(
            request.headers.get(CSRF_HEADER), session.csrf_token
        ):
            raise Forbidden(f"Missing or invalid {CSRF_HEADER} header")
        return auth.actor_for_user(user)


def require_api_fast(scope: str, *alternatives: str) -> Callable[..., Any]:
    """``require_api`` for hot write endpoints that open their own unit of work.

    An async dependency: a cached API key is accepted without leaving the event
    loop or touching the database; anything else is looked up in a short
    transaction of its own on the thread pool. Same rules and errors as
    ``require_api``.
    """
    accepted = (scope, *alternatives)
    for name in accepted:
        if name not in auth.SCOPES:
            raise ValueError(f"unknown scope {name!r}")

    async def dependency(request: Request, _scheme: object = Depends(bearer_scheme)) -> Actor:
        token = _bearer_token(request)
        actor = None
        if token is not None and float(request.app.state.settings.api_key_cache_seconds) > 0:
            actor = API_KEY_CACHE.get(auth.token_hash(token))
        if actor is None:
            actor = await run_in_threadpool(_resolve_actor_sync, request, token, accepted)
        request.state.actor = actor
        if not any(actor.has_scope(name) for name in accepted):
            needed = "' or '".join(accepted)
            raise Forbidden(f"This endpoint needs the '{needed}' scope")
        return actor

    dependency.__name__ = f"require_api_fast_{'_'.join(accepted)}"
    return dependency


def login_redirect_target(request: Request) -> str:
    path = request.url.path
    if request.url.query:
        path += "?" + request.url.query
    return path


def login_url(next_path: str) -> str:
    return "/login?next=" + quote(next_path, safe="/")


def require_user(*roles: str) -> Callable[..., Actor]:
    """Dependency for HTML pages; no roles given means any logged-in user."""
    unknown = [r for r in roles if r not in auth.ROLES]
    if unknown:
        raise ValueError(f"unknown role(s) {unknown}")

    def dependency(request: Request, login: WebLogin | None = CurrentLogin) -> Actor:
        if login is None:
            raise LoginRequired(login_redirect_target(request))
        if roles and login.user.role not in roles:
            raise Forbidden(f"This page is for {', '.join(roles)} users only")
        return login.actor

    dependency.__name__ = "require_user_" + ("_".join(roles) or "any")
    return dependency


async def require_csrf(request: Request, login: WebLogin | None = CurrentLogin) -> None:
    """Reject a state-changing request whose CSRF token (header or form field) is wrong."""
    if request.method in SAFE_METHODS:
        return
    if login is None:
        raise LoginRequired("/")
    sent = request.headers.get(CSRF_HEADER)
    if not sent and request.headers.get("content-type", "").startswith(FORM_TYPES):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not csrf_matches(sent, login.session.csrf_token):
        raise Forbidden("The form's security token is missing or out of date; reload and retry")


def safe_next(value: str | None) -> str:
    """A local path to go to after login; anything else (other hosts, schemes) becomes '/'."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    return value
