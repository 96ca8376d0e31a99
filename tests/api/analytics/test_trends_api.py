"""``GET /api/analytics/trends`` over HTTP: figures by hand, bad input, injection, caching.

``NOW`` is 2025-03-01 00:00 UTC. T-NY is in New York (UTC−5 in February), T-BE in
Berlin (UTC+1). The last complete local day everywhere is 2025-02-27 (New York's
28 February ends at 05:00 UTC on 1 March, after the data ends).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session

from tutorpulse.analytics.trends_cache import TrendsCache
from tutorpulse.tutors.models import Tutor

READ = "read"


def at(day: str, hh: int, mm: int = 0) -> datetime:
    y, m, d = (int(x) for x in day.split("-"))
    return datetime(y, m, d, hh, mm, tzinfo=UTC)


@pytest.fixture
def api(client: Any, api_key: Any) -> Any:
    headers = {"Authorization": f"Bearer {api_key(READ)}"}

    def get(expect: int = 200, **params: Any) -> Any:
        response = client.get("/api/analytics/trends", params=params, headers=headers)
        assert response.status_code == expect, response.text
        return response.json()

    return get


@pytest.fixture
def market(factory: Any) -> dict[str, Any]:
    ny = factory.tutor("T-NY", timezone="America/New_York", primary_subject="Math")
    be = factory.tutor("T-BE", timezone="Europe/Berlin", primary_subject="Science")
    factory.event(ny, at("2025-01-01", 12))  # data start, far before the window
    # New York: 03:00 UTC on the 27th is 22:00 on the 26th locally.
    factory.session(ny, at("2025-02-27", 3), engagement_score=8.0, subject="Math")
    factory.session(ny, at("2025-02-27", 15), engagement_score=6.0, subject="Math")
    # Berlin: 23:30 UTC on the 26th is 00:30 on the 27th locally.
    factory.session(be, at("2025-02-26", 23, 30), engagement_score=4.0, subject="Science")
    factory.session(be, at("2025-02-26", 12), engagement_score=10.0, subject="Science")
    factory.session(ny, at("2025-02-25", 14), status="tutor_no_show", subject="Math")
    factory.session(ny, at("2025-02-28", 12), engagement_score=1.0)  # not a complete day yet
    factory.event(be, at("2025-02-28", 20))
    return {"ny": ny, "be": be}


def test_engagement_series_groups_by_the_tutors_local_date(market: Any, api: Any) -> None:
    body = api(type="engagement", days=7, metric="engagement", maWindow=2)
    assert body["analysisType"] == "engagement"
    assert body["period"]["firstDay"] == "2025-02-21"
    assert body["period"]["lastDay"] == "2025-02-27"
    by_day = {p["date"]: p for p in body["data"]}
    assert len(by_day) == 7
    assert by_day["2025-02-26"]["value"] == pytest.approx((8 + 10) / 2)
    assert by_day["2025-02-27"]["value"] == pytest.approx((6 + 4) / 2)
    assert by_day["2025-02-26"]["n"] == 2
    assert by_day["2025-02-25"]["value"] is None
    assert by_day["2025-02-25"]["n"] == 0
    assert by_day["2025-02-27"]["movingAverage"] == pytest.approx(7.0)
    summary = body["summary"]
    assert summary["avgValue"] == pytest.approx(7.0)  # pooled over the 4 sessions
    assert summary["sampleSize"] == 4
    assert summary["dataPoints"] == 2
    assert set(body["trend"]) >= {"direction", "slope", "pValue", "slopeCiLow", "confidence"}


def test_rate_metric_subject_and_tutor_filters(market: Any, api: Any) -> None:
    body = api(type="engagement", days=7, metric="tutorNoShowRate")
    by_day = {p["date"]: p for p in body["data"]}
    assert by_day["2025-02-25"]["value"] == 1.0  # the only due session that day
    assert by_day["2025-02-26"]["value"] == 0.0
    assert by_day["2025-02-26"]["n"] == 2
    science = api(type="engagement", days=7, subject="Science")
    assert science["summary"]["avgValue"] == pytest.approx(7.0)
    assert science["summary"]["sampleSize"] == 2
    ny = api(type="engagement", days=7, tutorId="T-NY")
    assert ny["summary"]["avgValue"] == pytest.approx(7.0)
    assert ny["tutorId"] == "T-NY"
    api(expect=404, type="engagement", tutorId="T-NOPE")


def test_seasonal_profile_uses_local_weekday_and_hour(market: Any, api: Any) -> None:
    body = api(type="seasonal", days=7, metric="engagement")
    weekdays = {b["label"]: b for b in body["dayOfWeek"]}
    # 2025-02-26 is a Wednesday, 2025-02-27 a Thursday.
    assert weekdays["Wednesday"]["value"] == pytest.approx(9.0)
    assert weekdays["Thursday"]["value"] == pytest.approx(5.0)
    hours = {b["key"]: b for b in body["hourOfDay"]}
    assert hours[22]["n"] == 1
    assert hours[22]["value"] == pytest.approx(8.0)
    assert hours[0]["value"] == pytest.approx(4.0)  # Berlin 00:30
    assert body["insights"]["bestDay"]["dayName"] == "Wednesday"
    assert body["insights"]["variance"] == pytest.approx(4.0)
    assert body["dayOfWeekTest"]["unit"] == "days"


def test_cohorts_by_session_subject(market: Any, api: Any) -> None:
    body = api(type="cohort", days=7, cohortField="sessionSubject")
    names = [c["cohort"] for c in body["cohorts"]]
    assert set(names) == {"Math", "Science"}
    math_ = next(c for c in body["cohorts"] if c["cohort"] == "Math")
    assert math_["average"] == pytest.approx(7.0)
    assert math_["sampleSize"] == 2
    for field in ("primarySubject", "certificationLevel", "churnRiskLevel", "joinMonth"):
        assert api(type="cohort", days=7, cohortField=field)["cohortField"] == field


def test_retention_censors_active_tutors_and_leaves_future_cells_empty(
    factory: Any, api: Any
) -> None:
    a = factory.tutor(
        "A", joined_on=date(2025, 1, 10), status="churned", churned_at=at("2025-02-10", 12)
    )
    b = factory.tutor("B", joined_on=date(2025, 1, 15))
    c = factory.tutor("C", joined_on=date(2025, 1, 20))
    d = factory.tutor("D", joined_on=date(2025, 2, 5), last_login_at=at("2025-02-27", 9))
    factory.session(a, at("2025-01-12", 15))
    factory.session(b, at("2025-01-20", 10))  # then silent for > 30 days: lost on day 5
    factory.session(c, at("2025-02-25", 15))  # active: censored at the data end (day 40)
    factory.event(d, at("2025-02-27", 9))
    factory.event(d, at("2025-02-28", 12), "profile_updated")
    body = api(type="retention", cohortStartDate="2025-01-01", days=28)
    assert body["asOf"].startswith("2025-03-01T00:00:00")
    jan, feb = body["cohorts"]
    assert (jan["cohort"], jan["size"], jan["lost"], jan["censored"]) == ("2025-01", 3, 2, 1)
    at30 = next(s for s in jan["survivalAt"] if s["day"] == 30)
    assert at30["survival"] == pytest.approx(2 / 3)  # B lost on day 5; A on day 31
    at60 = next(s for s in jan["survivalAt"] if s["day"] == 60)
    assert at60["survival"] is None  # nobody followed that long
    assert (feb["size"], feb["lost"]) == (1, 0)
    assert body["logRank"]["groups"] == 2
    rows = {r["cohort"]: r for r in body["matrix"]["rows"]}
    assert body["matrix"]["periods"] == 4
    assert rows["2025-01"]["cells"] == [pytest.approx(2 / 3), 0.0, 0.0, 0.0]
    # D joined 24 days before the end: periods 0-2 have elapsed, period 3 has not.
    assert rows["2025-02"]["cells"] == [0.0, 0.0, 0.0, None]
    assert rows["2025-02"]["eligible"] == [1, 1, 1, 0]
    assert body["summary"]["initialSize"] == 4


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"type": "engagement", "metric": "nope"}, "metric"),
        ({"type": "engagement", "days": -1}, "days"),
        ({"type": "engagement", "days": 0}, "days"),
        ({"type": "engagement", "days": 10**9}, "days"),
        ({"type": "engagement", "days": "ten"}, "days"),
        ({"type": "engagement", "maWindow": 0}, "maWindow"),
        ({"type": "engagement", "maWindow": 10**6}, "maWindow"),
        ({"type": "banana"}, "type"),
        ({}, "type"),
        ({"type": "cohort"}, "cohortField"),
        ({"type": "cohort", "cohortField": "shoeSize"}, "cohortField"),
        ({"type": "cohort", "cohortField": "sessionSubject", "metric": "logins"}, "cohortField"),
        ({"type": "engagement", "metric": "logins", "subject": "Math"}, "subject"),
        ({"type": "retention", "cohortStartDate": "yesterday"}, "cohortStartDate"),
        ({"type": "engagement", "anomalyThreshold": -2}, "anomalyThreshold"),
        ({"type": "retention", "matrixPeriod": "year"}, "matrixPeriod"),
    ],
)
def test_bad_parameters_are_400_naming_the_field(
    api: Any, params: dict[str, Any], field: str
) -> None:
    body = api(expect=400, **params)
    assert field in [d["field"] for d in body["details"]], body


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, sql: str, params: Any, *_args: Any) -> None:
        seen.append((sql, params))

    event.listen(engine, "before_cursor_execute", capture)
    yield seen
    event.remove(engine, "before_cursor_execute", capture)


def test_metric_names_and_filters_never_reach_sql_text(
    market: Any, api: Any, statements: list[tuple[str, Any]]
) -> None:
    for metric in ("tutorNoShowRate", "technicalIssueRate", "engagement", "logins"):
        for kind in ("engagement", "seasonal"):
            api(type=kind, days=7, metric=metric)
    api(type="engagement", days=7, subject="Zyzzyva")
    api(type="cohort", days=7, cohortField="primarySubject", metric="rating")
    sql_text = "\n".join(s for s, _ in statements)
    assert "tutor_session" in sql_text  # the capture sees the analytics queries
    for word in ("tutorNoShowRate", "technicalIssueRate", "logins", "Zyzzyva", "primarySubject"):
        assert word not in sql_text
    assert any("Zyzzyva" in str(p) for _, p in statements)  # it went as a bound parameter


def test_sql_injection_attempts_are_rejected_or_inert(market: Any, api: Any, db: Session) -> None:
    body = api(
        expect=400, type="engagement", metric="engagement_score) FROM tutor; DROP TABLE tutor; --"
    )
    assert body["details"][0]["field"] == "metric"
    api(expect=400, type="cohort", cohortField="primary_subject; DELETE FROM tutor")
    inert = api(type="engagement", days=7, subject="x' OR '1'='1")
    assert inert["summary"]["sampleSize"] == 0
    api(expect=404, type="engagement", tutorId="' OR 1=1 --")
    assert db.scalar(select(func.count()).select_from(Tutor)) == 2


def test_requires_an_api_key_with_read_scope(client: Any, api_key: Any) -> None:
    assert client.get("/api/analytics/trends", params={"type": "engagement"}).status_code == 401
    headers = {"Authorization": f"Bearer {api_key('ingest')}"}
    response = client.get("/api/analytics/trends", params={"type": "seasonal"}, headers=headers)
    assert response.status_code == 403


def test_cached_results_refresh_within_the_interval_and_on_new_tutors(
    market: Any, api: Any, factory: Any, app: Any
) -> None:
    ticks = {"now": 0.0}
    cache = TrendsCache(300, clock=lambda: ticks["now"], background=False)
    app.state.analytics_trends_cache = cache
    first = api(type="engagement", days=7)
    assert api(type="engagement", days=7) == first
    assert cache.hits == 1
    # A late row for a past day shows once the refresh interval has passed.
    factory.session(market["be"], at("2025-02-27", 12), engagement_score=10.0)
    ticks["now"] = 299.0
    assert api(type="engagement", days=7)["summary"]["sampleSize"] == 4
    ticks["now"] = 301.0
    assert api(type="engagement", days=7)["summary"]["sampleSize"] == 5
    # A new tutor changes the data-version probe: shown at once.
    newcomer = factory.tutor("T-NEW", timezone="UTC")
    factory.session(newcomer, at("2025-02-27", 12), engagement_score=10.0)
    assert api(type="engagement", days=7)["summary"]["sampleSize"] == 6


def test_empty_database_answers_without_data(api: Any) -> None:
    body = api(type="engagement")
    assert body["data"] == []
    assert body["summary"]["avgValue"] is None
    assert api(type="retention")["cohorts"] == []
    assert api(type="seasonal")["insights"]["bestDay"] is None
