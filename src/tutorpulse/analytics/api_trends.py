"""``GET /api/analytics/trends`` (original params plus subject, anomalyThreshold, matrixPeriod)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from tutorpulse.analytics import trends_service as service
from tutorpulse.analytics.trends_cache import TrendsCache
from tutorpulse.analytics.trends_metrics import METRICS
from tutorpulse.analytics.trends_schemas import TrendsResponse
from tutorpulse.core.audit import Actor
from tutorpulse.web.auth import require_api
from tutorpulse.web.deps import ClockDep, DbSession, SettingsDep

router = APIRouter(prefix="/api/analytics", tags=["analytics"])
Reader = Annotated[Actor, Depends(require_api("read"))]


def trends_cache(request: Request, settings: SettingsDep) -> TrendsCache:
    """The app's trends cache (one per app; created on first use)."""
    cache: TrendsCache | None = getattr(request.app.state, "analytics_trends_cache", None)
    if cache is None:
        cache = TrendsCache(settings.analytics_cache_seconds)
        request.app.state.analytics_trends_cache = cache
    return cache


CacheDep = Annotated[TrendsCache, Depends(trends_cache)]


@router.get(
    "/trends",
    response_model=TrendsResponse,
    response_model_by_alias=True,
    summary="Time-series, seasonality, cohort and retention analytics",
    description=(
        "type=engagement: daily series of `metric` by the tutors' local date, trailing "
        "moving average, OLS trend with Newey–West errors and anomalies after weekly "
        "seasonality (STL + MAD). type=seasonal: weekday and hour profiles with "
        "Kruskal–Wallis/ANOVA tests. type=cohort: one series and trend per `cohortField`. "
        "type=retention: Kaplan–Meier survival by join month with log-rank test and the "
        "cohort × period activity matrix. See docs/analytics.md."
    ),
)
def get_trends(
    request: Request,
    db: DbSession,
    clock: ClockDep,
    settings: SettingsDep,
    cache: CacheDep,
    _actor: Reader,
    type: Literal["engagement", "seasonal", "cohort", "retention"],
    tutor_id: Annotated[str | None, Query(alias="tutorId", min_length=1, max_length=64)] = None,
    days: Annotated[
        int | None,
        Query(
            ge=1,
            le=service.MAX_DAYS,
            description="Window in days (default 30; retention: follow-up horizon, default 180).",
        ),
    ] = None,
    metric: Annotated[
        str,
        Query(max_length=50, description=f"One of: {', '.join(METRICS)}."),
    ] = "engagement",
    ma_window: Annotated[
        int, Query(alias="maWindow", ge=1, le=service.MAX_MA_WINDOW, description="Days.")
    ] = 7,
    cohort_field: Annotated[
        str | None,
        Query(
            alias="cohortField",
            max_length=50,
            description=f"type=cohort: one of {', '.join(service.COHORT_FIELDS)}.",
        ),
    ] = None,
    cohort_start_date: Annotated[
        date | None,
        Query(alias="cohortStartDate", description="type=retention: first join date."),
    ] = None,
    subject: Annotated[
        str | None, Query(min_length=1, max_length=64, description="Session subject filter.")
    ] = None,
    anomaly_threshold: Annotated[
        float,
        Query(alias="anomalyThreshold", gt=0, le=20, description="|robust z| that flags a day."),
    ] = service.ts.DEFAULT_THRESHOLD,
    matrix_period: Annotated[
        Literal["week", "month"], Query(alias="matrixPeriod", description="Retention matrix.")
    ] = "week",
) -> TrendsResponse:
    params = service.TrendParams(
        type=type,
        days=days,
        metric=metric,
        ma_window=ma_window,
        tutor_id=tutor_id,
        subject=subject,
        cohort_field=cohort_field,
        cohort_start_date=cohort_start_date,
        anomaly_threshold=anomaly_threshold,
        matrix_period=matrix_period,
    )
    return service.get_trends(
        db,
        params=params,
        now=clock.now(),
        inactivity_days=settings.churn_inactivity_days,
        cache=cache,
        session_factory=request.app.state.session_factory,
    )
