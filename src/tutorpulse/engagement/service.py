"""Engagement ingestion: tracked events (single and batch) and dirty marks for the refresh.

Idempotency: a client ``eventId`` (or the ``Idempotency-Key`` header) is stored as
the event's ``external_id`` (unique). A replay returns the stored event and stores
nothing; a replay whose tutor or type differs is a 409, not a silent overwrite.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from tutorpulse.core.errors import AppError, Conflict, ErrorDetail, Invalid, NotFound
from tutorpulse.core.settings import Settings
from tutorpulse.engagement import metrics
from tutorpulse.engagement import repository as repo
from tutorpulse.engagement.models import PlatformDaily

MAX_KEY_LENGTH = 128


@dataclass(frozen=True)
class TrackedEvent:
    """One stored event as the API reports it."""

    id: int
    tutor_id: str
    event_type: str
    timestamp: datetime
    replayed: bool = False


@dataclass(frozen=True)
class EventInput:
    """One event as received, before validation."""

    tutor_id: Any
    event_type: Any
    event_data: Any = None
    timestamp: Any = None
    event_id: Any = None


@dataclass(frozen=True)
class ItemOutcome:
    """The result of one item of a batch: stored, replayed, or rejected with a status."""

    index: int
    status: int
    event: TrackedEvent | None = None
    error: str | None = None
    details: tuple[ErrorDetail, ...] = ()


@dataclass(frozen=True)
class _Valid:
    tutor_external: str
    event_type: str
    occurred_at: datetime
    data: dict[str, Any]
    key: str | None


def parse_timestamp(value: Any, *, field: str = "timestamp") -> datetime:
    """An ISO-8601 string (offset or 'Z'; naive means UTC) → aware UTC datetime."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and value.strip():
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise Invalid.field(
                field, f"{value!r} is not an ISO-8601 timestamp (e.g. 2026-11-26T14:05:00Z)"
            ) from None
    else:
        raise Invalid.field(field, "must be an ISO-8601 timestamp string")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _validate(item: EventInput, *, now: datetime, settings: Settings, key: str | None) -> _Valid:
    if not isinstance(item.tutor_id, str) or not item.tutor_id.strip():
        raise Invalid.field("tutorId", 'required: the tutor\'s id, e.g. "T0001"')
    if not isinstance(item.event_type, str) or not item.event_type.strip():
        raise Invalid.field("eventType", "required")
    event_type = item.event_type.strip()
    if event_type not in settings.event_types:
        raise Invalid.field(
            "eventType",
            f"unknown event type {event_type!r}; expected one of "
            + ", ".join(settings.event_types),
        )
    data: dict[str, Any] = {}
    if item.event_data is not None:
        if not isinstance(item.event_data, dict):
            raise Invalid.field("eventData", "must be a JSON object")
        size = len(json.dumps(item.event_data, separators=(",", ":")))
        if size > settings.ingest_max_event_data_bytes:
            raise Invalid.field(
                "eventData",
                f"is {size} bytes; at most {settings.ingest_max_event_data_bytes} allowed",
            )
        data = item.event_data
    occurred = now if item.timestamp is None else parse_timestamp(item.timestamp)
    skew = (occurred - now).total_seconds()
    if skew > settings.ingest_max_future_skew_seconds:
        raise Invalid.field(
            "timestamp",
            f"is {int(skew)} s in the future; at most "
            f"{settings.ingest_max_future_skew_seconds} s of clock skew is accepted",
        )
    if item.event_id is not None:
        if not isinstance(item.event_id, str) or not item.event_id.strip():
            raise Invalid.field("eventId", "must be a non-empty string")
        key = item.event_id.strip()
    if key is not None and len(key) > MAX_KEY_LENGTH:
        raise Invalid.field("eventId", f"at most {MAX_KEY_LENGTH} characters")
    return _Valid(item.tutor_id.strip(), event_type, occurred, data, key)


def _replay(valid: _Valid, stored: tuple[int, str, str, datetime]) -> TrackedEvent:
    event_id, tutor, event_type, occurred = stored
    if tutor != valid.tutor_external or event_type != valid.event_type:
        raise Conflict(
            f"eventId {valid.key!r} was already used for a {event_type!r} event of tutor "
            f"{tutor}; an idempotency key must not be reused for a different event",
            [ErrorDetail("eventId", "already used for a different event")],
        )
    return TrackedEvent(event_id, tutor, event_type, occurred, replayed=True)


def record_event(
    db: Session,
    *,
    item: EventInput,
    idempotency_key: str | None,
    now: datetime,
    settings: Settings,
) -> TrackedEvent:
    """Store one event (or return the stored one for a replayed key).

    Raises ``Invalid`` (400) naming the field, ``NotFound`` (404) for an unknown
    tutor and ``Conflict`` (409) when the key was used for a different event.
    """
    if idempotency_key is not None and item.event_id is None:
        item = replace(item, event_id=idempotency_key)
    outcome = record_events(db, items=[item], now=now, settings=settings)[0]
    if outcome.event is None:
        raise outcome_error(outcome)
    return outcome.event


def outcome_error(outcome: ItemOutcome) -> AppError:
    """The error a rejected item stands for (``Invalid``, ``NotFound`` or ``Conflict``)."""
    kind = {400: Invalid, 404: NotFound, 409: Conflict}.get(outcome.status, AppError)
    return kind(outcome.error or "rejected", list(outcome.details))


def record_events(
    db: Session, *, items: Sequence[EventInput], now: datetime, settings: Settings
) -> list[ItemOutcome]:
    """Store a batch item by item: each gets its own outcome; valid items are kept."""
    outcomes: dict[int, ItemOutcome] = {}
    valid: dict[int, _Valid] = {}
    for index, item in enumerate(items):
        try:
            valid[index] = _validate(item, now=now, settings=settings, key=None)
        except Invalid as exc:
            outcomes[index] = ItemOutcome(index, 400, error=exc.message, details=tuple(exc.details))
    stored = repo.events_by_key(db, sorted({v.key for v in valid.values() if v.key is not None}))
    tutors = repo.tutor_ids_by_external(db, sorted({v.tutor_external for v in valid.values()}))
    seen_in_batch: dict[str, int] = {}
    to_insert: list[tuple[int, _Valid]] = []
    for index, v in valid.items():
        try:
            if v.key is not None and v.key in stored:
                outcomes[index] = ItemOutcome(index, 200, event=_replay(v, stored[v.key]))
                continue
            if v.tutor_external not in tutors:
                outcomes[index] = ItemOutcome(
                    index, 404, error=f"Unknown tutor {v.tutor_external!r}",
                    details=(ErrorDetail("tutorId", "no tutor with this id"),),
                )  # fmt: skip
                continue
            if v.key is not None and v.key in seen_in_batch:
                first = valid[seen_in_batch[v.key]]
                if (first.tutor_external, first.event_type) != (v.tutor_external, v.event_type):
                    raise Conflict(
                        f"eventId {v.key!r} appears twice in this batch for different events",
                        [ErrorDetail("eventId", "duplicate within the batch")],
                    )
                continue  # resolved below, once the first occurrence has its id
            if v.key is not None:
                seen_in_batch[v.key] = index
            to_insert.append((index, v))
        except Conflict as exc:
            outcomes[index] = ItemOutcome(index, 409, error=exc.message, details=tuple(exc.details))
    if to_insert:
        rows = [
            {
                "external_id": v.key,
                "tutor_id": tutors[v.tutor_external],
                "event_type": v.event_type,
                "occurred_at": v.occurred_at,
                "data": v.data,
                "received_at": now,
            }
            for _, v in to_insert
        ]
        ids = _insert_many(db, rows)
        for (index, v), new_id in zip(to_insert, ids, strict=True):
            outcomes[index] = ItemOutcome(
                index,
                201,
                event=TrackedEvent(new_id, v.tutor_external, v.event_type, v.occurred_at),
            )
        _after_insert(
            db, [(tutors[v.tutor_external], v.event_type, v.occurred_at) for _, v in to_insert], now
        )
    for index, v in valid.items():
        if index not in outcomes and v.key is not None:
            original = outcomes[seen_in_batch[v.key]]
            assert original.event is not None
            event = original.event
            outcomes[index] = ItemOutcome(
                index, 200, event=TrackedEvent(event.id, event.tutor_id, event.event_type,
                                               event.timestamp, replayed=True),
            )  # fmt: skip
    return [outcomes[i] for i in range(len(items))]


def _insert_many(db: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows and return their ids in order (one statement per dialect batch)."""
    return repo.insert_events(db, rows)


def _after_insert(db: Session, stored: Iterable[tuple[int, str, datetime]], now: datetime) -> None:
    """Raise last logins (never lower them) and mark the tutors for the refresh."""
    latest_login: dict[int, datetime] = {}
    earliest: dict[int, date] = {}
    for tutor_id, event_type, occurred in stored:
        if event_type == "login" and (
            tutor_id not in latest_login or occurred > latest_login[tutor_id]
        ):
            latest_login[tutor_id] = occurred
        day = (occurred - timedelta(days=1)).date()
        if tutor_id not in earliest or day < earliest[tutor_id]:
            earliest[tutor_id] = day
    repo.raise_last_logins(db, sorted(latest_login.items()), now)  # tutor order: no deadlocks
    repo.mark_dirty(db, earliest.items(), now)


def mark_tutors_dirty(db: Session, *, marks: Iterable[tuple[int, date]], now: datetime) -> None:
    """Ask the refresh to recompute these tutors' rollups from the given day on.

    Called by other ingestion paths (sessions API, file import).
    """
    repo.mark_dirty(db, marks, now)


def mark_imported_dirty(
    conn: Connection, *, marks: Iterable[tuple[int, date]], now: datetime
) -> None:
    """The file importer's variant: marks inside the import's own connection/transaction."""
    repo.mark_dirty_conn(conn, marks, now)


def platform_days(db: Session, *, days: int, end: date) -> list[PlatformDaily]:
    """Rows of the platform rollup for the ``days`` days ending on ``end`` (oldest first)."""
    return metrics.platform_day_rows(db, days=days, end=end)


def last_complete_day(db: Session, *, now: datetime) -> date:
    """The day before the platform rollup's latest (today's, still partial) day."""
    return metrics.today_for(db, now) - timedelta(days=1)
