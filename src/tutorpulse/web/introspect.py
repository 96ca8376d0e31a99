"""The app's effective routes (this FastAPI keeps included routers lazily in app.routes)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts


def iter_routes(app: FastAPI) -> Iterator[Any]:
    """Every route with its full ``path``, ``methods`` and ``endpoint``."""
    yield from iter_route_contexts(app.routes)


def get_paths(app: FastAPI) -> frozenset[str]:
    """Paths the app answers with GET (cached per app; routes are fixed after startup)."""
    cached: frozenset[str] | None = getattr(app.state, "get_paths_cache", None)
    if cached is None:
        cached = frozenset(
            str(r.path) for r in iter_routes(app) if "GET" in (getattr(r, "methods", None) or ())
        )
        app.state.get_paths_cache = cached
    return cached
