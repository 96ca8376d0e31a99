"""JSON routes of the tutor dashboards (original-compatible and new), all needing ``read``."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query

from tutorpulse.core.audit import Actor
from tutorpulse.sessions.schemas import SessionPage
from tutorpulse.tutors import service
from tutorpulse.tutors.schemas import (
    DashboardMetrics,
    DashboardTutorPage,
    Overview,
    TutorDetail,
    TutorEventPage,
    TutorListPage,
    TutorSort,
)
from tutorpulse.web.auth import require_api
from tutorpulse.web.deps import ClockDep, DbSession

router = APIRouter(prefix="/api", tags=["tutors"])

MAX_LIMIT = 200
Reader = Annotated[Actor, Depends(require_api("read"))]
Limit50 = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Page size, 1-{MAX_LIMIT}.")]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000, description="Rows to skip.")]
TutorIdPath = Annotated[str, Path(alias="tutorId", min_length=1, max_length=64)]
RiskLevel = Annotated[
    str | None,
    Query(max_length=20, description="low, medium, high or critical (any case)."),
]
SortKey = TutorSort
Status = Literal["active", "paused", "churned"]


@router.get("/dashboard/metrics", response_model=DashboardMetrics, summary="Headline figures")
def dashboard_metrics(db: DbSession, clock: ClockDep, _actor: Reader) -> DashboardMetrics:
    return service.get_dashboard_metrics(db, now=clock.now())


@router.get(
    "/dashboard/tutors",
    response_model=DashboardTutorPage,
    summary="Tutors with health fields, by churn probability",
)
def dashboard_tutors(
    db: DbSession,
    _actor: Reader,
    risk_level: RiskLevel = None,
    subject: Annotated[str | None, Query(max_length=64)] = None,
    status: Status | None = None,
    limit: Limit50 = 50,
    offset: Offset = 0,
) -> DashboardTutorPage:
    return service.list_dashboard_tutors(
        db, risk_level=risk_level, subject=subject, status=status, limit=limit, offset=offset
    )


@router.get("/dashboard/overview", response_model=Overview, summary="Overview KPIs (7 days)")
def dashboard_overview(db: DbSession, clock: ClockDep, _actor: Reader) -> Overview:
    return service.get_overview(db, now=clock.now())


@router.get("/tutors", response_model=TutorListPage, summary="Search, filter and sort tutors")
def list_tutors(
    db: DbSession,
    clock: ClockDep,
    _actor: Reader,
    q: Annotated[
        str | None, Query(max_length=200, description="Id, name or email contains")
    ] = None,
    status: Status | None = None,
    subject: Annotated[str | None, Query(max_length=64)] = None,
    certification: Literal["basic", "advanced", "expert"] | None = None,
    sort: SortKey = "tutorId",
    order: Literal["asc", "desc"] = "asc",
    limit: Limit50 = 25,
    offset: Offset = 0,
) -> TutorListPage:
    return service.list_tutors(
        db,
        now=clock.now(),
        q=q,
        status=status,
        subject=subject,
        certification=certification,
        sort=sort,
        order=order,
        limit=limit,
        offset=offset,
    )


@router.get("/tutors/{tutorId}", response_model=TutorDetail, summary="One tutor")
def get_tutor(db: DbSession, clock: ClockDep, _actor: Reader, tutor_id: TutorIdPath) -> TutorDetail:
    return service.get_tutor_detail(db, tutor_id=tutor_id, now=clock.now())


@router.get("/tutors/{tutorId}/sessions", response_model=SessionPage, summary="A tutor's sessions")
def get_tutor_sessions(
    db: DbSession, _actor: Reader, tutor_id: TutorIdPath, limit: Limit50 = 20, offset: Offset = 0
) -> SessionPage:
    return service.list_tutor_sessions(db, tutor_id=tutor_id, limit=limit, offset=offset)


@router.get("/tutors/{tutorId}/events", response_model=TutorEventPage, summary="A tutor's events")
def get_tutor_events(
    db: DbSession, _actor: Reader, tutor_id: TutorIdPath, limit: Limit50 = 20, offset: Offset = 0
) -> TutorEventPage:
    return service.list_tutor_events(db, tutor_id=tutor_id, limit=limit, offset=offset)
