"""``/api/cron/generate-alerts`` runs alerts.generate and answers the original shape."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from tutorpulse.alerts.models import Alert, AlertEvent, AlertRule
from tutorpulse.core.db import unit_of_work

CRON_SECRET = "cron-s3cret-value"  # as in conftest.py


@pytest.fixture
def clean_alerts(session_factory: sessionmaker[Session]) -> Iterator[None]:
    yield
    with unit_of_work(session_factory) as db:
        for model in (AlertEvent, Alert, AlertRule):
            db.execute(delete(model))


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_generate_alerts_cron_shape(client: TestClient, clean_alerts: None, method: str) -> None:
    response = client.request(
        method, "/api/cron/generate-alerts", headers={"Authorization": f"Bearer {CRON_SECRET}"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    assert body["job"] == "alerts.generate"
    result = body["result"]
    for key in ("generated", "updated", "resolved", "skipped", "errors"):
        assert result[key] == 0
    assert result["mode"] in ("full", "incremental")
    assert isinstance(body["duration"], int)
    assert body["timestamp"]
