"""Engagement metrics, timeline and the Activation page against hand-computed values.

A small world of UTC tutors at NOW = 2025-03-01 00:00 UTC, rolled up by the refresh:

| tutor | logins (days before NOW) | completed sessions (engagement) |
|---|---|---|
| T0001 | 1, 2, 3 (3-day streak) | 1 (8.0), 2 (6.0), 40 (9.0) |
| T0002 | 10 | 5 (4.0), 35 (5.0) |
| T0003 | — | — |
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from tests.api.conftest import NOW, Factory, Login

from tutorpulse.core.settings import Settings
from tutorpulse.engagement import refresh

D = timedelta(days=1)
H = timedelta(hours=1)


@pytest.fixture
def world(factory: Factory) -> dict[str, Any]:
    f = factory
    t1 = f.tutor("T0001", last_login_at=NOW - D + 3 * H)
    t2 = f.tutor("T0002", last_login_at=NOW - 10 * D + 3 * H)
    t3 = f.tutor("T0003")
    for days in (1, 2, 3):
        f.event(t1, NOW - days * D + 3 * H, "login")
    f.event(t1, NOW - 2 * D + 4 * H, "message_sent")
    f.event(t2, NOW - 10 * D + 3 * H, "login")
    f.session(t1, NOW - D + 2 * H, engagement_score=8.0, student_rating=5)
    f.session(t1, NOW - 2 * D + 2 * H, engagement_score=6.0, student_rating=4)
    f.session(t1, NOW - 40 * D + 2 * H, engagement_score=9.0, student_rating=3)
    f.session(t2, NOW - 5 * D + 2 * H, engagement_score=4.0, student_rating=2)
    f.session(t2, NOW - 35 * D + 2 * H, engagement_score=5.0)
    refresh.rebuild(lambda: f.db, settings=Settings(_env_file=None), now_fn=lambda: NOW)  # type: ignore[arg-type, call-arg]
    return {"t1": t1, "t2": t2, "t3": t3}


@pytest.fixture
def api(client: TestClient, api_key: Callable[..., str]) -> Callable[..., Any]:
    client.headers["Authorization"] = f"Bearer {api_key('read')}"

    def get(path: str, status: int = 200, **params: Any) -> Any:
        response = client.get(path, params=params)
        assert response.status_code == status, response.text
        return response.json()

    return get


def test_original_metrics_example(world: dict[str, Any], api: Callable[..., Any]) -> None:
    # "Today" is the latest rolled-up local day, 2025-03-01; 7 days = Feb 23 .. Mar 1.
    body = api("/api/engagement/metrics", days=7)
    assert body["window"] == {"start": "2025-02-23", "end": "2025-03-01"}
    assert body["currentPeriodCount"] == 3  # engagement 8, 6, 4
    assert body["value"] == pytest.approx(6.0)
    # The previous window is the `period` (30) days before: Jan 24 .. Feb 22 holds only
    # T0002's session 35 days ago (5.0); T0001's, 40 days ago (Jan 20), is outside.
    assert body["previousPeriodCount"] == 1
    assert body["previousValue"] == pytest.approx(5.0)
    assert body["percentChange"] == pytest.approx(20.0)
    assert body["trend"] == "up"
    platform = body["platform"]
    # KPIs are read on the last complete day, Feb 28: T0001 (login + session) was active.
    assert platform["kpiDay"] == "2025-02-28"
    assert platform["dau"]["value"] == 1
    assert platform["wau"]["value"] == 2  # T0001 (Feb 26-28) and T0002 (session Feb 24)
    assert platform["mau"]["value"] == 2
    assert platform["dau"]["previousValue"] == 0  # Feb 21: nobody
    series = {p["date"]: p for p in platform["series"]}
    assert series["2025-02-28"]["dau"] == 1
    assert series["2025-02-23"]["wau"] == 1  # only T0002 (login Feb 19) within Feb 17..23
    assert platform["eventTypeCounts"] == {"login": 3, "message_sent": 1}
    assert platform["streaks"]["maxCurrent"] == 3
    assert platform["daysSinceLoginDistribution"]["1-2"] == 1  # T0001: last login Feb 28 → 1 day
    assert platform["daysSinceLoginDistribution"]["7-13"] == 1  # T0002: Feb 19 → 10 days
    assert platform["daysSinceLoginDistribution"]["never"] == 1  # T0003
    heat = platform["heatmap"]["counts"]
    assert sum(map(sum, heat)) == 4
    assert heat[4][3] == 1  # Friday Feb 28, 03:00 login


def test_per_tutor_metric_and_rating(world: dict[str, Any], api: Callable[..., Any]) -> None:
    body = api("/api/engagement/metrics", tutorId="T0001", metricType="rating", days=7, period=30)
    assert (body["value"], body["currentPeriodCount"]) == (4.5, 2)
    assert body["previousValue"] is None  # nothing rated in Jan 24 .. Feb 22
    assert body["percentChange"] is None
    assert body["trend"] == "stable"
    assert "platform" not in body


def test_metrics_bad_parameters_are_400s(world: dict[str, Any], api: Callable[..., Any]) -> None:
    assert api("/api/engagement/metrics", status=400, metricType="x; DROP TABLE tutor")["details"]
    for params in ({"days": 0}, {"days": -3}, {"period": 100000}, {"eventsLimit": 5000}):
        api("/api/engagement/metrics", status=400, **params)
    api("/api/engagement/metrics", status=404, tutorId="T4040")


def test_include_events_is_paged(world: dict[str, Any], api: Callable[..., Any]) -> None:
    first = api("/api/engagement/metrics", days=7, includeEvents="true", eventsLimit=2)
    assert len(first["events"]) == 2
    assert first["eventsNextCursor"]
    rest = api("/api/engagement/metrics", days=7, includeEvents="true", eventsLimit=2,
               eventsCursor=first["eventsNextCursor"])  # fmt: skip
    assert len(rest["events"]) == 2
    assert rest["eventsNextCursor"] is None
    ids = [e["id"] for e in first["events"] + rest["events"]]
    assert len(set(ids)) == 4


def test_timeline_original_shape_and_cursor(world: dict[str, Any], api: Callable[..., Any]) -> None:
    body = api("/api/engagement/tutors/T0001/timeline", limit=3)
    assert body["count"] == 3
    assert [e["eventType"] for e in body["events"]] == ["login", "message_sent", "login"]
    assert set(body["events"][0]) == {"id", "timestamp", "eventType", "eventData"}
    more = api("/api/engagement/tutors/T0001/timeline", limit=3, cursor=body["nextCursor"])
    assert more["count"] == 1
    assert more["nextCursor"] is None
    assert api("/api/engagement/tutors/T0001/timeline", days=2)["count"] == 3
    api("/api/engagement/tutors/T0001/timeline", status=400, cursor="garbage!")
    api("/api/engagement/tutors/T0001/timeline", status=400, limit=100000)
    api("/api/engagement/tutors/T9999/timeline", status=404)


def test_activation_page_renders_live_numbers(
    world: dict[str, Any], login_as: Callable[[str], Login]
) -> None:
    viewer = login_as("viewer")
    response = viewer.client.get("/activation", params={"days": 7, "tutor": "T0001"})
    assert response.status_code == 200
    soup = BeautifulSoup(response.text, "html.parser")
    assert soup.select_one('[data-kpi="wau"] .kpi-value')["data-value"] == "2"
    cells = soup.select("table[data-heatmap] tbody td")
    assert len(cells) == 7 * 24
    leaders = soup.select("table[data-leaderboard] tbody tr")
    assert leaders[0].select("td")[1].a.text == "T0001"
    assert len(soup.select("table[data-timeline] tbody tr")) == 4
    for canvas in soup.select("canvas[data-chart]"):
        assert canvas.get("aria-label")
    missing = viewer.client.get("/activation", params={"tutor": "T0404"})
    assert "Unknown tutor" in missing.text
