"""The Activation dashboard page: live engagement KPIs, charts, timeline viewer, leaderboard."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from tutorpulse.core.audit import Actor
from tutorpulse.core.errors import AppError
from tutorpulse.engagement import metrics
from tutorpulse.web.auth import require_user
from tutorpulse.web.deps import ClockDep, DbSession
from tutorpulse.web.templating import render

router = APIRouter(include_in_schema=False)
Viewer = Annotated[Actor, Depends(require_user())]
PERIODS = (7, 30, 90)


def _heat_classes(matrix: list[list[int]]) -> list[list[int]]:
    """Each cell's shade 0–9, relative to the busiest cell (0 = no activity)."""
    peak = max((max(row) for row in matrix), default=0)
    if peak <= 0:
        return [[0] * len(row) for row in matrix]
    return [[0 if v <= 0 else min(9, 1 + int(8 * v / peak)) for v in row] for row in matrix]


def _dataset(label: str, data: list[Any], color: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"label": label, "data": data}
    if color:
        out["color"] = color
    return out


def _charts(platform: dict[str, Any], activation: list[dict[str, Any]]) -> dict[str, Any]:
    series = platform["series"]
    weeks = platform["lifecycle"]
    recency = platform["daysSinceLoginDistribution"]

    def weekly(key: str) -> list[Any]:
        return [w[key] for w in weeks]

    return {
        "active": {
            "type": "generic",
            "kind": "line",
            "labels": [str(p["date"]) for p in series],
            "datasets": [
                _dataset(k.upper(), [p[k] for p in series]) for k in ("dau", "wau", "mau")
            ],
            "yLabel": "Active tutors",
            "xLabel": "Local day",
        },
        "lifecycle": {
            "type": "generic",
            "kind": "bar",
            "stacked": True,
            "labels": [str(w["weekStart"]) for w in weeks],
            "datasets": [
                _dataset("New", weekly("new"), "#0f766e"),
                _dataset("Returning", weekly("returning"), "#1d4ed8"),
                _dataset("Resurrecting", weekly("resurrecting"), "#7c3aed"),
                _dataset("Dormant", weekly("dormant"), "#be123c"),
            ],
            "yLabel": "Tutors (dormant shown below zero)",
            "xLabel": "Week starting (Monday)",
        },
        "activation": {
            "type": "generic",
            "kind": "bar",
            "percent": True,
            "yMin": 0,
            "yMax": 1,
            "labels": [row["cohort"] for row in activation],
            "datasets": [
                _dataset("First session ≤ 7 days", [row["rate7d"] for row in activation]),
                _dataset("First session ≤ 30 days", [row["rate30d"] for row in activation]),
            ],
            "yLabel": "Share of join cohort",
            "xLabel": "Join month",
        },
        "recency": {
            "type": "generic",
            "kind": "bar",
            "labels": list(recency),
            "datasets": [_dataset("Tutors", list(recency.values()))],
            "yLabel": "Tutors (not churned)",
            "xLabel": "Days since last login",
        },
    }


@router.get("/activation")
def activation_page(
    request: Request,
    db: DbSession,
    clock: ClockDep,
    _actor: Viewer,
    days: Annotated[int, Query(ge=1, le=metrics.MAX_DAYS)] = 30,
    tutor: Annotated[str | None, Query(max_length=64)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    now = clock.now()
    platform = metrics.platform_metrics(db, days=days, now=now)
    timeline: dict[str, Any] | None = None
    timeline_error: str | None = None
    if tutor:
        try:
            timeline = metrics.timeline(
                db, tutor_external_id=tutor.strip(), limit=25, days=None, cursor=cursor, now=now
            )
        except AppError as exc:
            timeline_error = exc.message
    context = {
        "as_of": platform["computedAt"] or now,
        "days": days,
        "periods": PERIODS,
        "platform": platform,
        "charts": _charts(platform, platform["activation"]),
        "heat": _heat_classes(platform["heatmap"]["counts"]),
        "leaders": metrics.streak_leaderboard(db, limit=15),
        "tutor": tutor or "",
        "timeline": timeline,
        "timeline_error": timeline_error,
    }
    return render(request, "engagement/activation.html", context)
