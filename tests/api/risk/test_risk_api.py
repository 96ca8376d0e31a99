"""Risk JSON endpoints over hand-made scores: paging, totals, levels, auth, bad input."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tutorpulse.risk.models import SessionRisk

H = timedelta(hours=1)


@pytest.fixture
def api(client: Any, api_key: Any) -> Any:
    headers = {"Authorization": f"Bearer {api_key('read')}"}

    def get(path: str, expect: int = 200, **params: Any) -> Any:
        response = client.get(path, params=params, headers=headers)
        assert response.status_code == expect, response.text
        return response.json()

    return get


@pytest.fixture
def scored(factory: Any, db: Any, now: Any) -> dict[str, Any]:
    """Five tutors with churn scores (one without a health row) and six upcoming sessions."""
    tutors = []
    probs = [0.7, 0.45, 0.2, 0.05]
    levels = ["High", "High", "Medium", "Low"]
    for i, (p, level) in enumerate(zip(probs, levels, strict=True)):
        t = factory.tutor(f"T{i + 1:04d}")
        factory.health(
            t,
            churn_probability=p,
            churn_risk_level=level,
            risk_drivers=[{"key": "logins", "text": "no login for 12 days", "contribution": 0.8}],
            risk_model_version_id=1,
        )
        tutors.append(t)
    unscored = factory.tutor("T0009")
    factory.health(unscored)
    session_levels = [
        (0.09, "High"),
        (0.03, "Medium"),
        (0.01, "Low"),
        (0.06, "High"),
        (0.005, "Low"),
    ]
    for k, (p, level) in enumerate(session_levels):
        s = factory.session(tutors[k % 2], now + (k + 1) * 20 * H, status="scheduled")
        db.add(
            SessionRisk(
                session_id=s.id,
                model_version_id=2,
                no_show_probability=p,
                risk_level=level,
                drivers=[],
                scored_at=now,
            )
        )
    far = factory.session(tutors[0], now + 20 * 24 * H, status="scheduled")
    db.add(
        SessionRisk(
            session_id=far.id,
            model_version_id=2,
            no_show_probability=0.5,
            risk_level="High",
            drivers=[],
            scored_at=now,
        )
    )
    db.flush()
    return {"tutors": tutors}


def test_tutors_paged_complete_and_ordered(api: Any, scored: Any) -> None:
    first = api("/api/risk/tutors", limit=3, offset=0)
    second = api("/api/risk/tutors", limit=3, offset=3)
    assert first["total"] == second["total"] == 4
    ids = [t["tutorId"] for t in first["tutors"] + second["tutors"]]
    assert ids == ["T0001", "T0002", "T0003", "T0004"]
    top = first["tutors"][0]
    assert top["churnProbability"] == 0.7
    assert top["churnRiskLevel"] == "High"
    assert top["riskDrivers"][0]["text"] == "no login for 12 days"
    assert first["levelCounts"] == {"High": 2, "Medium": 1, "Low": 1}
    assert api("/api/risk/tutors", level="high")["total"] == 2


def test_sessions_paged_within_days_ahead(api: Any, scored: Any) -> None:
    body = api("/api/risk/sessions", daysAhead=7, limit=2)
    assert body["total"] == 5  # the session 20 days ahead is outside the window
    probs = [s["noShowProbability"] for s in body["sessions"]]
    assert probs == [0.09, 0.06]
    rest = api("/api/risk/sessions", daysAhead=7, limit=10, offset=2)
    assert len(rest["sessions"]) == 3
    assert api("/api/risk/sessions", daysAhead=30)["total"] == 6


def test_noshow_risk_original_shape(api: Any, scored: Any) -> None:
    body = api("/api/analytics/noshow-risk", daysAhead=7, generateAlerts="true")
    assert body["summary"] == {
        "totalHighRisk": 2,
        "totalMediumRisk": 1,
        "totalLowRisk": 2,
        "daysAhead": 7,
    }
    assert [s["noShowProbability"] for s in body["highRiskSessions"]] == [0.09, 0.06]
    assert len(body["mediumRiskSessions"]) == 1
    assert "24 hours" in body["mitigation"]["High"][0]
    assert body["alerts"]["generated"] == 0
    assert "alerts.generate" in body["alerts"]["note"]
    one = api("/api/analytics/noshow-risk", tutorId="T0002")
    assert one["summary"]["totalHighRisk"] == 1


def test_bad_input_and_auth(api: Any, client: Any, scored: Any) -> None:
    assert client.get("/api/risk/tutors").status_code == 401
    body = api("/api/risk/sessions", expect=400, daysAhead=0)
    assert "daysAhead" in str(body)
    api("/api/risk/tutors", expect=400, limit=100000)
    api("/api/analytics/noshow-risk", expect=404, tutorId="T9999")
    api("/api/risk/tutors", expect=400, level="extreme")


def test_dashboard_high_risk_count_reads_the_scores(api: Any, scored: Any) -> None:
    body = api("/api/dashboard/metrics")
    assert body["highRiskCount"] == 2
    assert body["riskStatus"] == "scored"


def test_models_listed_without_artifacts(api: Any, db: Any, now: Any) -> None:
    from tutorpulse.risk.models import ModelVersion

    db.add(
        ModelVersion(
            target="churn",
            version=1,
            algorithm="gbm",
            features=["a"],
            metrics={"heldOut": {"auc": 0.8}},
            calibration={},
            artifact=b"x",
            is_active=True,
            created_at=now,
        )
    )
    db.flush()
    body = api("/api/risk/models")
    assert body["models"][0]["metrics"]["heldOut"]["auc"] == 0.8
    assert "artifact" not in body["models"][0]
    api("/api/risk/models", expect=400, target="nope")


def test_sessions_carry_the_student_score_when_there_is_one(api: Any, db: Any, scored: Any) -> None:
    body = api("/api/risk/sessions", daysAhead=7)
    # No student no-show model has scored these sessions yet: the student fields are null.
    for s in body["sessions"]:
        assert s["studentNoShowProbability"] is None
        assert s["studentRiskLevel"] is None
        assert s["studentDrivers"] is None
    top = db.query(SessionRisk).filter(SessionRisk.no_show_probability == 0.09).one()
    top.student_no_show_probability = 0.12
    top.student_risk_level = "Medium"
    top.student_drivers = [
        {
            "key": "student",
            "text": "the student missed 2 of their last 5 sessions",
            "contribution": 0.6,
        }
    ]
    top.student_model_version_id = 3
    db.flush()
    first = api("/api/risk/sessions", daysAhead=7)["sessions"][0]
    assert first["noShowProbability"] == 0.09
    assert first["studentNoShowProbability"] == 0.12
    assert first["studentRiskLevel"] == "Medium"
    assert first["studentDrivers"][0]["text"] == "the student missed 2 of their last 5 sessions"
    # The original endpoint keeps its shape: tutor no-show only.
    original = api("/api/analytics/noshow-risk", daysAhead=7)["highRiskSessions"][0]
    assert original["noShowProbability"] == 0.09
    assert not any(key.startswith("student") and key != "studentId" for key in original)
