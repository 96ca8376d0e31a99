"""HTTP: original-compatible alert routes, actor from auth, bounded limit, severity order."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutorpulse.alerts import service
from tutorpulse.alerts.models import Alert, AlertEvent
from tutorpulse.core.audit import Actor
from tutorpulse.core.settings import Settings

TODAY = date(2025, 3, 1)


def seed(db: Session, factory: Any, settings: Settings, now: datetime) -> dict[str, Alert]:
    """Three tutors with a critical, a high and a medium alert."""
    a, b, c = factory.tutor(), factory.tutor(), factory.tutor()
    factory.health(a, local_day=TODAY, churn_probability=0.9)
    factory.health(b, local_day=TODAY, avg_rating_7d=3.0, sessions_7d=4)
    factory.health(c, local_day=TODAY, technical_issue_rate=0.5, sessions_30d=10)
    service.generate(db, now=now, settings=settings)
    return {x.rule_key: x for x in db.scalars(select(Alert))}


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_list_sorted_by_priority_and_severity_rank(
    client: Any, api_key: Any, db: Session, factory: Any, settings: Settings, now: datetime
) -> None:
    seed(db, factory, settings, now)
    headers = auth(api_key("read"))
    body = client.get("/api/alerts", headers=headers).json()
    assert body["count"] == 3
    assert [x["severity"] for x in body["alerts"]] == ["critical", "high", "medium"]
    first = body["alerts"][0]
    assert first["alertType"] == "churn_risk_high"
    assert first["tutor"]["tutorId"] == first["tutorId"]
    assert first["acknowledged"] is False
    assert first["resolved"] is False
    by_sev = client.get("/api/alerts", params={"sort": "severity"}, headers=headers).json()
    assert [x["severityRank"] for x in by_sev["alerts"]] == [4, 3, 2]
    high = client.get("/api/alerts", params={"highPriority": "true"}, headers=headers).json()
    assert {x["severity"] for x in high["alerts"]} == {"critical", "high"}
    one = client.get("/api/alerts", params={"category": "technical"}, headers=headers).json()
    assert [x["alertType"] for x in one["alerts"]] == ["technical_issues_spike"]


def test_limit_is_bounded_and_bad_params_are_4xx(
    client: Any, api_key: Any, db: Session, factory: Any, settings: Settings, now: datetime
) -> None:
    headers = auth(api_key("read"))
    too_big = client.get("/api/alerts", params={"limit": 100000}, headers=headers)
    assert too_big.status_code == 400
    assert too_big.json()["details"][0]["field"] == "limit"
    assert client.get("/api/alerts", params={"limit": "abc"}, headers=headers).status_code in (
        400,
        422,
    )
    assert client.get("/api/alerts", params={"severity": "x"}, headers=headers).status_code in (
        400,
        422,
    )
    assert client.get("/api/alerts").status_code == 401


def test_acknowledge_records_authenticated_key_not_body(
    client: Any, api_key: Any, db: Session, factory: Any, settings: Settings, now: datetime
) -> None:
    alert = seed(db, factory, settings, now)["churn_risk_high"]
    key = api_key("read", "write", name="coach-bot")
    spoof = client.patch(
        "/api/alerts",
        json={"alertId": alert.id, "action": "acknowledge", "acknowledgedBy": "someone else"},
        headers=auth(key),
    )
    assert spoof.status_code == 400
    assert spoof.json()["details"][0]["field"] == "acknowledgedBy"
    ok = client.patch(
        "/api/alerts",
        json={"alertId": alert.id, "action": "acknowledge", "note": "on it"},
        headers=auth(key),
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["alert"]["acknowledgedBy"] == "api_key:coach-bot"
    db.refresh(alert)
    assert alert.state == "acknowledged"
    event = db.scalars(select(AlertEvent).where(AlertEvent.action == "acknowledge")).one()
    assert event.actor == "api_key:coach-bot"
    assert event.note == "on it"


def test_post_acknowledge_and_read_only_key_forbidden(
    client: Any, api_key: Any, db: Session, factory: Any, settings: Settings, now: datetime
) -> None:
    alert = seed(db, factory, settings, now)["low_rating_trend"]
    denied = client.post(
        "/api/alerts/acknowledge", json={"alertId": alert.id}, headers=auth(api_key("read"))
    )
    assert denied.status_code == 403
    ok = client.post(
        "/api/alerts/acknowledge", json={"alertId": alert.id}, headers=auth(api_key("write"))
    )
    assert ok.status_code == 200
    assert ok.json()["success"] is True
    missing = client.post(
        "/api/alerts/acknowledge", json={"alertId": 999999}, headers=auth(api_key("write"))
    )
    assert missing.status_code == 404


def test_stats_by_severity_state_and_mean_time_to_ack(
    client: Any,
    api_key: Any,
    db: Session,
    factory: Any,
    settings: Settings,
    now: datetime,
    clock: Any,
) -> None:
    alerts = seed(db, factory, settings, now)
    clock.set(now + timedelta(hours=2))
    client.post(
        "/api/alerts/acknowledge",
        json={"alertId": alerts["churn_risk_high"].id},
        headers=auth(api_key("write")),
    )
    body = client.get("/api/alerts/stats", headers=auth(api_key("read"))).json()
    assert body["total"] == 3
    assert body["acknowledged"] == 1
    assert body["unacknowledged"] == 2
    assert body["bySeverity"] == {"critical": 1, "high": 1, "medium": 1}
    assert body["byState"]["acknowledged"] == 1
    assert body["byState"]["open"] == 2
    assert body["meanHoursToAcknowledge"] == 2.0
    assert body["meanHoursToResolve"] is None
    legacy = client.get("/api/alerts", params={"stats": "true"}, headers=auth(api_key("read")))
    assert legacy.json()["total"] == 3


def test_rules_listing_preview_and_admin_only_update(
    client: Any, api_key: Any, db: Session, factory: Any, settings: Settings, now: datetime
) -> None:
    seed(db, factory, settings, now)
    rules = client.get(
        "/api/alerts/rules", params={"preview": "true"}, headers=auth(api_key("read"))
    ).json()
    assert len(rules) == 12
    firing = {r["key"]: r["firingNow"] for r in rules}
    assert firing["churn_risk_high"] == 1
    assert firing["no_login_7d"] == 0
    body = {"threshold": 0.95, "resolveThreshold": 0.9}
    assert (
        client.patch(
            "/api/alerts/rules/churn_risk_high", json=body, headers=auth(api_key("write"))
        ).status_code
        == 403
    )
    ok = client.patch(
        "/api/alerts/rules/churn_risk_high", json=body, headers=auth(api_key("admin"))
    )
    assert ok.status_code == 200
    assert ok.json()["threshold"] == 0.95
    bad = client.patch(
        "/api/alerts/rules/churn_risk_high",
        json={"resolveThreshold": 0.99},
        headers=auth(api_key("admin")),
    )
    assert bad.status_code == 400
    assert bad.json()["details"][0]["field"] == "resolve_threshold"


def test_detail_has_evidence_and_history(
    client: Any, api_key: Any, db: Session, factory: Any, settings: Settings, now: datetime
) -> None:
    alert = seed(db, factory, settings, now)["technical_issues_spike"]
    body = client.get(f"/api/alerts/{alert.id}", headers=auth(api_key("read"))).json()
    assert body["evidence"]["values"]["technical_issue_rate"] == 0.5
    assert body["evidence"]["values"]["sessions_30d"] == 10
    assert [h["action"] for h in body["history"]] == ["created"]


def test_update_messages_rerenders_from_current_rules(
    client: Any, api_key: Any, db: Session, factory: Any, settings: Settings, now: datetime
) -> None:
    alerts = seed(db, factory, settings, now)
    tech = alerts["technical_issues_spike"]
    assert "(threshold 15.0%)" in tech.message  # the shipped threshold
    admin = Actor(kind="user", id=None, name="admin@example.test", role="admin")
    service.update_rule(
        db, key="technical_issues_spike", changes={"threshold": 0.25}, actor=admin, now=now
    )
    key = api_key("read", "write", name="ops")
    body = client.post("/api/alerts", json={"action": "update-messages"}, headers=auth(key))
    assert body.status_code == 200, body.text
    payload = body.json()
    assert payload["success"] is True
    assert payload["result"] == {"updated": 1, "unchanged": 2, "errors": 0}
    db.refresh(tech)
    assert tech.message == "50.0% of completed sessions had technical issues (threshold 25.0%)."
    again = client.post("/api/alerts", json={"action": "update-messages"}, headers=auth(key))
    assert again.json()["result"] == {"updated": 0, "unchanged": 3, "errors": 0}

    bad = client.post("/api/alerts", json={"action": "delete-all"}, headers=auth(key))
    assert bad.status_code == 400
    assert bad.json()["details"][0]["field"] == "action"
    reader = client.post(
        "/api/alerts", json={"action": "update-messages"}, headers=auth(api_key("read"))
    )
    assert reader.status_code == 403
