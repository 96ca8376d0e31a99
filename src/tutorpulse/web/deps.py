"""FastAPI dependencies shared by every router: settings, clock, database session."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from tutorpulse.core.clock import Clock
from tutorpulse.core.db import unit_of_work
from tutorpulse.core.settings import Settings


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


def get_db(request: Request) -> Iterator[Session]:
    """One unit of work per request: committed when the endpoint returns, else rolled back.

    Use it through ``DbSession`` (``Depends(get_db, scope="function")``) so the
    commit happens before the response is sent (a failed commit is then a 5xx,
    not a silent loss). FastAPI caches dependencies per (function, scope), so
    every dependency of a request that uses ``DbSession`` shares one session.
    A state-changing request is a write transaction (see ``unit_of_work``).
    """
    write = request.method not in ("GET", "HEAD", "OPTIONS")
    with unit_of_work(request.app.state.session_factory, write=write) as session:
        yield session


def open_unit_of_work(request: Request, *, write: bool) -> AbstractContextManager[Session]:
    """A unit of work for code that manages its own transaction inside a request.

    Hot endpoints use it instead of ``DbSession`` to save thread-pool hops. Tests
    replace it (``app.state.unit_of_work_override``) to run on their own session.
    """
    return app_unit_of_work(request.app, write=write)


def app_unit_of_work(app: Any, *, write: bool) -> AbstractContextManager[Session]:
    """``open_unit_of_work`` for code that holds the app rather than a request."""
    override = getattr(app.state, "unit_of_work_override", None)
    if override is not None:
        manager: AbstractContextManager[Session] = override(write=write)
        return manager
    return unit_of_work(app.state.session_factory, write=write)


def get_request_id(request: Request) -> str | None:
    """The id the request-context middleware gave this request (echoed as X-Request-ID)."""
    value = getattr(request.state, "request_id", None)
    return str(value) if value else None


DbSession = Annotated[Session, Depends(get_db, scope="function")]
ClockDep = Annotated[Clock, Depends(get_clock)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
RequestId = Annotated[str | None, Depends(get_request_id)]
