"""Engagement JSON API: event tracking (single and batch), timelines and metrics."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse

from tutorpulse.core.audit import Actor
from tutorpulse.core.db import UNIQUE_VIOLATION, with_retry
from tutorpulse.core.errors import Invalid, PayloadTooLarge
from tutorpulse.core.settings import Settings
from tutorpulse.engagement import metrics, service
from tutorpulse.engagement.schemas import (
    BatchTrackRequest,
    BatchTrackResponse,
    EngagementMetrics,
    Timeline,
    TrackRequest,
    TrackResponse,
)
from tutorpulse.web.auth import require_api, require_api_fast
from tutorpulse.web.deps import ClockDep, DbSession, app_unit_of_work
from tutorpulse.web.group_commit import GroupCommitter

router = APIRouter(prefix="/api/engagement", tags=["engagement"])

# Two processes storing the same new eventId at once: the loser's unique violation
# is retried, and the re-run answers it as a replay of the winner's event.
_KEY_RACE = frozenset({UNIQUE_VIOLATION})

# Ingestion is the hot path: async auth (a cached key never leaves the event loop) and
# one thread-pool hop for the endpoint, which opens and commits its own write transaction.
Ingester = Annotated[Actor, Depends(require_api_fast("ingest", "write"))]
Reader = Annotated[Actor, Depends(require_api("read"))]
TutorIdPath = Annotated[str, Path(alias="tutorId", min_length=1, max_length=64)]


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class _RawJSON(JSONResponse):
    """A JSON response whose body was already encoded (dates as ISO-8601, UTC as 'Z')."""

    def render(self, content: Any) -> bytes:
        return content if isinstance(content, bytes) else super().render(content)


def _respond(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> JSONResponse:
    content = json.dumps(body, default=_json, separators=(",", ":")).encode()
    return _RawJSON(content=content, status_code=status, headers=headers)


async def _body(request: Request) -> Any:
    """The JSON body, refusing anything larger than the ingest limit with a 413."""
    limit = int(request.app.state.settings.ingest_max_body_bytes)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"Request body is {declared} bytes; at most {limit} accepted")
    raw = await request.body()
    if len(raw) > limit:
        raise PayloadTooLarge(f"Request body is {len(raw)} bytes; at most {limit} accepted")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise Invalid.field("body", "must be a JSON document") from None


JsonBody = Annotated[Any, Depends(_body)]


def _event_input(value: Any, *, where: str = "body") -> service.EventInput:
    if not isinstance(value, dict):
        raise Invalid.field(where, "must be a JSON object")
    return service.EventInput(
        tutor_id=value.get("tutorId"),
        event_type=value.get("eventType"),
        event_data=value.get("eventData"),
        timestamp=value.get("timestamp"),
        event_id=value.get("eventId"),
    )


def _event_json(
    event: service.TrackedEvent, stamps: dict[datetime, str] | None = None
) -> dict[str, Any]:
    """The event as the API answers it; ``stamps`` caches formatted times across a batch."""
    if stamps is None:
        stamp = _json(event.timestamp)
    else:
        stamp = stamps.get(event.timestamp) or stamps.setdefault(
            event.timestamp, _json(event.timestamp)
        )
    return {
        "id": event.id,
        "tutorId": event.tutor_id,
        "eventType": event.event_type,
        # Formatted here, not by the encoder's fallback: a batch answers 1,000 of them
        # (most share the receive time).
        "timestamp": stamp,
    }


def _poke(app: Any) -> None:
    refresher = getattr(app.state, "refresher", None)
    if refresher is not None:
        refresher.poke()


@router.post(
    "/track",
    summary="Track one engagement event",
    response_model=TrackResponse,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": TrackRequest.model_json_schema()}},
        }
    },
    responses={400: {}, 404: {}, 409: {}, 413: {}},
)
async def track(
    request: Request,
    _actor: Ingester,
    body: JsonBody,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", max_length=service.MAX_KEY_LENGTH)
    ] = None,
) -> JSONResponse:
    item = _event_input(body)
    if idempotency_key is not None and item.event_id is None:
        item = replace(item, event_id=idempotency_key)
    # Group commit: requests arriving together share one write transaction.
    outcome = await _committer(request.app).submit(item)
    if outcome.event is None:
        raise service.outcome_error(outcome)
    headers = {"Idempotent-Replayed": "true"} if outcome.event.replayed else None
    return _respond({"success": True, "event": _event_json(outcome.event)}, headers=headers)


def _write_events(app: Any, items: Sequence[service.EventInput]) -> list[service.ItemOutcome]:
    """Store ``items`` in one write transaction (retrying a lost key race); poke the refresh."""
    settings: Settings = app.state.settings

    def attempt() -> list[service.ItemOutcome]:
        with app_unit_of_work(app, write=True) as db:
            return service.record_events(
                db, items=items, now=app.state.clock.now(), settings=settings
            )

    outcomes = with_retry(attempt, also=_KEY_RACE)
    if any(o.status == 201 for o in outcomes):
        _poke(app)
    return outcomes


def _committer(app: Any) -> GroupCommitter[service.EventInput, service.ItemOutcome]:
    """The app's group committer for tracked events (made on first use)."""
    committer: GroupCommitter[service.EventInput, service.ItemOutcome] | None = getattr(
        app.state, "event_committer", None
    )
    if committer is None:
        committer = GroupCommitter(
            lambda items: _write_events(app, items),
            max_batch=app.state.settings.ingest_group_max_events,
        )
        app.state.event_committer = committer
    return committer


def _groups_batches(app: Any) -> bool:
    """Whether batch requests join the group commit.

    On SQLite, where one transaction writes at a time anyway, fewer and larger
    transactions write fewer index pages. On PostgreSQL concurrent batches commit in
    parallel, and serialising them behind one writer was slower, so each batch keeps
    its own transaction there (figures in docs/engagement.md).
    """
    return bool(app.state.engine.dialect.name == "sqlite")


@router.post(
    "/track/batch",
    summary="Track up to 1,000 events; each item succeeds or fails on its own",
    response_model=BatchTrackResponse,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": BatchTrackRequest.model_json_schema()}},
        }
    },
    responses={400: {}, 413: {}},
)
async def track_batch(request: Request, _actor: Ingester, body: JsonBody) -> JSONResponse:
    settings: Settings = request.app.state.settings
    items = body.get("events") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise Invalid.field("events", "required: a JSON array of events")
    if len(items) > settings.ingest_max_batch:
        raise PayloadTooLarge(
            f"{len(items)} events in one batch; at most {settings.ingest_max_batch} accepted"
        )
    inputs: list[service.EventInput] = []
    bad_shape: dict[int, str] = {}
    for index, item in enumerate(items):
        if isinstance(item, dict):
            inputs.append(_event_input(item))
        else:
            bad_shape[index] = "each event must be a JSON object"
            inputs.append(service.EventInput(None, None))
    if _groups_batches(request.app):
        # Batches (and single events) arriving together share one write transaction;
        # this request's events are never split across two.
        outcomes = await _committer(request.app).submit_many(inputs)
    else:
        outcomes = await anyio.to_thread.run_sync(_write_events, request.app, inputs)
    results: list[dict[str, Any]] = []
    stamps: dict[datetime, str] = {}
    counts = {"accepted": 0, "duplicates": 0, "rejected": 0}
    # Outcomes are in this request's order (``outcome.index`` counts across a shared
    # transaction's requests).
    for index, outcome in enumerate(outcomes):
        entry: dict[str, Any] = {"index": index, "status": outcome.status}
        if index in bad_shape:
            entry.update(status=400, error=bad_shape[index])
        elif outcome.event is not None:
            entry["event"] = _event_json(outcome.event, stamps)
            entry["duplicate"] = outcome.event.replayed
        else:
            entry["error"] = outcome.error
            entry["details"] = [d.as_dict() for d in outcome.details]
        if entry["status"] == 201:
            counts["accepted"] += 1
        elif entry["status"] == 200:
            counts["duplicates"] += 1
        else:
            counts["rejected"] += 1
        results.append(entry)
    return _respond({"success": counts["rejected"] == 0, **counts, "results": results})


@router.get(
    "/tutors/{tutorId}/timeline",
    response_model=Timeline,
    summary="A tutor's events, newest first (paged by cursor)",
)
def tutor_timeline(
    db: DbSession,
    clock: ClockDep,
    _actor: Reader,
    tutor_id: TutorIdPath,
    limit: Annotated[int, Query(ge=1, le=metrics.MAX_PAGE)] = 10,
    days: Annotated[int | None, Query(ge=1, le=3650)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> JSONResponse:
    page = metrics.timeline(
        db, tutor_external_id=tutor_id, limit=limit, days=days, cursor=cursor, now=clock.now()
    )
    return _respond(page)


@router.get(
    "/metrics",
    response_model=EngagementMetrics,
    summary="A session metric vs the previous period; platform metrics when no tutorId",
)
def engagement_metrics(
    db: DbSession,
    clock: ClockDep,
    _actor: Reader,
    tutor_id: Annotated[str | None, Query(alias="tutorId", min_length=1, max_length=64)] = None,
    metric_type: Annotated[str, Query(alias="metricType", max_length=30)] = "engagement",
    period: Annotated[int, Query(ge=1, le=metrics.MAX_DAYS)] = 30,
    days: Annotated[int | None, Query(ge=1, le=metrics.MAX_DAYS)] = None,
    include_events: Annotated[bool, Query(alias="includeEvents")] = False,
    events_limit: Annotated[int, Query(alias="eventsLimit", ge=1, le=metrics.MAX_PAGE)] = 100,
    events_cursor: Annotated[str | None, Query(alias="eventsCursor", max_length=200)] = None,
    include_platform: Annotated[bool | None, Query(alias="includePlatform")] = None,
) -> JSONResponse:
    now = clock.now()
    window_days = days if days is not None else period
    body = metrics.metric_comparison(
        db,
        tutor_external_id=tutor_id,
        metric_type=metric_type,
        days=window_days,
        period=period,
        now=now,
    )
    if include_events:
        window = body["window"]
        start = datetime.combine(window["start"], datetime.min.time(), tzinfo=now.tzinfo)
        page = metrics.events_window(
            db,
            tutor_external_id=tutor_id,
            since=start,
            until=None,
            limit=events_limit,
            cursor=events_cursor,
        )
        body["events"] = page["events"]
        body["eventsNextCursor"] = page["nextCursor"]
    if include_platform if include_platform is not None else tutor_id is None:
        body["platform"] = metrics.platform_metrics(db, days=window_days, now=now)
    return _respond(body)
