"""The baseline for bench_ingest.py: a bare FastAPI endpoint that inserts one row.

No authentication, no validation beyond Pydantic's, no idempotency, no health
upkeep: the fastest honest way to put a posted event into the same database.
Served by uvicorn exactly like the product (one worker).

    BARE_DATABASE_URL=sqlite:///var/bench/ingest.db uvicorn --factory benchmarks.bare_ingest_app:create
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
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


def _indexed(name: str) -> Table:
    """The same columns with the product's events-table keys (unique idempotency key and
    the three read indexes)."""
    return Table(
        name,
        metadata,
        *_event_columns(),
        Column("external_id", String(128), unique=True),
        Index(f"ix_{name}_tutor_occurred", "tutor_id", "occurred_at"),
        Index(f"ix_{name}_type_occurred", "event_type", "occurred_at"),
        Index(f"ix_{name}_occurred", "occurred_at", "id"),
    )


# What the schema alone costs an insert.
bare_event_indexed = _indexed("bare_event_indexed")
# A design the product does not use, measured for comparison: batches go into a small
# staging table with the same keys, and a thread moves its rows into the big table
# every MERGE_SECONDS in one transaction (fewer pages per row in both). Ids are not
# kept across the move here; a product would have to keep them.
bare_event_staged = _indexed("bare_event_staged")
bare_event_merged = _indexed("bare_event_merged")
MERGE_SECONDS = 1.0
_COLUMNS = "external_id, tutor_id, event_type, occurred_at, data"


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

    merges = {"count": 0, "rows": 0, "seconds": 0.0}
    merger: list[threading.Thread] = []

    def merge_forever() -> None:
        while True:
            time.sleep(MERGE_SECONDS)
            started = time.perf_counter()
            with lock or contextlib.nullcontext(), engine.begin() as conn:
                moved = conn.exec_driver_sql(
                    f"INSERT INTO bare_event_merged ({_COLUMNS}) "
                    f"SELECT {_COLUMNS} FROM bare_event_staged ORDER BY tutor_id"
                ).rowcount
                conn.exec_driver_sql("DELETE FROM bare_event_staged")
            merges["count"] += 1
            merges["rows"] += moved
            merges["seconds"] += time.perf_counter() - started

    @app.post("/bare/batch-staged")
    def bare_batch_staged(batch: Batch) -> dict[str, Any]:
        if not merger:
            merger.append(threading.Thread(target=merge_forever, daemon=True))
            merger[0].start()
        write([{**row(e), "external_id": e.eventId} for e in batch.events], bare_event_staged)
        return {"success": True, "accepted": len(batch.events)}

    @app.get("/bare/staged-stats")
    def staged_stats() -> dict[str, Any]:
        with engine.connect() as conn:
            pending = conn.exec_driver_sql("SELECT count(*) FROM bare_event_staged").scalar()
        return {**merges, "pending": pending}

    @app.post("/bare/batch-indexed")
    def bare_batch_indexed(batch: Batch) -> dict[str, Any]:
        write([{**row(e), "external_id": e.eventId} for e in batch.events], bare_event_indexed)
        return {"success": True, "accepted": len(batch.events)}

    return app
