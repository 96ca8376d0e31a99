"""HTML: the inbox lists alerts by priority, bulk acknowledge records the logged-in user,
the detail page shows evidence and history, the rules page is for admins and previews."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from bs4 import BeautifulSoup
from sqlalchemy import select
from sqlalchemy.orm import Session

from tutorpulse.alerts import service
from tutorpulse.alerts.models import Alert
from tutorpulse.core.models import JobRun
from tutorpulse.core.settings import Settings
from tutorpulse.engagement.models import TutorDaily

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


def test_detail_mini_chart_of_the_rules_daily_values(
    login_as: Any, db: Session, factory: Any, settings: Settings, now: datetime
) -> None:
    tutor = factory.tutor()
    factory.health(tutor, local_day=TODAY, days_since_last_login=9, logins_30d=4)
    logins = {date(2025, 2, 1): 3, date(2025, 2, 10): 1, date(2025, 2, 20): 2}
    logins[date(2025, 1, 30)] = 5  # before the 30-day window
    for day, n in logins.items():
        db.add(TutorDaily(tutor_id=tutor.id, day=day, logins=n))
    db.flush()
    service.generate(db, now=now, settings=settings)
    alert = db.scalars(select(Alert).where(Alert.rule_key == "no_login_7d")).one()
    page = soup_of(login_as("viewer").client.get(f"/alerts/{alert.id}"))
    figure = page.select_one("#trend")
    assert "Logins per day" in figure.figcaption.get_text()
    assert "2025-03-01" in figure.figcaption.get_text()
    points = figure.select_one("svg polyline")["points"].split()
    assert len(points) == 30
    rows = {
        r.select("td")[0].get_text(strip=True): r.select("td")[1].get_text(strip=True)
        for r in page.select("#trend-values tbody tr")
    }
    assert len(rows) == 30
    assert (min(rows), max(rows)) == ("2025-01-31", "2025-03-01")
    assert rows["2025-02-01"] == "3.00"
    assert rows["2025-02-20"] == "2.00"
    assert rows["2025-02-21"] == "0.00"  # a day without a row is zero logins
    # The same series is in the JSON detail.
    api = login_as("admin").client.get(f"/api/alerts/{alert.id}").json()
    assert api["trend"]["label"] == "Logins per day"
    assert [p["value"] for p in api["trend"]["points"]].count(0.0) == 27


def test_rules_page_backtest_section(
    login_as: Any, db: Session, factory: Any, settings: Settings, now: datetime
) -> None:
    admin = login_as("admin")
    page = soup_of(admin.client.get("/alerts/rules"))
    assert page.select_one("[data-testid=backtest-empty]") is not None
    assert page.select_one("#backtest-report") is None
    # A report as the alerts.backtest job stores it (its counts are the service's report).
    churner = factory.tutor(
        joined_on=date(2024, 10, 1), status="churned", churned_at=datetime(2025, 1, 20, tzinfo=UTC)
    )
    for i in range(40):
        db.add(TutorDaily(tutor_id=churner.id, day=date(2024, 10, 1) + timedelta(days=i), logins=1))
    start, end = service.backtest_window(now, settings)
    report = service.backtest(db, start=start, end=end, settings=settings, step_days=7)
    db.add(JobRun(job_name="alerts.backtest", trigger="cli", status="succeeded",
                  started_at=now, finished_at=now, counts=report))  # fmt: skip
    db.flush()
    page = soup_of(admin.client.get("/alerts/rules"))
    table = page.select_one("#backtest-report")
    assert f"{start.isoformat()} → {end.isoformat()}" in table.caption.get_text()
    overall = table.select_one("tr[data-rule=overall]")
    expected = report["rules"]["overall"]["caughtShare"]
    assert report["churnersInWindow"] == 1
    assert expected == 1.0
    assert overall.select_one("[data-field=caught-share]").get_text(strip=True) == "100.0%"
    assert "succeeded" in page.select_one("[data-testid=backtest-latest]").get_text()
    # Only admins may run it.
    coach = login_as("coach")
    denied = coach.client.post("/alerts/rules/backtest", data={"csrf_token": coach.csrf_token})
    assert denied.status_code == 403
