"""The Trends and Retention pages, parsed: charts carry their data, methods and sample sizes."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from bs4 import BeautifulSoup

NOW = datetime(2025, 3, 1, tzinfo=UTC)


def soup_of(response: Any) -> BeautifulSoup:
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    return BeautifulSoup(response.text, "html.parser")


def text(node: Any) -> str:
    return " ".join(node.get_text(" ", strip=True).split())


def _no_nan(token: str) -> Any:
    raise AssertionError(f"{token} is not JSON the browser can parse")


def charts(soup: BeautifulSoup) -> list[dict[str, Any]]:
    """Chart specs, parsed as strictly as the browser's JSON.parse (no NaN/Infinity)."""
    return [
        json.loads(c["data-analytics-chart"], parse_constant=_no_nan)
        for c in soup.find_all("canvas")
    ]


@pytest.fixture
def history(factory: Any) -> dict[str, Any]:
    """Six weeks of sessions for two tutors, with one day of many no-shows."""
    ny = factory.tutor("T-NY", timezone="America/New_York", joined_on=date(2025, 1, 5))
    be = factory.tutor("T-BE", timezone="Europe/Berlin", joined_on=date(2025, 1, 20))
    start = NOW - timedelta(days=45)
    for i in range(44):
        day = start + timedelta(days=i)
        factory.session(ny, day + timedelta(hours=20), engagement_score=6.0 + (i % 3))
        factory.session(be, day + timedelta(hours=15), engagement_score=7.0)
    factory.event(ny, NOW - timedelta(hours=5))
    return {"ny": ny, "be": be}


def test_trends_page_shows_series_trend_numbers_and_profiles(history: Any, viewer: Any) -> None:
    soup = soup_of(viewer.client.get("/analytics/trends", params={"days": 30}))
    series = next(c for c in charts(soup) if c["type"] == "series")
    assert len(series["labels"]) == 30
    assert {"value", "ma", "trend", "anomalies", "n"} <= set(series)
    assert series["n"][-1] == 2
    trend = soup.find(attrs={"data-testid": "trend"})
    fields = {dd["data-field"]: text(dd) for dd in trend.find_all("dd", attrs={"data-field": True})}
    assert fields["direction"] in {"Stable", "Increasing", "Decreasing"}
    assert "per day" in fields["slope"]
    method = text(soup.find(attrs={"data-testid": "series-method"}))
    assert "n = 60 values over 30 days" in method
    assert "Newey–West" in method
    assert "median absolute deviation" in method
    weekday = soup.find(attrs={"data-testid": "weekday-profile"})
    assert "Kruskal–Wallis" in text(weekday)
    kinds = [c["type"] for c in charts(soup)]
    assert kinds.count("bars") == 2
    assert "multi" in kinds
    options = [o["value"] for o in soup.find("select", {"name": "metric"}).find_all("option")]
    assert "tutorNoShowRate" in options
    # The CSP-safe chart script is a static file, never inline.
    scripts = soup.find_all("script")
    assert all(s.get("src") for s in scripts)
    assert any(s["src"] == "/static/js/analytics-trends.js" for s in scripts)


def test_trends_page_names_a_bad_metric_and_offers_a_way_back(history: Any, viewer: Any) -> None:
    soup = soup_of(viewer.client.get("/analytics/trends", params={"metric": "nope"}))
    alert = soup.find(attrs={"role": "alert"})
    assert "metric" in text(alert)
    assert alert.find("a")["href"] == "/analytics/trends"


def test_trends_page_without_data_says_why(viewer: Any) -> None:
    soup = soup_of(viewer.client.get("/analytics/trends"))
    assert "No data yet" in text(soup.find("main"))


def test_retention_page_has_km_chart_table_and_heatmap(history: Any, viewer: Any) -> None:
    soup = soup_of(
        viewer.client.get(
            "/analytics/retention", params={"cohortStartDate": "2025-01-01", "days": 90}
        )
    )
    km = next(c for c in charts(soup) if c["type"] == "km")
    labels = [c["label"] for c in km["curves"]]
    assert labels == ["all (n = 2)", "2025-01 (n = 2)"]
    assert all({"lo", "hi"} <= set(p) for p in km["curves"][0]["points"])
    method = text(soup.find(attrs={"data-testid": "km-method"}))
    assert "n = 2 tutors" in method
    assert "censored" in method
    assert "Log-rank" in method
    table = soup.find(attrs={"data-testid": "km-table"})
    assert [text(th) for th in table.find("thead").find_all("th")][4] == "S(30 d)"
    matrix = soup.find(attrs={"data-testid": "matrix"})
    row = matrix.find("tbody").find("tr")
    cells = row.find_all("td")[1:]
    # NY joined 55 days and BE 40 days before the end: weeks 0-4 have elapsed for
    # both, weeks 5-6 for NY only, week 7 for nobody, so that cell is empty.
    # NY's first week (5-11 January) predates its first session.
    assert text(cells[0]) == "50% n=2"
    assert text(cells[4]) == "100% n=2"
    assert text(cells[6]) == "100% n=1"
    assert text(cells[7]) == ""
    assert "heat-none" in cells[7]["class"]
    assert "heat-10" in cells[6]["class"]


def test_retention_page_without_cohorts_says_why(viewer: Any) -> None:
    soup = soup_of(viewer.client.get("/analytics/retention"))
    assert "No cohorts to show" in text(soup.find("main"))


def test_pages_need_a_login(client: Any) -> None:
    for path in ("/analytics/trends", "/analytics/retention"):
        response = client.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login")
