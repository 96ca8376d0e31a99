"""Risk pages render for a logged-in user (parsed HTML)."""

from __future__ import annotations

from typing import Any

from bs4 import BeautifulSoup
from tests.api.risk.test_risk_api import scored  # noqa: F401


def test_pages_need_login(client: Any) -> None:
    for path in ("/risk", "/risk/sessions", "/models"):
        assert client.get(path).status_code in (302, 303, 401)


def test_risk_pages_show_scores(viewer: Any, scored: Any) -> None:  # noqa: F811
    html = BeautifulSoup(viewer.client.get("/risk").text, "html.parser")
    rows = html.select("#risk-tutors tbody tr")
    assert len(rows) == 4
    assert "70.0%" in rows[0].get_text()
    assert "no login for 12 days" in rows[0].get_text()
    html = BeautifulSoup(viewer.client.get("/risk/sessions?daysAhead=7").text, "html.parser")
    assert len(html.select("#risk-sessions tbody tr")) == 5
    page = viewer.client.get("/models")
    assert page.status_code == 200
    assert "No model trained yet" in page.text
