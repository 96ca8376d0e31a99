"""The baseline for bench_ingest.py: a bare FastAPI endpoint that inserts one row.

No authentication, no validation beyond Pydantic's, no idempotency, no health
upkeep: the fastest honest way to put a posted event into the same database.
Served by uvicorn exactly like the product (one worker).

    BARE_DATABASE_URL=sqlite:///var/bench/ingest.db uvicorn --factory benchmarks.bare_ingest_app:create
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import Column, DateTime, Index, Integer, MetaData, String, Table, insert

from tutorpulse.core.db import JSONType, create_db_engine, sqlite_write_lock

metadata = MetaData()


def _event_columns() -> list[Column[Any]]:
    return [
        Column("id", Integer, primary_key=True),
        Column("tutor_id", String(64), nullable=False),
        Column("event_type", String(50), nullable=False),
        Column("occurred_at", DateTime(timezone=True), nullable=False),
        Column("data", JSONType, nullable=False),
    ]


bare_event = Table("bare_event", metadata, *_event_columns())

# The same columns with the product's events-table keys (unique idempotency key and
# the three read indexes): what the schema alone costs an insert.
bare_event_indexed = Table(
    "bare_event_indexed",
    metadata,
    *_event_columns(),
    Column("external_id", String(128), unique=True),
    Index("ix_bare_indexed_tutor_occurred", "tutor_id", "occurred_at"),
    Index("ix_bare_indexed_type_occurred", "event_type", "occurred_at"),
    Index("ix_bare_indexed_occurred", "occurred_at", "id"),
)


class Event(BaseModel):
    tutorId: str  # noqa: N815
    eventType: str  # noqa: N815
    eventData: dict[str, Any] | None = None  # noqa: N815
    eventId: str | None = None  # noqa: N815


class Batch(BaseModel):
    events: list[Event]


def create() -> FastAPI:
    engine = create_db_engine(os.environ["BARE_DATABASE_URL"])
    metadata.create_all(engine)
    lock = sqlite_write_lock(engine)
    app = FastAPI()

    def write(rows: list[dict[str, Any]], table: Table = bare_event) -> None:
        if lock is not None:
            with lock, engine.begin() as conn:
                conn.execute(insert(table), rows)
        else:
            with engine.begin() as conn:
                conn.execute(insert(table), rows)

    def row(event: Event) -> dict[str, Any]:
        return {
            "tutor_id": event.tutorId,
            "event_type": event.eventType,
            "occurred_at": datetime.now(UTC),
            "data": event.eventData or {},
        }

    @app.post("/bare")
    def bare(event: Event) -> dict[str, Any]:
        write([row(event)])
        return {"success": True}

    @app.post("/bare/batch")
    def bare_batch(batch: Batch) -> dict[str, Any]:
        write([row(e) for e in batch.events])
        return {"success": True, "accepted": len(batch.events)}

    @app.post("/bare/batch-indexed")
    def bare_batch_indexed(batch: Batch) -> dict[str, Any]:
        write([{**row(e), "external_id": e.eventId} for e in batch.events], bare_event_indexed)
        return {"success": True, "accepted": len(batch.events)}

    return app
