"""Original-compatible analytics routes: performers, first sessions, reliability, heatmap.

All need the ``read`` scope. Parameters are validated here (a bad value is a 400 naming
the field); ``metricType`` is checked against a fixed whitelist and only ever selects a
column from a mapping, so request text never reaches SQL.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from tutorpulse.analytics import service
from tutorpulse.core.audit import Actor
from tutorpulse.web.auth import require_api
from tutorpulse.web.deps import ClockDep, DbSession, SettingsDep

router = APIRouter(prefix="/api/analytics", tags=["analytics"])
Reader = Annotated[Actor, Depends(require_api("read"))]
MAX_LIMIT = 500

Subject = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z][A-Za-z0-9 &+\-]*$",
        description="Primary subject of the tutors analysed; applied before the analysis.",
    ),
]
Limit = Annotated[
    int, Query(ge=1, le=MAX_LIMIT, description=f"Tutors listed per segment/list, 1-{MAX_LIMIT}.")
]


@router.get(
    "/performers",
    summary="Star performers: shrunk composite score, segments, differentiating factors",
    description=(
        "Composite of empirical-Bayes shrunk, z-standardised components (weights in "
        "settings), segments star/average/lagging, factors compared with Welch's t, "
        "Cohen's d (pooled SD, CI) and Benjamini–Hochberg. See docs/analytics.md."
    ),
)
def performers(
    db: DbSession,
    clock: ClockDep,
    settings: SettingsDep,
    _actor: Reader,
    subject: Subject = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    return service.get_performers(
        db, settings=settings, now=clock.now(), subject=subject, limit=limit
    )


@router.get(
    "/first-sessions",
    summary="First sessions: poor cohort vs other tutors, churn consequence, rebooking",
)
def first_sessions(
    db: DbSession,
    clock: ClockDep,
    settings: SettingsDep,
    _actor: Reader,
    subject: Subject = None,
) -> dict[str, Any]:
    return service.get_first_sessions(db, settings=settings, now=clock.now(), subject=subject)


@router.get(
    "/reliability",
    summary="Reschedules by initiator, no-shows, replacements, local-time slots, at-risk tutors",
)
def reliability(
    db: DbSession,
    clock: ClockDep,
    settings: SettingsDep,
    _actor: Reader,
    threshold: Annotated[
        float,
        Query(gt=0, lt=1, description="Tutor-side failure rate above which a tutor is listed."),
    ] = 0.15,
    days_ahead: Annotated[
        int,
        Query(alias="daysAhead", ge=0, le=90, description="Days of upcoming sessions counted."),
    ] = 7,
    limit: Limit = 50,
) -> dict[str, Any]:
    return service.get_reliability(
        db,
        settings=settings,
        now=clock.now(),
        threshold=threshold,
        days_ahead=days_ahead,
        limit=limit,
    )


@router.get(
    "/heatmap",
    summary="A metric by the tutors' local weekday (0 = Sunday) and hour",
)
def heatmap(
    db: DbSession,
    clock: ClockDep,
    settings: SettingsDep,
    _actor: Reader,
    tutor_id: Annotated[str | None, Query(alias="tutorId", min_length=1, max_length=64)] = None,
    days: Annotated[int, Query(ge=1, le=730, description="Days back from now.")] = 30,
    metric_type: Annotated[
        str,
        Query(
            alias="metricType",
            max_length=32,
            description="One of: " + ", ".join(service.HEATMAP_METRICS),
        ),
    ] = "engagement",
) -> dict[str, Any]:
    return service.get_heatmap(
        db,
        settings=settings,
        now=clock.now(),
        metric_type=metric_type,
        days=days,
        tutor_external_id=tutor_id,
    )
