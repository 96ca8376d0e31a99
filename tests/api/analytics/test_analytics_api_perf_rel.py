"""HTTP tests of /api/analytics/{performers,first-sessions,reliability,heatmap}.

A small hand-made marketplace: 14 Math tutors and 3 Science tutors with 12 completed
sessions each (ratings set per tutor), reschedules with known initiators and a
tutor whose sessions sit at known local times.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from tutorpulse.analytics import cache
from tutorpulse.analytics import snapshot_repository as stored_rows
from tutorpulse.analytics.warm import warm_all
from tutorpulse.core.clock import FrozenClock
from tutorpulse.core.settings import Settings

H = timedelta(hours=1)
D = timedelta(days=1)
SENTINEL = "zz_sentinel_metric"


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Cache off: rolled-back tests could otherwise share a data-version probe."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        scheduler_enabled=False,
        session_max_age_seconds=3600,
        analytics_cache_seconds=0,
        analytics_min_sessions=5,
    )


@pytest.fixture
def reader(api_key: Any, app: Any) -> TestClient:
    c = TestClient(app, follow_redirects=False)
    c.headers["Authorization"] = f"Bearer {api_key('read')}"
    return c


@pytest.fixture
def market(factory: Any, now: datetime) -> dict[str, Any]:
    f = factory
    tutors = []
    for i in range(17):
        subject = "Math" if i < 14 else "Science"
        t = f.tutor(
            f"T{i + 1:04d}",
            primary_subject=subject,
            subjects=[subject],
            joined_on=date(2024, 1, 1),
            timezone="America/New_York",
        )
        tutors.append(t)
        rating = 1 + (i % 5)
        student = f.student()
        for k in range(12):
            f.session(
                t,
                now - (k + 2) * D + 15 * H,
                student=student,
                student_rating=rating,
                student_satisfaction=2 * rating,
                engagement_score=float(2 * rating),
                empathy_score=float(2 * rating),
                clarity_score=float(2 * rating),
                would_recommend=rating >= 4,
                technical_issue=False,
                rebooked=True,
                is_first_session=k == 11,
            )
    # Reschedules: 3 by the tutor, 1 by the student; one tutor no-show.
    for k in range(3):
        f.session(tutors[0], now - (k + 2) * D + 18 * H, "rescheduled", rescheduled_by="tutor")
    f.session(tutors[1], now - 3 * D + 18 * H, "rescheduled", rescheduled_by="student")
    f.session(tutors[2], now - 4 * D + 18 * H, "tutor_no_show")
    return {"tutors": tutors}


def test_endpoints_need_the_read_scope(client: TestClient) -> None:
    for path in ("performers", "first-sessions", "reliability", "heatmap"):
        assert client.get(f"/api/analytics/{path}").status_code == 401


def test_performers_shape_and_shrunk_components(reader: TestClient, market: Any) -> None:
    r = reader.get("/api/analytics/performers")
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body["segments"]) == {"star", "average", "lagging"}
    assert body["summary"]["totalTutors"] == 17
    assert body["summary"]["starPerformers"] == 2  # ceil(10% of 17)
    star = body["segments"]["star"]["tutors"][0]
    # Rated 5 throughout: the best raw rating, shrunk towards (not past) the mean.
    assert star["components"]["rating"]["raw"] == pytest.approx(5.0)
    assert 3.0 < star["components"]["rating"]["shrunk"] <= 5.0
    assert star["compositeScore"] > 0
    lag = body["segments"]["lagging"]["tutors"][0]
    assert lag["components"]["rating"]["raw"] == pytest.approx(1.0)
    for f in body["differentiatingFactors"]:
        assert {"metric", "starAvg", "averageAvg", "laggingAvg", "effectSize", "pValue"} <= set(f)
        assert "pValueAdjusted" in f


def test_subject_filter_is_applied_before_the_analysis(reader: TestClient, market: Any) -> None:
    body = reader.get("/api/analytics/performers", params={"subject": "Science"}).json()
    assert body["summary"]["totalTutors"] == 3
    ids = {t["tutorId"] for seg in body["segments"].values() for t in seg["tutors"]}
    assert ids == {"T0015", "T0016", "T0017"}


def test_first_sessions_shape(reader: TestClient, market: Any) -> None:
    r = reader.get("/api/analytics/first-sessions")
    assert r.status_code == 200, r.text
    body = r.json()
    # Tutors rated 1 or 2 (i % 5 in {0, 1}) have a failed first session: 8 of 17.
    assert body["poorFirstSessionCohort"]["count"] == 8
    assert body["otherTutors"]["count"] == 9
    assert body["overallPopulation"]["count"] == 9  # the other tutors, not everyone
    rebook = body["studentRebooking"]
    assert rebook["poorFirstSessions"] == 8
    assert rebook["goodFirstSessions"] == 9
    assert "riskRatio" in body["churnConsequence"]


def test_reliability_initiator_split_and_local_slots(reader: TestClient, market: Any) -> None:
    r = reader.get("/api/analytics/reliability", params={"threshold": 0.2, "daysAhead": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["reschedules"]["byInitiator"] == {"tutor": 3, "student": 1}
    assert body["reschedules"]["tutorInitiatedShare"] == pytest.approx(0.75)
    assert body["noShows"]["tutorNoShows"] == 1
    # 15:00 UTC in New York (February, EST) is 10:00 local.
    hours = {row["hourOfDay"] for row in body["byLocalTime"]["byHourOfDay"]["rows"]}
    assert 10 in hours
    assert 15 not in hours


def test_heatmap_buckets_by_tutor_local_time(reader: TestClient, market: Any) -> None:
    r = reader.get("/api/analytics/heatmap", params={"metricType": "quality", "days": 30})
    assert r.status_code == 200, r.text
    cells = r.json()["heatmap"]
    assert {c["hourOfDay"] for c in cells} == {10}
    assert sum(c["count"] for c in cells) == 17 * 12
    one = reader.get(
        "/api/analytics/heatmap", params={"metricType": "quality", "tutorId": "T0005"}
    ).json()
    assert all(c["value"] == pytest.approx(5.0) for c in one["heatmap"])
    assert reader.get("/api/analytics/heatmap", params={"tutorId": "T9999"}).status_code == 404


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("heatmap", {"metricType": "bogus"}, "metricType"),
        ("heatmap", {"metricType": "engagement_score; DROP TABLE tutor"}, "metricType"),
        ("heatmap", {"days": "-1"}, "days"),
        ("heatmap", {"days": "100000"}, "days"),
        ("heatmap", {"days": "NaN"}, "days"),
        ("performers", {"limit": "0"}, "limit"),
        ("performers", {"subject": "Math' OR '1'='1"}, "subject"),
        ("first-sessions", {"subject": "x; DROP TABLE tutor_session;--"}, "subject"),
        ("reliability", {"threshold": "2"}, "threshold"),
        ("reliability", {"daysAhead": "-3"}, "daysAhead"),
        ("reliability", {"limit": "100000"}, "limit"),
    ],
)
def test_bad_parameters_get_400_naming_the_field(
    reader: TestClient, path: str, params: dict[str, str], field: str
) -> None:
    r = reader.get(f"/api/analytics/{path}", params=params)
    assert r.status_code == 400, r.text
    assert field in {d["field"] for d in r.json()["details"]}


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append(f"{statement} {parameters!r}")

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def test_metric_name_never_reaches_sql(
    reader: TestClient, market: Any, statements: list[str]
) -> None:
    r = reader.get("/api/analytics/heatmap", params={"metricType": SENTINEL})
    assert r.status_code == 400
    ok = reader.get("/api/analytics/heatmap", params={"metricType": "technical"})
    assert ok.status_code == 200
    assert statements  # the listener sees the queries
    assert not any(SENTINEL in s for s in statements)
    assert not any("technical'" in s or "'technical" in s for s in statements)


def test_results_are_cached_until_tutors_change_or_the_entry_expires(
    reader: TestClient, market: Any, factory: Any, now: datetime, settings: Settings
) -> None:
    settings.analytics_cache_seconds = 300
    cache.clear()
    try:
        first = reader.get("/api/analytics/heatmap", params={"metricType": "quality"}).json()
        t = market["tutors"][0]
        factory.session(t, now - 2 * D + 16 * H, student_rating=5)
        # A new session alone is picked up when the entry expires...
        cached = reader.get("/api/analytics/heatmap", params={"metricType": "quality"}).json()
        assert cached == first
        cache.clear()  # ...which clearing stands in for.
        fresh = reader.get("/api/analytics/heatmap", params={"metricType": "quality"}).json()
        assert fresh["n"] == first["n"] + 1
        # A new tutor changes the probe and shows at once.
        new = factory.tutor("T0999", timezone="America/New_York")
        factory.session(new, now - 2 * D + 15 * H, student_rating=1)
        after = reader.get("/api/analytics/heatmap", params={"metricType": "quality"}).json()
        assert after["n"] == fresh["n"] + 1
    finally:
        cache.clear()
        settings.analytics_cache_seconds = 0


def test_default_views_are_served_from_what_analytics_warm_stored(
    reader: TestClient,
    market: Any,
    factory: Any,
    db: Session,
    now: datetime,
    clock: FrozenClock,
    settings: Settings,
) -> None:
    settings.analytics_cache_seconds = 300
    cache.clear()
    try:
        own = sessionmaker(bind=db.connection(), join_transaction_mode="create_savepoint")
        result = warm_all(own, settings=settings, now=now)
        assert result["errors"] == {}
        assert {
            "performers",
            "first-sessions",
            "reliability",
            "heatmap:engagement",
            "heatmap:no_show",
            "trends:engagement:30:-",
            "trends:cohort:90:primarySubject",
            "trends:retention:180:-",
        } <= set(result["seconds"])
        heat = reader.get("/api/analytics/heatmap").json()
        retention = reader.get("/api/analytics/trends", params={"type": "retention"}).json()
        stored = stored_rows.load(db, "trends:retention:180:-")
        assert stored is not None
        assert retention == stored[1]
        full = reader.get("/api/analytics/performers", params={"limit": 500}).json()
        one = reader.get("/api/analytics/performers", params={"limit": 1}).json()
        assert len(full["segments"]["average"]["tutors"]) > 1
        for seg in ("star", "average", "lagging"):
            assert one["segments"][seg]["tutors"] == full["segments"][seg]["tutors"][:1]
            assert one["segments"][seg]["count"] == full["segments"][seg]["count"]

        # New data: the default view keeps the stored result; another window is summed
        # from the heatmap cube the same run stored, so it too shows the data of the run.
        factory.session(market["tutors"][0], now - 2 * D + 16 * H, engagement_score=10.0)
        assert reader.get("/api/analytics/heatmap").json() == heat
        from_cube = reader.get("/api/analytics/heatmap", params={"days": 31}).json()
        assert from_cube["n"] == heat["n"]
        # Two refresh intervals later the stored results are too old and are not served.
        clock.set(now + timedelta(seconds=601))
        assert reader.get("/api/analytics/heatmap").json()["n"] == heat["n"] + 1
        assert (
            reader.get("/api/analytics/heatmap", params={"days": 31}).json()["n"] == heat["n"] + 1
        )
    finally:
        cache.clear()
        clock.set(now)
        settings.analytics_cache_seconds = 0


# --- pages ------------------------------------------------------------------------------


def _soup(response: Any) -> BeautifulSoup:
    assert response.status_code == 200, response.text[:500]
    return BeautifulSoup(response.text, "html.parser")


def _chart(canvas: Any) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(canvas["data-perf-chart"])
    return spec


def test_pages_need_login(client: TestClient) -> None:
    for path in ("performers", "first-sessions", "reliability"):
        r = client.get(f"/analytics/{path}")
        assert r.status_code in (302, 303)


def test_performers_page_shows_leaderboard_factors_and_method(viewer: Any, market: Any) -> None:
    soup = _soup(viewer.client.get("/analytics/performers"))
    board = soup.find(attrs={"data-testid": "leaderboard"})
    first = board.find("tbody").find("tr")
    assert first.find("a")["href"] == "/tutors/T0005"  # rated 5 throughout, most sessions
    factors = soup.find(attrs={"data-testid": "factors"})
    metrics = {tr["data-metric"] for tr in factors.find("tbody").find_all("tr")}
    assert "tutorNoShowRate" in metrics
    chart = soup.find(attrs={"data-testid": "comparison"})
    spec = _chart(chart.find("canvas"))
    assert spec["type"] == "forest"
    assert len(spec["labels"]) == len(metrics)
    assert "n = 2 star, 13 average, 2 lagging" in chart.find(class_="method").get_text()
    assert soup.find("script", src="/static/js/analytics-perf.js")
    assert not soup.find("script", src=False)  # no inline script (CSP)


def test_performers_page_subject_filter_and_empty_state(viewer: Any, market: Any) -> None:
    soup = _soup(viewer.client.get("/analytics/performers", params={"subject": "Science"}))
    sel = soup.find("select", {"name": "subject"}).find("option", selected=True)
    assert sel["value"] == "Science"
    assert soup.find(attrs={"data-testid": "summary"})
    empty = _soup(viewer.client.get("/analytics/performers", params={"subject": "History"}))
    # An unknown subject shows everyone rather than an error.
    assert empty.find(attrs={"data-testid": "summary"})


def test_first_sessions_page_shows_cohorts_and_churn(viewer: Any, market: Any) -> None:
    soup = _soup(viewer.client.get("/analytics/first-sessions"))
    cohorts = soup.find(attrs={"data-testid": "cohorts"})
    assert cohorts.find(attrs={"data-field": "poor"}).get_text(strip=True) == "8"
    assert cohorts.find(attrs={"data-field": "other"}).get_text(strip=True) == "9"
    churn = soup.find(attrs={"data-testid": "churn"})
    spec = _chart(churn.find("canvas"))
    assert spec["type"] == "ratios"
    assert len(spec["value"]) == 3
    assert "Cox" in churn.get_text()


def test_reliability_page_shows_kpis_heatmap_and_lists(viewer: Any, market: Any) -> None:
    soup = _soup(viewer.client.get("/analytics/reliability"))
    share = soup.find(attrs={"data-field": "tutor-share"}).get_text(strip=True)
    assert share == "75.0%"
    heat = soup.find(attrs={"data-testid": "heatmap"}).find("table")
    rows = heat.find("tbody").find_all("tr")
    assert len(rows) == 7
    assert all(len(r.find_all("td")) == 24 for r in rows)
    assert soup.find(attrs={"data-testid": "correlations"})
    bad = viewer.client.get("/analytics/reliability", params={"threshold": "5"})
    assert bad.status_code == 400


def test_pages_empty_database_say_what_to_do(viewer: Any) -> None:
    for path in ("performers", "first-sessions", "reliability"):
        soup = _soup(viewer.client.get(f"/analytics/{path}"))
        assert soup.find(attrs={"data-testid": "empty"}), path
