"""The HTTP application: ``create_app(settings)`` wires settings, database and routers."""

from __future__ import annotations

import importlib
import logging
import pkgutil
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from tutorpulse.core.clock import Clock, SystemClock
from tutorpulse.core.db import create_db_engine, make_session_factory
from tutorpulse.core.logging import configure_logging
from tutorpulse.core.scheduler import Scheduler, start_scheduler
from tutorpulse.core.settings import Settings, get_settings
from tutorpulse.engagement.refresher import Refresher
from tutorpulse.tutors import api as tutors_api
from tutorpulse.tutors import pages as tutors_pages
from tutorpulse.web import audit_api, auth_pages, cron_api, jobs_pages, ops, pages
from tutorpulse.web.errors import install_error_handlers
from tutorpulse.web.middleware import RequestContextMiddleware
from tutorpulse.web.templating import STATIC_DIR

log = logging.getLogger("tutorpulse.app")

# Domains whose ``api*.py`` / ``pages*.py`` modules contribute routers (each exports ``router``).
ROUTER_DOMAINS = (
    "engagement",
    "sessions",
    "analytics",
    "risk",
    "alerts",
    "email",
    "interventions",
    "experiments",
    "insights",
)
_ROUTER_MODULE = re.compile(r"^(api|pages)(_\w+)?$")


def domain_routers() -> Iterator[APIRouter]:
    """The routers of every domain module named ``api``/``pages`` (or ``api_x``/``pages_x``).

    A module that exists but fails to import raises: a broken module must not
    silently drop its routes.
    """
    for domain in ROUTER_DOMAINS:
        package = importlib.import_module(f"tutorpulse.{domain}")
        names = sorted(
            info.name
            for info in pkgutil.iter_modules(package.__path__)
            if _ROUTER_MODULE.match(info.name)
        )
        for name in names:
            module = importlib.import_module(f"tutorpulse.{domain}.{name}")
            router = getattr(module, "router", None)
            if isinstance(router, APIRouter):
                yield router


def _start_scheduler(app: FastAPI) -> Scheduler | None:
    """Start the embedded scheduler when enabled; None otherwise."""
    settings: Settings = app.state.settings
    if not settings.scheduler_enabled:
        return None
    return start_scheduler(app.state.session_factory, settings, app.state.clock)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    if not logging.getLogger().handlers:
        # A worker process started from the factory string: nobody set up logging yet.
        # (``tutorpulse serve`` and test runners configure it themselves.)
        configure_logging(level=settings.log_level, json_lines=settings.log_json)
    app.state.scheduler = _start_scheduler(app)
    if settings.engagement_background_refresh:
        app.state.refresher = Refresher(
            app.state.session_factory, settings, app.state.clock
        ).start()
    try:
        yield
    finally:
        refresher = app.state.refresher
        if refresher is not None:
            refresher.stop()
            app.state.refresher = None
        scheduler = app.state.scheduler
        if scheduler is not None:
            scheduler.shutdown()
            app.state.scheduler = None


def create_app(
    settings: Settings | None = None, *, engine: Engine | None = None, clock: Clock | None = None
) -> FastAPI:
    """Build the FastAPI app. Tests pass their own settings, engine and frozen clock."""
    settings = settings or get_settings()
    engine = engine or create_db_engine(
        settings.resolved_database_url(), echo=settings.database_echo
    )
    app = FastAPI(
        title="TutorPulse",
        version="0.1.0",
        summary="Tutor engagement, risk and interventions. See docs/api.md.",
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    app.state.clock = clock or SystemClock()
    app.state.scheduler = None
    app.state.refresher = None
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # Domain routers first: the ingestion routes are matched on every event POST,
    # and routers are tried in order.
    for router in (
        *domain_routers(),
        ops.router,
        auth_pages.router,
        pages.router,
        tutors_api.router,
        tutors_pages.router,
        audit_api.router,
        cron_api.router,
        jobs_pages.router,
    ):
        app.include_router(router)
    return app
