"""The dashboard JSON endpoints against figures computed by hand from the world fixture."""

from __future__ import annotations

import math
from typing import Any

import pytest
from scipy import stats

READ = "read"


@pytest.fixture
def api(client: Any, api_key: Any) -> Any:
    headers = {"Authorization": f"Bearer {api_key(READ)}"}

    def get(path: str, **params: Any) -> Any:
        response = client.get(path, params=params, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    get.raw = lambda path, **params: client.get(path, params=params, headers=headers)  # type: ignore[attr-defined]
    return get


# --- /api/dashboard/metrics ----------------------------------------------------------------


def test_metrics_before_risk_is_scored(world: Any, api: Any) -> None:
    body = api("/api/dashboard/metrics")
    assert body["totalTutors"] == 4  # T0001, T0002, T0005, T0006 are active
    assert body["highRiskCount"] is None
    assert body["riskStatus"] == "not yet scored"
    # Completed sessions in the 30 days before now with an engagement score:
    # 8, 6, 7 (T0001), 5 (T0002), 10 (T0003), 4 (T0004); 9 is 40 days old.
    assert body["avgEngagement"] == pytest.approx((8 + 6 + 7 + 5 + 10 + 4) / 6)
    # T0002's only first session is rated 2; T0001's average exactly 3.5 (not poor).
    assert body["poorFirstSessionCount"] == 1
    assert body["asOf"].startswith("2025-03-01T00:00:00")


def test_metrics_after_scoring_counts_active_high_risk_only(
    world: Any, api: Any, factory: Any
) -> None:
    t = world.tutors
    factory.health(t["T0001"], churn_probability=0.8, churn_risk_level="high")
    factory.health(t["T0002"], churn_probability=0.4, churn_risk_level="medium")
    factory.health(t["T0004"], churn_probability=0.9, churn_risk_level="High")  # churned
    body = api("/api/dashboard/metrics")
    assert body["highRiskCount"] == 1
    assert body["riskStatus"] == "scored"


def test_metrics_on_an_empty_database(api: Any) -> None:
    body = api("/api/dashboard/metrics")
    assert body == {
        "totalTutors": 0,
        "highRiskCount": None,
        "riskStatus": "not yet scored",
        "avgEngagement": None,
        "poorFirstSessionCount": 0,
        "asOf": body["asOf"],
    }


# --- /api/dashboard/tutors ------------------------------------------------------------------


@pytest.fixture
def scored(world: Any, factory: Any) -> Any:
    t = world.tutors
    factory.health(
        t["T0001"],
        churn_probability=0.8,
        churn_risk_level="high",
        sessions_7d=2,
        tutor_no_show_rate_30d=0.2,
        current_login_streak=3,
    )
    factory.health(t["T0002"], churn_probability=0.4, churn_risk_level="medium")
    factory.health(t["T0004"], churn_probability=0.9, churn_risk_level="high")
    factory.health(t["T0005"])  # a snapshot without a risk score yet
    return world


def test_tutors_sorted_by_churn_over_the_whole_result_then_id(scored: Any, api: Any) -> None:
    body = api("/api/dashboard/tutors")
    assert [r["tutorId"] for r in body["tutors"]] == [
        "T0004",
        "T0001",
        "T0002",
        "T0003",
        "T0005",
        "T0006",
    ]
    assert (body["total"], body["limit"], body["offset"]) == (6, 50, 0)
    page = api("/api/dashboard/tutors", limit=2, offset=1)
    assert [r["tutorId"] for r in page["tutors"]] == ["T0001", "T0002"]
    assert page["total"] == 6


def test_tutor_rows_are_camel_case_with_health_or_nulls(
    scored: Any, api: Any, factory: Any
) -> None:
    factory.tutor("T0099", name="Gil New")  # created after the last refresh: no health row yet
    rows = {r["tutorId"]: r for r in api("/api/dashboard/tutors", limit=200)["tutors"]}
    ann = rows["T0001"]
    assert ann["name"] == "Ann Alvarez"
    assert ann["email"] == "ann@example.test"
    assert ann["primarySubject"] == "Math"
    assert ann["subjects"] == ["Math"]
    assert ann["certificationLevel"] == "basic"
    assert ann["status"] == "active"
    assert ann["joinedOn"] == "2024-01-01"
    assert ann["sessions7d"] == 2
    assert ann["tutorNoShowRate30d"] == 0.2
    assert ann["currentLoginStreak"] == 3
    assert ann["churnProbability"] == 0.8
    assert ann["churnRiskLevel"] == "high"
    newcomer = rows["T0099"]  # no health row at all
    for field in (
        "sessions7d",
        "avgRating30d",
        "churnProbability",
        "daysSinceLastLogin",
        "healthAsOf",
    ):
        assert newcomer[field] is None
    assert not any("_" in key for key in ann)


def test_tutors_filters(scored: Any, api: Any) -> None:
    high = api("/api/dashboard/tutors", risk_level="High")
    assert [r["tutorId"] for r in high["tutors"]] == ["T0004", "T0001"]
    assert high["total"] == 2
    math_ = api("/api/dashboard/tutors", subject="math")
    assert [r["tutorId"] for r in math_["tutors"]] == ["T0001", "T0003"]
    active = api("/api/dashboard/tutors", status="active")
    assert active["total"] == 4


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": 10**20}, "offset"),
        ({"risk_level": "extreme"}, "risk_level"),
        ({"status": "sleeping"}, "status"),
    ],
)
def test_tutors_bad_paging_or_filters_are_400_naming_the_field(
    api: Any, params: dict[str, Any], field: str
) -> None:
    response = api.raw("/api/dashboard/tutors", **params)
    assert response.status_code == 400
    body = response.json()
    assert [d["field"] for d in body["details"]] == [field]
    assert field in body["error"]


# --- /api/dashboard/overview ------------------------------------------------------------------


def test_overview_kpis_match_hand_computed_values(world: Any, api: Any) -> None:
    kpis = {k["key"]: k for k in api("/api/dashboard/overview")["kpis"]}
    assert (kpis["tutors"]["value"], kpis["tutors"]["previous"]) == (5, 4)
    assert kpis["tutors"]["change"] == pytest.approx(25.0)
    assert (kpis["active_7d"]["value"], kpis["active_7d"]["previous"]) == (4, 3)
    assert kpis["active_7d"]["change"] == pytest.approx(100 / 3)
    assert (kpis["sessions_7d"]["value"], kpis["sessions_7d"]["previous"]) == (4, 3)
    # Current window: 6 sessions with an outcome (4 completed, 1 tutor no-show,
    # 1 cancelled); previous: 4 (3 completed, 1 rescheduled).
    assert kpis["completion_rate"]["value"] == pytest.approx(4 / 6)
    assert kpis["completion_rate"]["previous"] == pytest.approx(3 / 4)
    assert kpis["completion_rate"]["change"] == pytest.approx((4 / 6 - 3 / 4) * 100)
    assert kpis["completion_rate"]["changeUnit"] == "pp"
    assert kpis["tutor_no_show_rate"]["value"] == pytest.approx(1 / 6)
    assert kpis["tutor_no_show_rate"]["previous"] == 0
    assert kpis["tutor_no_show_rate"]["better"] == "down"
    assert kpis["reschedule_rate"]["value"] == 0
    assert kpis["reschedule_rate"]["previous"] == pytest.approx(0.25)
    for k in kpis.values():
        assert len(k["series"]) == 28
        assert k["how"]


def test_overview_daily_series(world: Any, api: Any) -> None:
    kpis = {k["key"]: k for k in api("/api/dashboard/overview")["kpis"]}
    completed = [p["value"] for p in kpis["sessions_7d"]["series"]]
    # Oldest first; the last point is the 24 hours before now.
    assert completed[-1] == 2
    assert completed[-2] == 1
    assert completed[-5] == 1
    assert sum(completed[-7:]) == 4
    assert sum(completed[-14:-7]) == 3
    active = [p["value"] for p in kpis["active_7d"]["series"]]
    assert active[-1] == 2  # T0001 and T0003
    assert active[-2] == 1  # T0001 twice (a session and a login) counts once
    assert active[-3] == 1  # T0005's login; T0001's no-show is not activity
    completion = [p["value"] for p in kpis["completion_rate"]["series"]]
    assert completion[-1] == 1.0
    assert completion[-3] == 0.0
    assert completion[-4] is None
    roster = [p["value"] for p in kpis["tutors"]["series"]]
    assert roster[-1] == 5
    last = kpis["sessions_7d"]["series"][-1]
    assert last["end"].startswith("2025-03-01T00:00")
    assert last["start"].startswith("2025-02-28")


def test_overview_with_no_data_has_no_invented_changes(api: Any) -> None:
    kpis = {k["key"]: k for k in api("/api/dashboard/overview")["kpis"]}
    assert kpis["tutors"]["value"] == 0
    assert kpis["tutors"]["change"] is None
    assert kpis["completion_rate"]["value"] is None
    assert kpis["completion_rate"]["change"] is None


# --- /api/tutors ---------------------------------------------------------------------------


def test_tutor_list_live_figures(world: Any, api: Any) -> None:
    rows = {r["tutorId"]: r for r in api("/api/tutors", limit=10)["tutors"]}
    ann = rows["T0001"]
    assert (ann["sessions7d"], ann["sessions30d"]) == (2, 3)
    assert ann["avgRating30d"] == pytest.approx(4.0)
    assert ann["tutorNoShowRate30d"] == pytest.approx(1 / 5)
    ben = rows["T0002"]
    assert (ben["sessions7d"], ben["sessions30d"], ben["avgRating30d"]) == (1, 2, 2.5)
    assert ben["tutorNoShowRate30d"] == 0
    eve = rows["T0005"]
    assert (eve["sessions30d"], eve["avgRating30d"], eve["tutorNoShowRate30d"]) == (0, None, None)


def test_tutor_list_search_filter_sort_page(world: Any, api: Any) -> None:
    def ids(**params: Any) -> list[str]:
        return [r["tutorId"] for r in api("/api/tutors", **params)["tutors"]]

    assert ids(q="chen") == ["T0003"]
    assert ids(q="EVE@EXAMPLE") == ["T0005"]
    assert ids(q="t000") == ["T0001", "T0002", "T0003", "T0004", "T0005", "T0006"]
    assert ids(q="100%_") == []
    assert ids(status="churned") == ["T0004"]
    assert ids(certification="expert") == ["T0003"]
    assert ids(subject="English") == ["T0004", "T0005"]
    assert ids(sort="sessions30d", order="desc") == [
        "T0001",
        "T0002",
        "T0003",
        "T0004",
        "T0005",
        "T0006",
    ]
    assert ids(sort="avgRating30d", order="asc")[:4] == ["T0002", "T0001", "T0003", "T0004"]
    page = api("/api/tutors", sort="name", order="desc", limit=2, offset=2)
    assert [r["tutorId"] for r in page["tutors"]] == ["T0004", "T0003"]
    assert page["total"] == 6
    # A page sorted by a stored column computes live figures for its tutors only:
    # they must equal the figures computed for everyone (sorting by a live figure).
    everyone = api("/api/tutors", sort="sessions30d", order="desc", limit=50)["tutors"]
    by_id = {r["tutorId"]: r for r in everyone}
    for row in page["tutors"]:
        assert row == by_id[row["tutorId"]]
    assert any(row["sessions30d"] for row in page["tutors"])
    bad = api.raw("/api/tutors", sort="password")
    assert bad.status_code == 400
    assert bad.json()["details"][0]["field"] == "sort"


# --- one tutor ---------------------------------------------------------------------------------


def test_tutor_detail(world: Any, api: Any) -> None:
    body = api("/api/tutors/T0001")
    assert body["profile"]["tutorId"] == "T0001"
    live = body["live"]
    assert live["sessions30d"] == 3
    assert live["sessionsWithOutcome30d"] == 5
    assert live["ratings30d"] == 3
    assert live["avgRating30d"] == pytest.approx(4.0)
    assert live["tutorNoShowRate30d"] == pytest.approx(0.2)
    assert live["rescheduleRate30d"] == pytest.approx(0.2)
    assert live["firstSessionCount"] == 2
    assert live["firstSessionAvgRating"] == 3.5
    health = body["health"]  # rebuilt from the same rows by the engagement refresh
    assert (health["sessions7d"], health["sessions30d"], health["sessionsTotal"]) == (2, 3, 4)
    assert health["avgRating30d"] == pytest.approx(live["avgRating30d"])
    assert health["tutorNoShowRate30d"] == pytest.approx(live["tutorNoShowRate30d"])
    assert health["rescheduleRateTutor30d"] == pytest.approx(live["rescheduleRate30d"])
    assert (health["firstSessionCount"], health["firstSessionAvgRating"]) == (2, 3.5)
    assert health["poorFirstSessionFlag"] is False
    assert (health["currentLoginStreak"], health["longestLoginStreak"]) == (0, 1)
    assert health["localDay"] == "2025-03-01"
    weeks = body["ratingsByWeek"]
    assert len(weeks) == 12
    this_week, last_week = weeks[-1], weeks[-2]
    assert (this_week["n"], this_week["mean"]) == (2, 4.5)
    half = stats.t.ppf(0.975, 1) * math.sqrt(0.5) / math.sqrt(2)
    assert this_week["ciLow"] == pytest.approx(4.5 - half)
    assert this_week["ciHigh"] == pytest.approx(4.5 + half)
    assert (last_week["n"], last_week["mean"], last_week["ciLow"]) == (1, 3.0, None)
    assert weeks[-6]["n"] == 1  # the first session 40 days ago
    assert sum(w["n"] for w in weeks) == 4


def test_tutor_sessions_and_events_paged(world: Any, api: Any) -> None:
    page = api("/api/tutors/T0001/sessions", limit=2)
    assert page["total"] == 7
    assert page["limit"] == 2
    assert [s["status"] for s in page["sessions"]] == ["scheduled", "completed"]
    assert page["sessions"][1]["studentRating"] == 5
    assert page["sessions"][1]["isFirstSession"] is True
    rest = api("/api/tutors/T0001/sessions", limit=2, offset=6)
    assert len(rest["sessions"]) == 1
    events = api("/api/tutors/T0001/events")
    assert events["total"] == 1
    assert events["events"][0]["eventType"] == "login"


def test_unknown_tutor_is_404(world: Any, api: Any) -> None:
    for path in ("/api/tutors/T9999", "/api/tutors/T9999/sessions", "/api/tutors/T9999/events"):
        response = api.raw(path)
        assert response.status_code == 404
        assert response.json() == {"error": "Tutor T9999 not found", "details": []}


def test_over_long_path_id_is_400_naming_the_camel_case_field(api: Any) -> None:
    response = api.raw("/api/tutors/" + "T" * 65)
    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == "tutorId"
