"""POST /api/engagement/track and /track/batch: validation, auth, idempotency, batches."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from tests.api.conftest import NOW, Factory

from tutorpulse.core.settings import Settings
from tutorpulse.engagement.models import EngagementEvent, TutorDirty
from tutorpulse.tutors.models import Tutor


@pytest.fixture
def ingest(client: TestClient, api_key: Callable[..., str]) -> TestClient:
    client.headers["Authorization"] = f"Bearer {api_key('ingest')}"
    return client


def _events(db: Session) -> int:
    return int(db.scalar(select(func.count()).select_from(EngagementEvent)) or 0)


def test_original_curl_example_tracks_a_login(
    ingest: TestClient, factory: Factory, db: Session
) -> None:
    tutor = factory.tutor("T0001")
    response = ingest.post("/api/engagement/track", json={"tutorId": "T0001", "eventType": "login"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    assert body["event"]["tutorId"] == "T0001"
    assert body["event"]["eventType"] == "login"
    assert body["event"]["timestamp"] == NOW.isoformat().replace("+00:00", "Z")
    db.refresh(tutor)
    assert tutor.last_login_at == NOW
    dirty = db.get(TutorDirty, tutor.id)
    assert dirty is not None
    assert dirty.from_day <= NOW.date()


@pytest.mark.parametrize(
    ("payload", "field", "status"),
    [
        ({"eventType": "login"}, "tutorId", 400),
        ({"tutorId": "T0001"}, "eventType", 400),
        ({"tutorId": "T0001", "eventType": "teleported"}, "eventType", 400),
        ({"tutorId": "T0001", "eventType": "login", "timestamp": "yesterday"}, "timestamp", 400),
        ({"tutorId": "T0001", "eventType": "login", "timestamp": 17}, "timestamp", 400),
        ({"tutorId": "T0001", "eventType": "login", "eventData": [1, 2]}, "eventData", 400),
        ({"tutorId": "T0001", "eventType": "login", "eventId": ""}, "eventId", 400),
        ({"tutorId": "T9999", "eventType": "login"}, "tutorId", 404),
    ],
)
def test_each_validation_error_names_its_field(
    ingest: TestClient, factory: Factory, db: Session, payload: dict, field: str, status: int
) -> None:
    factory.tutor("T0001")
    response = ingest.post("/api/engagement/track", json=payload)
    assert response.status_code == status, response.text
    body = response.json()
    assert field in body["error"] or any(d["field"] == field for d in body["details"])
    assert _events(db) == 0


def test_future_timestamps_beyond_the_skew_are_refused(
    ingest: TestClient, factory: Factory, settings: Settings
) -> None:
    factory.tutor("T0001")
    skew = settings.ingest_max_future_skew_seconds
    ok = (NOW + timedelta(seconds=skew)).isoformat()
    late = (NOW + timedelta(seconds=skew + 1)).isoformat()
    assert (
        ingest.post(
            "/api/engagement/track",
            json={"tutorId": "T0001", "eventType": "login", "timestamp": ok},
        ).status_code
        == 200
    )
    response = ingest.post(
        "/api/engagement/track", json={"tutorId": "T0001", "eventType": "login", "timestamp": late}
    )
    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == "timestamp"


def test_malformed_json_is_a_400_and_oversized_body_a_413(
    app_factory: Callable[..., FastAPI],
    settings: Settings,
    api_key: Callable[..., str],
    factory: Factory,
) -> None:
    factory.tutor("T0001")
    small = settings.model_copy(update={"ingest_max_body_bytes": 1024})
    c = TestClient(app_factory(small))
    c.headers["Authorization"] = f"Bearer {api_key('ingest')}"
    bad = c.post(
        "/api/engagement/track", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert bad.status_code == 400
    big = c.post(
        "/api/engagement/track",
        json={"tutorId": "T0001", "eventType": "login", "eventData": {"x": "y" * 2000}},
    )
    assert big.status_code == 413


def test_needs_ingest_or_write_scope(
    client: TestClient, api_key: Callable[..., str], factory: Factory
) -> None:
    factory.tutor("T0001")
    body = {"tutorId": "T0001", "eventType": "login"}
    assert client.post("/api/engagement/track", json=body).status_code == 401
    for scope, expected in (("read", 403), ("write", 200), ("ingest", 200)):
        headers = {"Authorization": f"Bearer {api_key(scope)}"}
        assert (
            client.post("/api/engagement/track", json=body, headers=headers).status_code == expected
        )


def test_replay_with_event_id_or_header_stores_nothing_new(
    ingest: TestClient, factory: Factory, db: Session
) -> None:
    factory.tutor("T0001")
    body = {"tutorId": "T0001", "eventType": "message_sent", "eventId": "evt-1"}
    first = ingest.post("/api/engagement/track", json=body)
    again = ingest.post("/api/engagement/track", json=body)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    header = {"Idempotency-Key": "hdr-7"}
    a = ingest.post(
        "/api/engagement/track", json={"tutorId": "T0001", "eventType": "login"}, headers=header
    )
    b = ingest.post(
        "/api/engagement/track", json={"tutorId": "T0001", "eventType": "login"}, headers=header
    )
    assert a.json() == b.json()
    assert _events(db) == 2
    clash = ingest.post(
        "/api/engagement/track", json={"tutorId": "T0001", "eventType": "login", "eventId": "evt-1"}
    )
    assert clash.status_code == 409
    assert _events(db) == 2


def test_last_login_only_moves_forward_under_out_of_order_events(
    ingest: TestClient, factory: Factory, db: Session
) -> None:
    tutor = factory.tutor("T0001")
    stamps = [NOW - timedelta(hours=h) for h in (5, 1, 9, 3, 12)]
    for stamp in stamps:
        ingest.post(
            "/api/engagement/track",
            json={"tutorId": "T0001", "eventType": "login", "timestamp": stamp.isoformat()},
        )
    db.refresh(tutor)
    assert tutor.last_login_at == max(stamps)
    ingest.post(
        "/api/engagement/track/batch",
        json={
            "events": [
                {
                    "tutorId": "T0001",
                    "eventType": "login",
                    "timestamp": (NOW - timedelta(days=3)).isoformat(),
                },
            ]
        },
    )
    db.refresh(tutor)
    assert tutor.last_login_at == max(stamps)


def test_batch_reports_each_item_and_keeps_the_valid_ones(
    ingest: TestClient, factory: Factory, db: Session
) -> None:
    factory.tutor("T0001")
    factory.tutor("T0002")
    ingest.post(
        "/api/engagement/track", json={"tutorId": "T0002", "eventType": "login", "eventId": "seen"}
    )
    events = [
        {"tutorId": "T0001", "eventType": "login"},
        {"tutorId": "T0404", "eventType": "login"},
        {"tutorId": "T0001", "eventType": "not_a_type"},
        {"tutorId": "T0002", "eventType": "login", "eventId": "seen"},
        {"tutorId": "T0002", "eventType": "message_sent", "eventId": "new-1"},
        {"tutorId": "T0002", "eventType": "message_sent", "eventId": "new-1"},
        "not an object",
    ]
    response = ingest.post("/api/engagement/track/batch", json={"events": events})
    assert response.status_code == 200
    body = response.json()
    statuses = [r["status"] for r in body["results"]]
    assert statuses == [201, 404, 400, 200, 201, 200, 400]
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (2, 2, 3)
    assert body["success"] is False
    assert body["results"][5]["event"]["id"] == body["results"][4]["event"]["id"]
    assert body["results"][2]["details"][0]["field"] == "eventType"
    assert _events(db) == 3


def test_batch_over_the_limit_is_413_and_stores_nothing(
    ingest: TestClient, factory: Factory, db: Session, settings: Settings
) -> None:
    factory.tutor("T0001")
    events = [{"tutorId": "T0001", "eventType": "login"}] * (settings.ingest_max_batch + 1)
    assert ingest.post("/api/engagement/track/batch", json={"events": events}).status_code == 413
    assert ingest.post("/api/engagement/track/batch", json={"evts": []}).status_code == 400
    assert _events(db) == 0


def test_unknown_tutor_in_db_never_gets_a_login(ingest: TestClient, db: Session) -> None:
    assert (
        ingest.post(
            "/api/engagement/track", json={"tutorId": "T0001", "eventType": "login"}
        ).status_code
        == 404
    )
    assert db.scalar(select(func.count()).select_from(Tutor)) == 0


@pytest.fixture
def concurrency_app(
    app_factory: Callable[..., FastAPI],
    settings: Settings,
    api_key: Callable[..., str],
    factory: Factory,
) -> tuple[FastAPI, dict[str, str]]:
    """Tutors T0001–T0004, an app and the headers of an ingest key its first request cached.

    The test's one database session cannot serve many key lookups at once: with the
    key cached, only the event writes touch the database.
    """
    for n in range(1, 5):
        factory.tutor(f"T000{n}")
    app = app_factory(settings.model_copy(update={"api_key_cache_seconds": 60}))
    headers = {"Authorization": f"Bearer {api_key('ingest')}"}
    warm = TestClient(app).post(
        "/api/engagement/track", json={"tutorId": "T0001", "eventType": "login"}, headers=headers
    )
    assert warm.status_code == 200, warm.text
    return app, headers


def test_concurrent_single_events_share_transactions_and_each_gets_its_own_answer(
    concurrency_app: tuple[FastAPI, dict[str, str]], db: Session
) -> None:
    """Group commit: 40 requests at once are written in fewer transactions than
    requests, every accepted event is stored once, and a bad item fails alone."""
    import asyncio

    import httpx

    app, headers = concurrency_app
    payloads = [
        {"tutorId": f"T000{1 + i % 4}", "eventType": "login", "eventId": f"evt-{i}"}
        for i in range(40)
    ]
    payloads[7] = {"tutorId": "T9999", "eventType": "login", "eventId": "evt-unknown"}
    payloads[9] = {"tutorId": "T0001", "eventType": "teleported"}
    payloads[11] = dict(payloads[10])  # the same eventId twice: one store, one replay

    async def send_all() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            return list(
                await asyncio.gather(
                    *[http.post("/api/engagement/track", json=p, headers=headers) for p in payloads]
                )
            )

    responses = asyncio.run(send_all())
    statuses = [r.status_code for r in responses]
    assert statuses[7] == 404
    assert statuses[9] == 400
    assert statuses.count(200) == 38
    replayed = [r.headers.get("Idempotent-Replayed") == "true" for r in responses]
    assert replayed.count(True) == 1
    assert replayed[10] or replayed[11]
    assert responses[10].json()["event"]["id"] == responses[11].json()["event"]["id"]
    for payload, response in zip(payloads, responses, strict=True):
        if response.status_code == 200:
            assert response.json()["event"]["tutorId"] == payload["tutorId"]
    assert _events(db) == 1 + 37
    committer = app.state.event_committer
    assert committer.items == 1 + 40
    assert committer.batches < 1 + 40


def test_concurrent_batches_share_transactions_and_each_answers_for_its_own_items(
    concurrency_app: tuple[FastAPI, dict[str, str]], db: Session
) -> None:
    """Concurrent batches: on SQLite they join the group commit (fewer transactions
    than requests); on either engine each batch answers item by item with its own
    indexes, an eventId sent by two concurrent batches is stored once and the other
    gets the same event back as a duplicate, and a bad item fails alone."""
    import asyncio

    import httpx

    app, headers = concurrency_app
    batches = [
        [
            {"tutorId": f"T000{1 + i % 4}", "eventType": "message_sent", "eventId": f"b{b}-{i}"}
            for i in range(30)
        ]
        for b in range(6)
    ]
    batches[2][5] = {"tutorId": "T9999", "eventType": "login", "eventId": "b2-unknown"}
    batches[3][0] = "not an object"  # type: ignore[call-overload]
    batches[4][7] = dict(batches[1][3])  # sent by two concurrent batches
    singles = [{"tutorId": "T0002", "eventType": "login", "eventId": f"s-{i}"} for i in range(4)]

    sqlite = db.get_bind().dialect.name == "sqlite"
    # The app runs on this test's one session, which cannot serve two transactions at
    # once: on PostgreSQL, where batches do not share the committer, one at a time.
    gate = asyncio.Semaphore(len(batches) + len(singles) if sqlite else 1)

    async def post(http: httpx.AsyncClient, path: str, body: object) -> httpx.Response:
        async with gate:
            return await http.post(path, json=body, headers=headers)

    async def send_all() -> tuple[list[httpx.Response], list[httpx.Response]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            posted = await asyncio.gather(
                *[post(http, "/api/engagement/track/batch", {"events": b}) for b in batches],
                *[post(http, "/api/engagement/track", s) for s in singles],
            )
        return list(posted[: len(batches)]), list(posted[len(batches) :])

    batch_responses, single_responses = asyncio.run(send_all())
    assert [r.status_code for r in single_responses] == [200] * 4
    bodies = [r.json() for r in batch_responses]
    assert all(r.status_code == 200 for r in batch_responses)
    for body in bodies:
        assert [entry["index"] for entry in body["results"]] == list(range(30))
    assert bodies[2]["results"][5]["status"] == 404
    assert bodies[3]["results"][0]["status"] == 400
    assert (bodies[2]["rejected"], bodies[3]["rejected"]) == (1, 1)
    assert bodies[2]["success"] is False
    assert bodies[0]["success"] is True
    first, second = bodies[1]["results"][3], bodies[4]["results"][7]
    assert {first["status"], second["status"]} == {200, 201}
    assert first["event"]["id"] == second["event"]["id"]
    assert sum(body["duplicates"] for body in bodies) == 1
    for batch, body in zip(batches, bodies, strict=True):
        for sent, entry in zip(batch, body["results"], strict=True):
            if entry["status"] in (200, 201):
                assert entry["event"]["tutorId"] == sent["tutorId"]  # type: ignore[index]
    # 1 warm-up + 6 × 30 − 2 rejected − 1 duplicate + 4 singles
    assert _events(db) == 1 + 180 - 2 - 1 + 4
    committer = app.state.event_committer
    if sqlite:  # batches join the single events' transactions
        assert committer.items == 1 + 180 + 4
        assert committer.batches < 1 + len(batches) + len(singles)
    else:  # on PostgreSQL each batch commits on its own, in parallel
        assert committer.items == 1 + 4
