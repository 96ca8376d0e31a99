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
    rows = html.select("#risk-sessions tbody tr")
    assert len(rows) == 5
    assert [c.get_text(strip=True) for c in rows[0].select("td.student-risk")] == ["–"]
    assert "not scored" in rows[0].get_text()
    page = viewer.client.get("/models")
    assert page.status_code == 200
    assert "No model trained yet" in page.text


def test_sessions_page_shows_the_student_score(viewer: Any, db: Any, scored: Any) -> None:  # noqa: F811
    from tutorpulse.risk.models import SessionRisk

    top = db.query(SessionRisk).filter(SessionRisk.no_show_probability == 0.09).one()
    top.student_no_show_probability = 0.123
    top.student_risk_level = "Medium"
    top.student_drivers = [
        {"key": "pair", "text": "first session with this tutor", "contribution": 0.4}
    ]
    db.flush()
    html = BeautifulSoup(viewer.client.get("/risk/sessions?daysAhead=7").text, "html.parser")
    headers = [th.get_text(strip=True) for th in html.select("#risk-sessions thead th")]
    assert "Student no-show probability" in headers
    first = html.select("#risk-sessions tbody tr")[0]
    assert [c.get_text(strip=True) for c in first.select("td.student-risk")] == ["12.3%"]
    assert "first session with this tutor" in first.get_text()
    assert "Medium" in first.get_text()


def test_models_page_lists_student_versions(viewer: Any, db: Any, now: Any) -> None:
    from tutorpulse.risk.models import ModelVersion

    db.add(
        ModelVersion(
            target="student_no_show",
            version=1,
            algorithm="logistic",
            features=["stu_sessions_90d"],
            metrics={"heldOut": {"auc": 0.593}, "baselineName": "student's own past no-show rate"},
            calibration={},
            artifact=b"x",
            is_active=False,
            created_at=now,
        )
    )
    db.flush()
    html = BeautifulSoup(viewer.client.get("/models").text, "html.parser")
    row = html.select("#model-versions tbody tr")[0]
    cells = [td.get_text(strip=True) for td in row.select("td")]
    assert cells[1] == "student_no_show"
    assert "0.593" in cells
