"""HTML: the inbox lists alerts by priority, bulk acknowledge records the logged-in user,
the detail page shows evidence and history, the rules page is for admins and previews."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from bs4 import BeautifulSoup
from sqlalchemy import select
from sqlalchemy.orm import Session

from tutorpulse.alerts import service
from tutorpulse.alerts.models import Alert
from tutorpulse.core.settings import Settings

TODAY = date(2025, 3, 1)


def soup_of(response: Any) -> BeautifulSoup:
    assert response.status_code == 200, response.text
    return BeautifulSoup(response.text, "html.parser")


def seed(db: Session, factory: Any, settings: Settings, now: datetime) -> dict[str, Alert]:
    a, b = factory.tutor(), factory.tutor()
    factory.health(a, local_day=TODAY, technical_issue_rate=0.5, sessions_30d=10)
    factory.health(b, local_day=TODAY, churn_probability=0.9)
    service.generate(db, now=now, settings=settings)
    return {x.rule_key: x for x in db.scalars(select(Alert))}


def test_inbox_sorted_by_priority_and_bulk_acknowledge(
    login_as: Any, db: Session, factory: Any, settings: Settings, now: datetime
) -> None:
    alerts = seed(db, factory, settings, now)
    coach = login_as("coach")
    page = soup_of(coach.client.get("/alerts"))
    rows = page.select("#alert-table tbody tr")
    ids = [int(r["data-alert-id"]) for r in rows]
    assert ids == [alerts["churn_risk_high"].id, alerts["technical_issues_spike"].id]
    assert "Critical 1" in page.select_one("[data-testid=severity-counts]").get_text(" ")

    counts = soup_of(coach.client.get("/alerts/counts"))
    assert "Medium 1" in counts.get_text(" ")
    denied = coach.client.post("/alerts/bulk", data={"action": "acknowledge", "alert_id": ids})
    assert denied.status_code == 403  # no CSRF token
    done = coach.client.post(
        "/alerts/bulk",
        data={"action": "acknowledge", "alert_id": ids, "csrf_token": coach.csrf_token},
    )
    assert done.status_code == 303
    for alert in alerts.values():
        db.refresh(alert)
        assert alert.state == "acknowledged"
        assert alert.acknowledged_by == f"user:{coach.user.email}"


def test_viewer_cannot_act(
    login_as: Any, db: Session, factory: Any, settings: Settings, now: datetime
) -> None:
    alert = seed(db, factory, settings, now)["churn_risk_high"]
    viewer = login_as("viewer")
    response = viewer.client.post(
        f"/alerts/{alert.id}/action",
        data={"action": "resolve", "csrf_token": viewer.csrf_token},
    )
    assert response.status_code == 403


def test_detail_shows_evidence_and_history(
    login_as: Any, db: Session, factory: Any, settings: Settings, now: datetime
) -> None:
    alert = seed(db, factory, settings, now)["technical_issues_spike"]
    coach = login_as("coach")
    coach.client.post(
        f"/alerts/{alert.id}/action",
        data={"action": "acknowledge", "note": "looking", "csrf_token": coach.csrf_token},
    )
    page = soup_of(coach.client.get(f"/alerts/{alert.id}"))
    evidence = {
        r.th.get_text(strip=True): r.td.get_text(strip=True)
        for r in page.select("#evidence tbody tr")
    }
    assert evidence["technical_issue_rate"] == "0.5"
    assert evidence["sessions_30d"] == "10"
    history = [
        [td.get_text(strip=True) for td in r.select("td")] for r in page.select("#history tbody tr")
    ]
    assert [h[1] for h in history] == ["created", "acknowledge"]
    assert history[1][2] == f"user:{coach.user.email}"
    assert history[1][3] == "looking"
    assert page.select_one(f"a[href='/tutors/{page.select_one('dd a').get_text()}']")


def test_rules_page_admin_only_with_preview_and_edit(
    login_as: Any, db: Session, factory: Any, settings: Settings, now: datetime
) -> None:
    seed(db, factory, settings, now)
    assert login_as("coach").client.get("/alerts/rules").status_code == 403
    admin = login_as("admin")
    page = soup_of(admin.client.get("/alerts/rules"))
    firing = {
        r["data-rule"]: r.select_one("[data-field=firing]").get_text(strip=True)
        for r in page.select("#rules tbody tr")
    }
    assert len(firing) == 12
    assert firing["churn_risk_high"] == "1"
    assert firing["no_login_7d"] == "0"
    saved = admin.client.post(
        "/alerts/rules/churn_risk_high",
        data={
            "enabled": "on",
            "threshold": "0.95",
            "resolve_threshold": "0.9",
            "csrf_token": admin.csrf_token,
        },
    )
    assert saved.status_code == 303
    page = soup_of(admin.client.get("/alerts/rules"))
    row = page.select_one("tr[data-rule=churn_risk_high]")
    assert row.select_one("[data-field=firing]").get_text(strip=True) == "0"
