"""Public tracking and unsubscribe routes (no login: the signed token is the credential).

- ``GET /t/o/{token}.gif``: the open pixel. Records one ``opened`` event per fetch
  (machine fetches flagged) and answers a 1×1 GIF that must not be cached.
- ``GET /t/c/{token}``: the click redirect. 302 to the signed URL, but only when
  that URL is one of the links of the stored message (no open redirect).
- ``GET /u/{token}``: the unsubscribe confirmation page (a GET never unsubscribes:
  link scanners fetch every URL of a message).
- ``POST /u/{token}``: unsubscribe, from the page's button or an RFC 8058
  one-click ``List-Unsubscribe=One-Click`` POST by the mail client. Idempotent.

A forged or altered token is a 404 and records nothing.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from tutorpulse.core.errors import NotFound
from tutorpulse.core.settings import Settings
from tutorpulse.email import events, machines, tracking
from tutorpulse.web.deps import ClockDep, DbSession, SettingsDep
from tutorpulse.web.templating import render

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False, tags=["email tracking"])

NO_CACHE = {
    "Cache-Control": "no-store, no-cache, must-revalidate, private, max-age=0",
    "Pragma": "no-cache",
    "Expires": "0",
}
_GONE = "This link is not valid. It may have been copied incompletely."


def tracking_secret(request: Request, settings: Settings, token: str) -> bytes:
    """The signing key, computed once per app (it may read or create a key file).

    A token of the wrong shape is refused before the key is needed.
    """
    if not tracking.looks_like_token(token):
        raise NotFound(_GONE)
    secret: bytes | None = getattr(request.app.state, "email_tracking_secret", None)
    if secret is None:
        secret = tracking.signing_secret(settings)
        request.app.state.email_tracking_secret = secret
    return secret


def proxy_networks(request: Request, settings: Settings) -> tuple[machines.Network, ...]:
    """``EMAIL_MACHINE_OPEN_NETWORKS``, parsed once per app."""
    cached = getattr(request.app.state, "email_proxy_networks", None)
    if cached is None:
        cached = machines.parse_networks(settings.email_machine_open_networks)
        request.app.state.email_proxy_networks = cached
    return tuple(cached)


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.get("/t/o/{token}.gif")
def open_pixel(
    token: str, request: Request, db: DbSession, clock: ClockDep, settings: SettingsDep
) -> Response:
    found = tracking.verify_open_token(token, tracking_secret(request, settings, token))
    if found is None:
        raise NotFound(_GONE)
    intervention = events.get_intervention(db, found.intervention_id)
    if intervention is not None:
        events.record_open(
            db,
            intervention=intervention,
            user_agent=request.headers.get("user-agent"),
            ip=_client_ip(request),
            now=clock.now(),
            proxy_networks=proxy_networks(request, settings),
        )
    return Response(tracking.PIXEL_GIF, media_type="image/gif", headers=NO_CACHE)


@router.api_route("/t/c/{token}", methods=["GET", "HEAD"])
def click_redirect(
    token: str, request: Request, db: DbSession, clock: ClockDep, settings: SettingsDep
) -> Response:
    secret = tracking_secret(request, settings, token)
    found = tracking.verify_click_token(token, secret)
    if found is None:
        raise NotFound(_GONE)
    intervention = events.get_intervention(db, found.intervention_id)
    if intervention is None or not events.allowed_redirect(
        intervention, found.url, base_url=settings.public_base_url, secret=secret
    ):
        log.warning(
            "click token for intervention %s names a URL not in its message; refused",
            found.intervention_id,
        )
        raise NotFound(_GONE)
    events.record_click(
        db,
        intervention=intervention,
        url=found.url,
        user_agent=request.headers.get("user-agent"),
        ip=_client_ip(request),
        method=request.method,
        now=clock.now(),
        window_seconds=settings.email_machine_click_window_seconds,
    )
    return RedirectResponse(found.url, status_code=302, headers=NO_CACHE)


@router.get("/u/{token}")
def unsubscribe_page(token: str, request: Request, settings: SettingsDep) -> Response:
    found = tracking.verify_unsubscribe_token(token, tracking_secret(request, settings, token))
    if found is None:
        raise NotFound(_GONE)
    return render(
        request,
        "email/unsubscribe.html",
        {"email": found.email, "token": token, "done": False},
        headers=NO_CACHE,
    )


@router.post("/u/{token}")
def unsubscribe(
    token: str,
    request: Request,
    db: DbSession,
    clock: ClockDep,
    settings: SettingsDep,
    one_click: Annotated[str | None, Form(alias="List-Unsubscribe", max_length=20)] = None,
) -> Response:
    found = tracking.verify_unsubscribe_token(token, tracking_secret(request, settings, token))
    if found is None:
        raise NotFound(_GONE)
    events.record_unsubscribe(
        db,
        intervention_id=found.intervention_id,
        email=found.email,
        now=clock.now(),
        source="one-click" if one_click == "One-Click" else "page",
    )
    return render(
        request,
        "email/unsubscribe.html",
        {"email": found.email, "token": token, "done": True},
        headers=NO_CACHE,
    )
