"""The HTTP application: ``create_app(settings)`` wires settings, database and routers."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine

from tutorpulse.core.clock import Clock, SystemClock
from tutorpulse.core.db import create_db_engine, make_session_factory
from tutorpulse.core.settings import Settings, get_settings
from tutorpulse.web import cron_api, jobs_pages
from tutorpulse.web.errors import install_error_handlers


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
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    app.state.clock = clock or SystemClock()
    install_error_handlers(app)
    app.include_router(cron_api.router)
    app.include_router(jobs_pages.router)
    return app
