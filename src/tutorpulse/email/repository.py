"""Queries of the email outbox (interventions as messages, their events) and tutor facts.

The outbox statements are written so that each transaction starts with a write:
on SQLite a transaction that reads first cannot always be upgraded to a writer
while another process writes (SQLITE_BUSY at once instead of waiting).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import and_, bindparam, case, distinct, func, insert, or_, select, update
from sqlalchemy.orm import Session

from tutorpulse.core.db import UTCDateTime
from tutorpulse.email.facts import TutorFacts, UpcomingSession
from tutorpulse.email.models import EmailEvent, Suppression
from tutorpulse.interventions.models import Intervention
from tutorpulse.sessions.models import TutorSession
from tutorpulse.tutors.models import Student, Tutor

PENDING, SENDING, SENT, FAILED, SUPPRESSED = "pending", "sending", "sent", "failed", "suppressed"

# --------------------------------------------------------------------- claiming


def _due(now: datetime, stale_before: datetime) -> Any:
    return or_(
        and_(
            Intervention.status == PENDING,
            or_(Intervention.next_attempt_at.is_(None), Intervention.next_attempt_at <= now),
        ),
        and_(Intervention.status == SENDING, Intervention.claimed_at < stale_before),
    )


def claim_due(
    db: Session,
    *,
    worker: str,
    now: datetime,
    stale_before: datetime,
    limit: int,
    skip_locked: bool,
) -> list[int]:
    """Claim up to ``limit`` due messages for ``worker`` in one statement; returns their ids.

    Due: pending with no or a past ``next_attempt_at``, or claimed (``sending``)
    by a worker whose claim is older than ``stale_before`` (it stopped). The
    claim is the status change to ``sending`` with ``claimed_by``/``claimed_at``;
    the outer WHERE repeats the due test, so of two racing workers only one gets
    a row. On PostgreSQL the candidate rows are locked ``FOR UPDATE SKIP
    LOCKED`` so the workers take different rows instead of queueing on the same.
    """
    due = _due(now, stale_before)
    candidates = (
        select(Intervention.id)
        .where(due, Intervention.channel == "email")
        .order_by(
            func.coalesce(Intervention.next_attempt_at, Intervention.created_at), Intervention.id
        )
        .limit(limit)
    )
    if skip_locked:
        candidates = candidates.with_for_update(skip_locked=True)
    stmt = (
        update(Intervention)
        .where(Intervention.id.in_(candidates.scalar_subquery()), due)
        .values(status=SENDING, claimed_by=worker, claimed_at=now)
        .returning(Intervention.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(db.scalars(stmt).all())


def renew_claims(db: Session, *, ids: set[int], worker: str, now: datetime) -> set[int]:
    """Renew ``worker``'s claims on ``ids``; returns those it still holds (not taken over)."""
    if not ids:
        return set()
    stmt = (
        update(Intervention)
        .where(
            Intervention.id.in_(sorted(ids)),
            Intervention.status == SENDING,
            Intervention.claimed_by == worker,
        )
        .values(claimed_at=now)
        .returning(Intervention.id)
        .execution_options(synchronize_session=False)
    )
    return set(db.scalars(stmt).all())


@dataclass(frozen=True)
class OutboxRow:
    id: int
    idempotency_key: str
    tutor_id: int
    tutor_external_id: str
    timezone: str
    to_email: str | None
    subject: str | None
    html: str | None
    text: str | None
    template_key: str | None
    attempts: int
    suppressed: bool = False


def _outbox_columns() -> tuple[Any, ...]:
    return (
        Intervention.id,
        Intervention.idempotency_key,
        Intervention.tutor_id,
        Tutor.external_id,
        Tutor.timezone,
        Intervention.to_email,
        Intervention.subject,
        Intervention.content_html,
        Intervention.content_text,
        Intervention.template_key,
        Intervention.attempts,
        Suppression.id.is_not(None),
    )


def load_outbox_rows(db: Session, *, ids: Sequence[int]) -> dict[int, OutboxRow]:
    """The claimed messages with their tutor's time zone and whether the address is suppressed
    (one query for the whole batch)."""
    if not ids:
        return {}
    rows = db.execute(
        select(*_outbox_columns())
        .join(Tutor, Tutor.id == Intervention.tutor_id)
        .outerjoin(Suppression, Suppression.email == func.lower(func.trim(Intervention.to_email)))
        .where(Intervention.id.in_(sorted(ids)))
    ).all()
    return {r[0]: OutboxRow(*r) for r in rows}


def recent_send_times(
    db: Session,
    *,
    tutor_id: int,
    since: datetime,
    live_claims_after: datetime,
    exclude_id: int,
) -> tuple[list[datetime], int]:
    """(send times of the tutor's messages since ``since``, newest first; messages in flight).

    In flight: claimed by a live worker right now (a claim renewed after
    ``live_claims_after``), so two workers cannot both pass the frequency cap.
    One query.
    """
    rows = db.execute(
        select(Intervention.sent_at, Intervention.status).where(
            Intervention.tutor_id == tutor_id,
            Intervention.id != exclude_id,
            or_(
                Intervention.sent_at >= since,
                and_(
                    Intervention.status == SENDING,
                    Intervention.claimed_at > live_claims_after,
                ),
            ),
        )
    ).all()
    sent = sorted((t for t, _ in rows if t is not None and t >= since), reverse=True)
    in_flight = sum(1 for t, status in rows if status == SENDING and t is None)
    return sent, in_flight


def _finish(db: Session, intervention_id: int, **values: Any) -> bool:
    # Only a row still being sent is finished: a message recorded as sent (or
    # failed) by anyone stays so, whatever a late worker reports.
    result = db.execute(
        update(Intervention)
        .where(Intervention.id == intervention_id, Intervention.status == SENDING)
        .values(claimed_by=None, claimed_at=None, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


@lru_cache(maxsize=1)
def _mark_sent_statement() -> Any:
    # Built once (it runs for every message sent); parameters are bound per call.
    return (
        update(Intervention)
        .where(Intervention.id == bindparam("p_id"), Intervention.status == SENDING)
        .values(
            status=SENT,
            sent_at=bindparam("p_now", type_=UTCDateTime()),
            provider=bindparam("p_provider"),
            provider_message_id=bindparam("p_message_id"),
            attempts=Intervention.attempts + 1,
            claimed_by=None,
            claimed_at=None,
            next_attempt_at=None,
            error_message=None,
        )
        .execution_options(synchronize_session=False)
    )


def mark_sent(
    db: Session,
    *,
    intervention_id: int,
    now: datetime,
    provider: str,
    provider_message_id: str | None,
) -> bool:
    result = db.execute(
        _mark_sent_statement(),
        {
            "p_id": intervention_id,
            "p_now": now,
            "p_provider": provider,
            "p_message_id": provider_message_id,
        },
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def mark_failed(db: Session, *, intervention_id: int, reason: str, attempted: bool) -> bool:
    extra: dict[str, Any] = {"attempts": Intervention.attempts + 1} if attempted else {}
    return _finish(
        db, intervention_id, status=FAILED, error_message=reason, next_attempt_at=None, **extra
    )


def mark_suppressed(db: Session, *, intervention_id: int, reason: str) -> bool:
    return _finish(db, intervention_id, status=SUPPRESSED, error_message=reason)


def release(
    db: Session,
    *,
    intervention_id: int,
    next_attempt_at: datetime,
    reason: str | None,
    attempted: bool,
) -> bool:
    """Back to pending until ``next_attempt_at`` (deferred, or retried after a failure)."""
    extra: dict[str, Any] = {"attempts": Intervention.attempts + 1} if attempted else {}
    return _finish(
        db,
        intervention_id,
        status=PENDING,
        next_attempt_at=next_attempt_at,
        error_message=reason,
        **extra,
    )


def add_event(
    db: Session,
    *,
    intervention_id: int,
    event_type: str,
    now: datetime,
    provider: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    # A plain INSERT, not an ORM object: no identity map or flush for a row
    # nobody reads back in this transaction.
    db.execute(
        insert(EmailEvent),
        [
            {
                "intervention_id": intervention_id,
                "event_type": event_type,
                "occurred_at": now,
                "received_at": now,
                "provider": provider,
                "is_machine": False,
                "data": data or {},
            }
        ],
    )


# --------------------------------------------------------------------- reading


def get_by_idempotency_key(db: Session, *, key: str) -> Intervention | None:
    return db.scalars(select(Intervention).where(Intervention.idempotency_key == key)).first()


def list_interventions(
    db: Session,
    *,
    status: str | None,
    template_key: str | None,
    tutor_id: int | None,
    limit: int,
    offset: int,
) -> tuple[list[tuple[Intervention, str]], int]:
    """(intervention, tutor external id) newest first, and the total matching."""
    conditions = []
    if status:
        conditions.append(Intervention.status == status)
    if template_key:
        conditions.append(Intervention.template_key == template_key)
    if tutor_id is not None:
        conditions.append(Intervention.tutor_id == tutor_id)
    total = db.scalar(select(func.count()).select_from(Intervention).where(*conditions))
    rows = db.execute(
        select(Intervention, Tutor.external_id)
        .join(Tutor, Tutor.id == Intervention.tutor_id)
        .where(*conditions)
        .order_by(Intervention.created_at.desc(), Intervention.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return [(r[0], r[1]) for r in rows], int(total or 0)


def status_counts(db: Session) -> dict[str, int]:
    rows = db.execute(select(Intervention.status, func.count()).group_by(Intervention.status)).all()
    return {status: int(n) for status, n in rows}


def get_intervention(db: Session, *, intervention_id: int) -> tuple[Intervention, str] | None:
    row = db.execute(
        select(Intervention, Tutor.external_id)
        .join(Tutor, Tutor.id == Intervention.tutor_id)
        .where(Intervention.id == intervention_id)
    ).first()
    return (row[0], row[1]) if row else None


def list_events(db: Session, *, intervention_id: int, limit: int = 200) -> Sequence[EmailEvent]:
    return db.scalars(
        select(EmailEvent)
        .where(EmailEvent.intervention_id == intervention_id)
        .order_by(EmailEvent.occurred_at, EmailEvent.id)
        .limit(limit)
    ).all()


# --------------------------------------------------------------------- tutor facts


def _f(value: Any) -> float | None:
    return None if value is None else float(value)


def _i(value: Any) -> int:
    return int(value or 0)


def tutor_facts(
    db: Session, *, tutor: Tutor, now: datetime, needs: FactNeeds | None = None
) -> TutorFacts:
    """What the templates may say about ``tutor`` as of ``now`` (sessions up to ``now``).

    ``needs`` skips the queries whose figures the template does not use
    (default: everything); skipped figures stay at their empty defaults.
    """
    needs = needs or FactNeeds()
    if not needs.aggregates:
        return _profile_facts(db, tutor=tutor, now=now, needs=needs)
    row = db.execute(
        _aggregate_statement(),
        {
            "tutor_id": tutor.id,
            "now": now,
            "since30": now - timedelta(days=30),
            "since14": now - timedelta(days=14),
            "since28": now - timedelta(days=28),
        },
    ).one()
    base = _profile_facts(db, tutor=tutor, now=now, needs=needs)
    rank = ranked = None
    rating_avg_30d = _f(row[6])
    if needs.rank and rating_avg_30d is not None:
        rank, ranked = _rating_rank(db, now=now, value=rating_avg_30d)
    return replace(
        base,
        completed_total=_i(row[0]),
        students_total=_i(row[1]),
        rating_avg_all=_f(row[2]),
        rated_all=_i(row[3]),
        completed_14d=_i(row[4]),
        completed_prior_14d=_i(row[5]),
        rating_avg_30d=rating_avg_30d,
        rated_30d=_i(row[7]),
        engagement_avg_30d=_f(row[8]),
        engagement_n_30d=_i(row[9]),
        empathy_avg_30d=_f(row[10]),
        empathy_n_30d=_i(row[11]),
        clarity_avg_30d=_f(row[12]),
        clarity_n_30d=_i(row[13]),
        tech_issues_30d=_i(row[14]),
        tech_recorded_30d=_i(row[15]),
        outcomes_30d=_i(row[16]),
        tutor_reschedules_30d=_i(row[17]),
        first_rating_avg=_f(row[18]),
        first_rated=_i(row[19]),
        rating_rank_30d=rank,
        ranked_tutors_30d=ranked,
    )


@lru_cache(maxsize=1)
def _aggregate_statement() -> Any:
    # Built once with bound parameters: constructing this expression costs more
    # than running it, and it is needed for every message queued.
    s = TutorSession
    done = s.status == "completed"
    in30 = s.scheduled_start > bindparam("since30", type_=UTCDateTime())
    in14 = s.scheduled_start > bindparam("since14", type_=UTCDateTime())
    prior14 = and_(s.scheduled_start > bindparam("since28", type_=UTCDateTime()), ~in14)
    first = and_(s.is_first_session.is_(True), done)

    def count_if(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    def avg_n(condition: Any, column: Any) -> tuple[Any, Any]:
        value = case((condition, column))
        return func.avg(value), func.count(value)

    return select(
        count_if(done),
        func.count(distinct(case((done, s.student_id)))),
        func.avg(s.student_rating),
        func.count(s.student_rating),
        count_if(and_(done, in14)),
        count_if(and_(done, prior14)),
        *avg_n(in30, s.student_rating),
        *avg_n(in30, s.engagement_score),
        *avg_n(in30, s.empathy_score),
        *avg_n(in30, s.clarity_score),
        count_if(and_(in30, s.technical_issue.is_(True))),
        func.count(case((in30, s.technical_issue))),
        count_if(and_(in30, s.status != "scheduled")),
        count_if(and_(in30, s.status == "rescheduled", s.rescheduled_by == "tutor")),
        *avg_n(first, s.student_rating),
    ).where(
        s.tutor_id == bindparam("tutor_id"),
        s.scheduled_start <= bindparam("now", type_=UTCDateTime()),
    )


@dataclass(frozen=True)
class FactNeeds:
    """Which groups of tutor figures to query (all by default)."""

    aggregates: bool = True
    last_session: bool = True
    upcoming: bool = True
    rank: bool = True


def _profile_facts(db: Session, *, tutor: Tutor, now: datetime, needs: FactNeeds) -> TutorFacts:
    s = TutorSession
    last_session = None
    if needs.last_session:
        last_session = db.scalar(
            select(func.max(s.scheduled_start)).where(
                s.tutor_id == tutor.id, s.status == "completed", s.scheduled_start <= now
            )
        )
    upcoming = None
    if needs.upcoming:
        upcoming = db.execute(
            select(s.scheduled_start, s.subject, Student.grade_level)
            .join(Student, Student.id == s.student_id)
            .where(
                s.tutor_id == tutor.id,
                s.is_first_session.is_(True),
                s.status == "scheduled",
                s.scheduled_start > now,
            )
            .order_by(s.scheduled_start)
            .limit(1)
        ).first()
    login = tutor.last_login_at
    return TutorFacts(
        now=now,
        name=tutor.name or "",
        timezone=tutor.timezone or "UTC",
        last_login_at=login if login is not None and login <= now else None,
        last_session_at=last_session,
        next_first_session=(
            UpcomingSession(start=upcoming[0], subject=upcoming[1], grade_level=upcoming[2])
            if upcoming
            else None
        ),
    )


def _rating_rank(db: Session, *, now: datetime, value: float) -> tuple[int, int]:
    s = TutorSession
    per_tutor = (
        select(s.tutor_id, func.avg(s.student_rating).label("avg"))
        .where(
            s.scheduled_start > now - timedelta(days=30),
            s.scheduled_start <= now,
            s.student_rating.is_not(None),
        )
        .group_by(s.tutor_id)
        .subquery()
    )
    # A small tolerance so the tutor's own average (recomputed here) never outranks itself.
    row = db.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((per_tutor.c.avg > value + 1e-9, 1), else_=0)), 0),
        ).select_from(per_tutor)
    ).one()
    return int(row[1]) + 1, int(row[0])
