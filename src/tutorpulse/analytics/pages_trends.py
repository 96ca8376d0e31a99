"""Dashboard pages: Trends (/analytics/trends) and Retention (/analytics/retention).

Both read the same service as ``GET /api/analytics/trends``; charts get their
data from a JSON data attribute and are drawn by /static/js/analytics-trends.js
(the CSP forbids inline scripts). Every chart is also readable as a table.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from tutorpulse.analytics import trends_repository as repo
from tutorpulse.analytics import trends_service as service
from tutorpulse.analytics.api_trends import CacheDep
from tutorpulse.analytics.trends_cache import TrendsCache
from tutorpulse.analytics.trends_metrics import METRICS
from tutorpulse.analytics.trends_schemas import (
    CohortTrends,
    EngagementTrends,
    RetentionTrends,
    SeasonalTrends,
)
from tutorpulse.core.audit import Actor
from tutorpulse.core.errors import AppError
from tutorpulse.web.auth import require_user
from tutorpulse.web.deps import ClockDep, DbSession, SettingsDep
from tutorpulse.web.templating import render

router = APIRouter(include_in_schema=False)
Viewer = Annotated[Actor, Depends(require_user())]
DAY_CHOICES = (30, 60, 90, 180, 365)
HORIZON_CHOICES = service.RETENTION_HORIZONS  # served from the stored retention bases


def _heat_class(value: float | None) -> str:
    """A CSS class per tenth of the share (colour is never the only carrier: the % is shown)."""
    if value is None:
        return "heat-none"
    return f"heat-{min(10, max(0, round(value * 10)))}"


def _series_chart(body: EngagementTrends) -> dict[str, Any]:
    fit = body.trend
    line: list[float | None] = []
    for i, _ in enumerate(body.data):
        if fit.slope is not None and fit.intercept is not None:
            line.append(fit.intercept + fit.slope * i)
        else:
            line.append(None)
    marks: dict[str, float] = {a.date.isoformat(): a.value for a in body.anomalies}
    return {
        "type": "series",
        "labels": [p.date.isoformat() for p in body.data],
        "value": [p.value for p in body.data],
        "ma": [p.moving_average for p in body.data],
        "trend": line,
        "anomalies": [marks.get(p.date.isoformat()) for p in body.data],
        "n": [p.n for p in body.data],
        "label": body.metric.label,
        "yLabel": f"{body.metric.label} ({body.metric.unit})",
        "xLabel": "Tutor local date",
    }


def _bars(labels: list[str], values: list[float | None], y_label: str, x_label: str) -> Any:
    return {"type": "bars", "labels": labels, "value": values, "yLabel": y_label, "xLabel": x_label}


def _trends_context(
    db: Session, cache: TrendsCache, factory: Any, now: Any, inactivity: int, **kw: Any
) -> dict[str, Any]:
    base = service.TrendParams(type="engagement", **kw)
    out: dict[str, Any] = {}
    engagement = service.get_trends(
        db,
        params=base,
        now=now,
        inactivity_days=inactivity,
        cache=cache,
        session_factory=factory,
    )
    assert isinstance(engagement, EngagementTrends)
    out["series"] = engagement
    out["series_chart"] = _series_chart(engagement)
    seasonal = service.get_trends(
        db,
        params=service.TrendParams(**{**base.__dict__, "type": "seasonal"}),
        now=now,
        inactivity_days=inactivity,
        cache=cache,
        session_factory=factory,
    )
    assert isinstance(seasonal, SeasonalTrends)
    out["seasonal"] = seasonal
    unit = engagement.metric.unit
    out["weekday_chart"] = _bars(
        [b.label for b in seasonal.day_of_week],
        [b.value for b in seasonal.day_of_week],
        unit,
        "Day of week (tutor local)",
    )
    out["hour_chart"] = _bars(
        [b.label for b in seasonal.hour_of_day],
        [b.value for b in seasonal.hour_of_day],
        unit,
        "Hour of day (tutor local)",
    )
    return out


@router.get("/analytics/trends")
def trends_page(
    request: Request,
    db: DbSession,
    clock: ClockDep,
    settings: SettingsDep,
    cache: CacheDep,
    _actor: Viewer,
    metric: Annotated[str, Query(max_length=50)] = "engagement",
    days: Annotated[int, Query(ge=7, le=service.MAX_DAYS)] = 90,
    ma_window: Annotated[int, Query(alias="maWindow", ge=1, le=service.MAX_MA_WINDOW)] = 7,
    subject: Annotated[str, Query(max_length=64)] = "",
    cohort_field: Annotated[str, Query(alias="cohortField", max_length=50)] = "primarySubject",
    anomaly_threshold: Annotated[float, Query(alias="anomalyThreshold", gt=0, le=20)] = 3.5,
) -> Response:
    spec = METRICS.get(metric)
    error = None
    context: dict[str, Any] = {}
    kw: dict[str, Any] = {
        "metric": metric,
        "days": days,
        "ma_window": ma_window,
        "subject": (subject or None) if spec is not None and spec.source == "session" else None,
        "anomaly_threshold": anomaly_threshold,
    }
    try:
        factory = request.app.state.session_factory
        context = _trends_context(
            db, cache, factory, clock.now(), settings.churn_inactivity_days, **kw
        )
        cohorts = service.get_trends(
            db,
            params=service.TrendParams(type="cohort", cohort_field=cohort_field, **kw),
            now=clock.now(),
            inactivity_days=settings.churn_inactivity_days,
            cache=cache,
            session_factory=factory,
        )
        assert isinstance(cohorts, CohortTrends)
        context["cohorts"] = cohorts
        context["cohort_chart"] = {
            "type": "multi",
            "labels": [
                p.date.isoformat() for p in (cohorts.cohorts[0].data if cohorts.cohorts else [])
            ],
            "series": [
                {"label": c.cohort, "value": [p.moving_average for p in c.data]}
                for c in cohorts.cohorts[:12]
            ],
            "yLabel": f"{cohorts.metric.label}, {ma_window}-day moving average",
            "xLabel": "Tutor local date",
        }
    except AppError as exc:
        error = exc.message
    context.update(
        {
            "error": error,
            "metrics": list(METRICS.values()),
            "subjects": repo.subjects(db),
            "cohort_fields": service.COHORT_FIELDS,
            "day_choices": DAY_CHOICES,
            "form": {
                "metric": metric,
                "days": days,
                "maWindow": ma_window,
                "subject": subject,
                "cohortField": cohort_field,
                "anomalyThreshold": anomaly_threshold,
            },
            "as_of": context["series"].as_of if "series" in context else None,
        }
    )
    return render(request, "analytics/trends.html", context)


def _km_chart(body: RetentionTrends) -> dict[str, Any]:
    curves = [body.overall, *body.cohorts] if body.overall else []
    return {
        "type": "km",
        "curves": [
            {
                "label": f"{c.cohort} (n = {c.size})",
                "points": [
                    {"x": p.day, "y": p.survival, "lo": p.ci_low, "hi": p.ci_high} for p in c.curve
                ],
            }
            for c in curves
            if c is not None
        ],
        "horizon": body.horizon_days,
        "yLabel": "Share of tutors not yet lost",
        "xLabel": "Days since joining",
    }


@router.get("/analytics/retention")
def retention_page(
    request: Request,
    db: DbSession,
    clock: ClockDep,
    settings: SettingsDep,
    cache: CacheDep,
    _actor: Viewer,
    cohort_start_date: Annotated[date | None, Query(alias="cohortStartDate")] = None,
    days: Annotated[int, Query(ge=7, le=service.MAX_DAYS)] = 180,
    matrix_period: Annotated[Literal["week", "month"], Query(alias="matrixPeriod")] = "week",
) -> Response:
    body = service.get_trends(
        db,
        params=service.TrendParams(
            type="retention",
            days=days,
            cohort_start_date=cohort_start_date,
            matrix_period=matrix_period,
        ),
        now=clock.now(),
        inactivity_days=settings.churn_inactivity_days,
        cache=cache,
        session_factory=request.app.state.session_factory,
    )
    assert isinstance(body, RetentionTrends)
    context = {
        "body": body,
        "km_chart": _km_chart(body),
        "heat_class": _heat_class,
        "horizon_choices": HORIZON_CHOICES,
        "form": {
            "cohortStartDate": cohort_start_date.isoformat() if cohort_start_date else "",
            "days": days,
            "matrixPeriod": matrix_period,
        },
        "inactivity_days": settings.churn_inactivity_days,
        "as_of": body.as_of,
    }
    return render(request, "analytics/retention.html", context)
