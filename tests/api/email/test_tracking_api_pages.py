"""Suppression list (JSON and page) and the deliverability page, parsed not string-matched."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tutorpulse.core.models import AuditLog
from tutorpulse.email.models import EmailEvent, Suppression
from tutorpulse.interventions.models import Intervention


def soup_of(response: Any) -> BeautifulSoup:
    assert response.status_code == 200, response.text[:500]
    return BeautifulSoup(response.text, "html.parser")


# --- JSON API -------------------------------------------------------------------------------


def test_suppression_api_add_list_remove(client: TestClient, db: Session, api_key: Any) -> None:
    writer = {"Authorization": f"Bearer {api_key('read', 'write')}"}
    created = client.post(
        "/api/email/suppressions",
        json={"email": " Ana@Example.test", "note": "asked by phone"},
        headers=writer,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["email"] == "ana@example.test"
    assert body["reason"] == "manual"
    assert body["created"] is True
    assert body["createdBy"].startswith("api_key:")
    again = client.post(
        "/api/email/suppressions", json={"email": "ana@example.test"}, headers=writer
    )
    assert again.status_code == 200
    assert again.json()["created"] is False

    listed = client.get("/api/email/suppressions?q=ana", headers=writer).json()
    assert listed["total"] == 1
    assert listed["items"][0]["note"] == "asked by phone"
    assert "createdAt" in listed["items"][0]

    removed = client.delete("/api/email/suppressions/ANA@example.test", headers=writer)
    assert removed.status_code == 200
    assert (
        client.delete("/api/email/suppressions/ana@example.test", headers=writer).status_code == 404
    )
    actions = [a.action for a in db.scalars(select(AuditLog).order_by(AuditLog.id))]
    assert actions.count("email.suppression.add") == 1
    assert actions.count("email.suppression.remove") == 1


def test_suppression_api_validation_and_scopes(client: TestClient, api_key: Any) -> None:
    writer = {"Authorization": f"Bearer {api_key('write')}"}
    bad = client.post("/api/email/suppressions", json={"email": "not-an-address"}, headers=writer)
    assert bad.status_code == 400
    assert bad.json()["details"][0]["field"] == "email"
    bad_reason = client.post(
        "/api/email/suppressions", json={"email": "a@x.test", "reason": "spite"}, headers=writer
    )
    assert bad_reason.status_code == 400
    reader = {"Authorization": f"Bearer {api_key('read')}"}
    forbidden = client.post("/api/email/suppressions", json={"email": "a@x.test"}, headers=reader)
    assert forbidden.status_code == 403
    assert client.get("/api/email/suppressions?limit=1000", headers=reader).status_code == 400


def test_deliverability_api(
    client: TestClient, db: Session, api_key: Any, factory: Any, clock: Any
) -> None:
    tutor = factory.tutor()
    for n, machine in enumerate([False, True]):
        row = Intervention(
            idempotency_key=f"api-d-{n}",
            tutor_id=tutor.id,
            intervention_type="re_engagement",
            to_email=f"x{n}@example.test",
            status="sent",
            sent_at=clock.now() - timedelta(days=1),
        )
        db.add(row)
        db.flush()
        db.add(
            EmailEvent(
                intervention_id=row.id,
                event_type="opened",
                occurred_at=clock.now(),
                is_machine=machine,
            )
        )
    db.flush()
    reader = {"Authorization": f"Bearer {api_key('read')}"}
    body = client.get("/api/email/deliverability?days=7", headers=reader).json()
    assert body["sent"] == 2
    assert body["humanOpened"] == 1
    assert body["machineOnlyOpened"] == 1
    assert body["humanOpenRate"] == 0.5
    assert len(body["daily"]) == 7  # the window ends at midnight: 7 whole UTC days
    assert client.get("/api/email/deliverability?days=0", headers=reader).status_code == 400


# --- pages ------------------------------------------------------------------------------------


def test_coach_adds_and_removes_through_the_page(login_as: Any, db: Session) -> None:
    coach = login_as("coach")
    page = soup_of(coach.client.get("/email/suppressions"))
    form = page.find("form", action="/email/suppressions", method="post")
    assert form.find("input", {"name": "csrf_token"})["value"] == coach.csrf_token
    assert page.find(attrs={"data-testid": "suppressions"}) is None  # empty state
    assert "The list is empty" in page.get_text()

    done = coach.client.post(
        "/email/suppressions",
        data={
            "email": "Dee@Example.test",
            "note": "left the platform",
            "csrf_token": coach.csrf_token,
        },
    )
    assert done.status_code == 303
    listed = soup_of(coach.client.get(done.headers["location"]))
    assert (
        "dee@example.test is suppressed" in listed.find(attrs={"data-testid": "flash"}).get_text()
    )
    rows = listed.find(attrs={"data-testid": "suppressions"}).find_all(
        "tr", attrs={"data-email": True}
    )
    assert [r["data-email"] for r in rows] == ["dee@example.test"]
    cells = [c.get_text(strip=True) for c in rows[0].find_all("td")]
    assert cells[1:4] == ["manual", "dashboard", "left the platform"]

    remove = rows[0].find("form", action="/email/suppressions/remove")
    fields = {i["name"]: i["value"] for i in remove.find_all("input")}
    gone = coach.client.post("/email/suppressions/remove", data=fields)
    assert gone.status_code == 303
    assert db.scalars(select(Suppression)).all() == []


def test_page_shows_inline_error_and_needs_csrf(login_as: Any, db: Session) -> None:
    coach = login_as("coach")
    bad = coach.client.post(
        "/email/suppressions", data={"email": "nope", "csrf_token": coach.csrf_token}
    )
    assert bad.status_code == 400
    soup = BeautifulSoup(bad.text, "html.parser")
    assert soup.find(id="add-error").get_text(strip=True) == "is not an email address"
    assert soup.find("input", {"name": "email"})["value"] == "nope"
    no_csrf = coach.client.post("/email/suppressions", data={"email": "a@x.test"})
    assert no_csrf.status_code == 403
    assert db.scalars(select(Suppression)).all() == []


def test_viewer_reads_but_cannot_edit(login_as: Any, db: Session) -> None:
    viewer = login_as("viewer")
    page = soup_of(viewer.client.get("/email/suppressions"))
    assert page.find("form", action="/email/suppressions", method="post") is None
    refused = viewer.client.post(
        "/email/suppressions", data={"email": "a@x.test", "csrf_token": viewer.csrf_token}
    )
    assert refused.status_code == 403
    assert db.scalars(select(Suppression)).all() == []


def test_deliverability_page_figures_match_the_api(
    login_as: Any, db: Session, factory: Any, clock: Any, api_key: Any, client: TestClient
) -> None:
    tutor = factory.tutor()
    kinds = [("opened", False), ("opened", True), ("clicked", True), ("bounced", False)]
    for n, (kind, machine) in enumerate(kinds):
        row = Intervention(
            idempotency_key=f"page-d-{n}",
            tutor_id=tutor.id,
            intervention_type="re_engagement",
            to_email=f"p{n}@example.test",
            status="sent",
            sent_at=clock.now() - timedelta(days=2),
        )
        db.add(row)
        db.flush()
        db.add(
            EmailEvent(
                intervention_id=row.id, event_type=kind, occurred_at=clock.now(), is_machine=machine
            )
        )
    db.flush()
    viewer = login_as("viewer")
    soup = soup_of(viewer.client.get("/email/deliverability?days=7"))
    api = client.get(
        "/api/email/deliverability?days=7", headers={"Authorization": f"Bearer {api_key('read')}"}
    ).json()

    def kpi(key: str) -> str:
        return soup.find(attrs={"data-kpi": key}).find(class_="kpi-value")["data-value"]

    assert kpi("sent") == str(api["sent"]) == "4"
    assert float(kpi("human-open")) == api["humanOpenRate"] == 0.25
    assert float(kpi("bounced")) == api["bounceRate"] == 0.25
    assert soup.find(attrs={"data-kpi": "human-open"}).find(class_="tooltip").get_text()
    engagement = soup.find(attrs={"data-testid": "engagement"})
    opens = [
        c.get_text(strip=True)
        for c in engagement.find("tr", attrs={"data-kind": "opened"}).find_all("td")
    ]
    clicks = [
        c.get_text(strip=True)
        for c in engagement.find("tr", attrs={"data-kind": "clicked"}).find_all("td")
    ]
    assert opens == ["1", "1", "1"]
    assert clicks == ["0", "1", "1"]
    selected = soup.find("select", id="days").find("option", selected=True)
    assert selected["value"] == "7"


def test_deliverability_page_empty_state(login_as: Any) -> None:
    soup = soup_of(login_as("analyst").client.get("/email/deliverability"))
    assert "No email sent in this window" in soup.get_text()
    nav = soup.find("nav", attrs={"aria-label": "Main"})
    hrefs = {a["href"] for a in nav.find_all("a")}
    assert {"/email/deliverability", "/email/suppressions"} <= hrefs
