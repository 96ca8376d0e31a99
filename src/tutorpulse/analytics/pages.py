"""Dashboard pages: Star performers, First sessions, Reliability (any logged-in role).

Each page calls the same service function as its JSON route. Charts read a JSON
``data-perf-chart`` attribute and are drawn by /static/js/analytics-perf.js (the CSP
forbids inline scripts); every chart states its sample size and method and has the
same numbers in a table.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from tutorpulse.analytics import service
from tutorpulse.core.audit import Actor
from tutorpulse.web.auth import require_user
from tutorpulse.web.deps import ClockDep, DbSession, SettingsDep
from tutorpulse.web.templating import render

router = APIRouter(include_in_schema=False)
Viewer = Annotated[Actor, Depends(require_user())]
SubjectQ = Annotated[str, Query(max_length=64, pattern=r"^[A-Za-z0-9 &+\-]*$")]
WEEKDAYS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")


def _subject(db: Any, subject: str) -> str | None:
    """The subject if it is one the data knows, else None (an unknown value shows all)."""
    return subject if subject and subject in service.list_subjects(db) else None


def _factor_chart(factors: list[dict[str, Any]]) -> dict[str, Any]:
    """Forest plot of Cohen's d with 95% CIs, star vs average and lagging vs average."""
    labels = [f["label"] for f in factors]
    return {
        "type": "forest",
        "labels": labels,
        "series": [
            {
                "label": name,
                "d": [f[key]["effectSize"] for f in factors],
                "ci": [f[key]["effectSizeCi"] for f in factors],
            }
            for name, key in (
                ("Star vs average", "starVsAverage"),
                ("Lagging vs average", "laggingVsAverage"),
            )
        ],
        "xLabel": "Cohen's d (pooled SD) with 95% CI",
    }


@router.get("/analytics/performers")
def performers_page(
    request: Request,
    db: DbSession,
    clock: ClockDep,
    settings: SettingsDep,
    _actor: Viewer,
    subject: SubjectQ = "",
) -> Response:
    chosen = _subject(db, subject)
    body = service.get_performers(db, settings=settings, now=clock.now(), subject=chosen, limit=25)
    return render(
        request,
        "analytics/performers.html",
        {
            "body": body,
            "subjects": service.list_subjects(db),
            "subject": chosen or "",
            "factor_chart": _factor_chart(body["differentiatingFactors"]),
            "as_of": clock.now(),
        },
    )


@router.get("/analytics/first-sessions")
def first_sessions_page(
    request: Request,
    db: DbSession,
    clock: ClockDep,
    settings: SettingsDep,
    _actor: Viewer,
    subject: SubjectQ = "",
) -> Response:
    chosen = _subject(db, subject)
    body = service.get_first_sessions(db, settings=settings, now=clock.now(), subject=chosen)
    churn = body["churnConsequence"]
    rb = body["studentRebooking"]
    chart = {
        "type": "ratios",
        "labels": [
            "Churn risk ratio (poor vs other tutors)",
            "Churn hazard ratio (Cox, adjusted)",
            "Student rebooking ratio (poor vs good first session)",
        ],
        "value": [churn["riskRatio"], churn["coxHazardRatio"], rb["riskRatio"]],
        "ci": [churn["riskRatioCi"], churn["coxHazardRatioCi"], rb["riskRatioCi"]],
        "xLabel": "Ratio with 95% CI (1 = no difference)",
    }
    return render(
        request,
        "analytics/first_sessions.html",
        {
            "body": body,
            "subjects": service.list_subjects(db),
            "subject": chosen or "",
            "ratio_chart": chart,
            "as_of": clock.now(),
        },
    )


def _heat_rows(cells: list[dict[str, Any]], key: str, min_n: int) -> list[dict[str, Any]]:
    """7 weekday rows × 24 hour cells: rate, n and a CSS class per tenth of the top rate.

    The scale's top is the highest rate among cells with at least ``min_n`` sessions, so
    a night hour with two sessions does not wash out the rest; such sparse cells are
    drawn grey ("few") with their value still printed.
    """
    grid = {(c["dayOfWeek"], c["hourOfDay"]): c for c in cells}
    dense = [c[key] or 0.0 for c in cells if c["due"] >= min_n]
    top = max(dense, default=0.0) or 1.0
    rows = []
    for d, name in enumerate(WEEKDAYS):
        row = []
        for h in range(24):
            c = grid.get((d, h))
            v = c[key] if c else None
            n = c["due"] if c else 0
            if v is None:
                level = "none"
            elif n < min_n:
                level = "few"
            else:
                level = str(min(10, round(10 * v / top)))
            row.append({"hour": h, "value": v, "n": n, "level": level})
        rows.append({"day": name, "cells": row})
    return rows


@router.get("/analytics/reliability")
def reliability_page(
    request: Request,
    db: DbSession,
    clock: ClockDep,
    settings: SettingsDep,
    _actor: Viewer,
    threshold: Annotated[float, Query(gt=0, lt=1)] = 0.15,
    days_ahead: Annotated[int, Query(alias="daysAhead", ge=0, le=90)] = 7,
) -> Response:
    body = service.get_reliability(
        db,
        settings=settings,
        now=clock.now(),
        threshold=threshold,
        days_ahead=days_ahead,
        limit=50,
    )
    by = body["reschedules"]["byInitiator"]
    initiator_chart = {
        "type": "bars",
        "labels": ["Reschedules", "Cancellations"],
        "series": [
            {
                "label": who.title(),
                "value": [
                    by.get(who, 0),
                    body["cancellations"]["byInitiator"].get(who, 0),
                ],
            }
            for who in ("tutor", "student")
        ],
        "yLabel": "Sessions",
    }
    hours = body["byLocalTime"]["byHourOfDay"]["rows"]
    hour_chart = {
        "type": "lines",
        "labels": [r["hourOfDay"] for r in hours],
        "series": [
            {"label": "Tutor no-show rate", "value": [r["tutorNoShowRate"] for r in hours]},
            {"label": "Student no-show rate", "value": [r["studentNoShowRate"] for r in hours]},
        ],
        "xLabel": "Hour of day (tutor local time)",
        "yLabel": "Share of due sessions",
        "percent": True,
    }
    return render(
        request,
        "analytics/reliability.html",
        {
            "body": body,
            "threshold": threshold,
            "days_ahead": days_ahead,
            "heat": _heat_rows(
                body["byLocalTime"]["cells"], "tutorFailureRate", settings.analytics_min_sessions
            ),
            "initiator_chart": initiator_chart,
            "hour_chart": hour_chart,
            "weekdays": WEEKDAYS,
            "as_of": clock.now(),
        },
    )
