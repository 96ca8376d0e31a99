"""Risk JSON routes: the original no-show endpoint, paged session and tutor scores, models."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from tutorpulse.core.audit import Actor
from tutorpulse.risk import service
from tutorpulse.risk.schemas import ModelList, NoShowRisk, SessionRiskPage, TutorRiskPage
from tutorpulse.web.auth import require_api
from tutorpulse.web.deps import ClockDep, DbSession

router = APIRouter(prefix="/api", tags=["risk"])

MAX_LIMIT = 500
Reader = Annotated[Actor, Depends(require_api("read"))]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Page size, 1-{MAX_LIMIT}.")]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000, description="Rows to skip.")]
DaysAhead = Annotated[int, Query(alias="daysAhead", ge=1, le=60, description="Days ahead, 1-60.")]


@router.get("/analytics/noshow-risk", response_model=NoShowRisk, summary="No-show risk (original)")
def noshow_risk(
    db: DbSession,
    clock: ClockDep,
    _actor: Reader,
    tutor_id: Annotated[str | None, Query(alias="tutorId", max_length=64)] = None,
    days_ahead: DaysAhead = 7,
    generate_alerts: Annotated[bool, Query(alias="generateAlerts")] = False,
) -> NoShowRisk:
    return service.get_noshow_risk(
        db,
        now=clock.now(),
        tutor_external_id=tutor_id,
        days_ahead=days_ahead,
        generate_alerts=generate_alerts,
    )


@router.get(
    "/risk/sessions", response_model=SessionRiskPage, summary="Upcoming sessions by no-show risk"
)
def risk_sessions(
    db: DbSession,
    clock: ClockDep,
    _actor: Reader,
    days_ahead: DaysAhead = 7,
    limit: Limit = 50,
    offset: Offset = 0,
) -> SessionRiskPage:
    return service.list_session_risks(
        db, now=clock.now(), days_ahead=days_ahead, limit=limit, offset=offset
    )


@router.get("/risk/tutors", response_model=TutorRiskPage, summary="Tutors by churn probability")
def risk_tutors(
    db: DbSession,
    _actor: Reader,
    limit: Limit = 50,
    offset: Offset = 0,
    level: Annotated[str | None, Query(max_length=10, description="High, Medium or Low")] = None,
) -> TutorRiskPage:
    return service.list_tutor_risks(db, limit=limit, offset=offset, level=level)


@router.get("/risk/models", response_model=ModelList, summary="Registered model versions")
def risk_models(
    db: DbSession,
    _actor: Reader,
    target: Annotated[str | None, Query(max_length=30)] = None,
) -> ModelList:
    return service.model_list(db, target=target)
