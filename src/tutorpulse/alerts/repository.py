"""Every query of the alerts domain (reads other domains' tables; writes the alert tables
and one derived column elsewhere, ``tutor_health.priority_score``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from tutorpulse.alerts.models import Alert, AlertEvent, AlertRule
from tutorpulse.alerts.rules import HEALTH_METRICS
from tutorpulse.core.models import JobRun, User
from tutorpulse.engagement.models import TutorDaily, TutorHealth
from tutorpulse.risk.models import ChurnScoreDaily, SessionRisk
from tutorpulse.sessions.models import TutorSession
from tutorpulse.tutors.models import Tutor

# Only what the rules and the derived inputs read (dates and timestamps cost a conversion
# per value on SQLite).
HEALTH_COLUMNS = [
    TutorHealth.__table__.c[name]
    for name in ("tutor_id", "local_day", "last_completed_on", "churn_risk_level", *HEALTH_METRICS)
]
CHUNK = 5000


def _chunks(ids: Sequence[int]) -> Iterable[list[int]]:
    for i in range(0, len(ids), CHUNK):
        yield list(ids[i : i + CHUNK])


def _rows(db: Session, query: Any) -> pd.DataFrame:
    # Core execution on the session's connection: no ORM row processing for bulk reads.
    result = db.connection().execute(query)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def _frame(db: Session, query: Any, ids: Sequence[int] | None, column: Any) -> pd.DataFrame:
    if ids is None:
        return _rows(db, query)
    frames = [_rows(db, query.where(column.in_(part))) for part in _chunks(ids)]
    if not frames:
        return _rows(db, query.where(column.in_([-1])))
    return pd.concat(frames, ignore_index=True)


def load_health(db: Session, *, tutor_ids: Sequence[int] | None) -> pd.DataFrame:
    """Health rows of active tutors (one per tutor), with ``tutor`` = the external id."""
    query = (
        select(Tutor.external_id.label("tutor"), *HEALTH_COLUMNS)
        .join(Tutor, Tutor.id == TutorHealth.tutor_id)
        .where(Tutor.status == "active")
    )
    return _frame(db, query, tutor_ids, TutorHealth.tutor_id)


def login_window_sums(
    db: Session,
    *,
    local_day: date,
    recent_days: int,
    baseline_days: int,
    tutor_ids: Sequence[int] | None,
) -> pd.DataFrame:
    """``tutor_id, recent, baseline``: logins in the ``recent_days`` local days ending on
    ``local_day`` and in the ``baseline_days`` before them, for the tutors whose health
    snapshot ends on ``local_day`` (summed in the database from ``tutor_daily``)."""
    recent_from = local_day - timedelta(days=recent_days - 1)
    first = recent_from - timedelta(days=baseline_days)
    recent = func.sum(case((TutorDaily.day >= recent_from, TutorDaily.logins), else_=0))
    baseline = func.sum(case((TutorDaily.day < recent_from, TutorDaily.logins), else_=0))
    query = (
        select(TutorDaily.tutor_id, recent.label("recent"), baseline.label("baseline"))
        .join(TutorHealth, TutorHealth.tutor_id == TutorDaily.tutor_id)
        .where(
            TutorHealth.local_day == local_day,
            TutorDaily.logins > 0,
            TutorDaily.day >= first,
            TutorDaily.day <= local_day,
        )
        .group_by(TutorDaily.tutor_id)
    )
    return _frame(db, query, tutor_ids, TutorDaily.tutor_id)


def recent_engagement_scores(
    db: Session, *, since: datetime, until: datetime, last_n: int, tutor_ids: Sequence[int]
) -> pd.DataFrame:
    """``tutor_id, engagement_score, rank`` of each tutor's ``last_n`` most recent completed,
    scored sessions in [since, until) — rank 0 the newest (ties: the higher session id) —
    ranked in the database (a window function) so only those rows are read."""
    rank = (
        func.row_number()
        .over(
            partition_by=TutorSession.tutor_id,
            order_by=(TutorSession.scheduled_start.desc(), TutorSession.id.desc()),
        )
        .label("rn")
    )
    frames = []
    for part in _chunks(tutor_ids):
        inner = (
            select(TutorSession.tutor_id, TutorSession.engagement_score, rank)
            .where(
                TutorSession.status == "completed",
                TutorSession.engagement_score.is_not(None),
                TutorSession.scheduled_start >= since,
                TutorSession.scheduled_start < until,
                TutorSession.tutor_id.in_(part),
            )
            .subquery()
        )
        query = select(
            inner.c.tutor_id, inner.c.engagement_score, (inner.c.rn - 1).label("rank")
        ).where(inner.c.rn <= last_n)
        frames.append(_rows(db, query))
    if not frames:
        return pd.DataFrame(columns=["tutor_id", "engagement_score", "rank"])
    return pd.concat(frames, ignore_index=True)


def upcoming_first_sessions(db: Session, *, start: datetime, end: datetime) -> pd.DataFrame:
    """``tutor_id, upcoming_first_sessions, next_first_session_at`` in [start, end)."""
    query = (
        select(
            TutorSession.tutor_id,
            func.count().label("upcoming_first_sessions"),
            func.min(TutorSession.scheduled_start).label("next_first_session_at"),
        )
        .where(
            TutorSession.status == "scheduled",
            TutorSession.is_first_session.is_(True),
            TutorSession.scheduled_start >= start,
            TutorSession.scheduled_start < end,
        )
        .group_by(TutorSession.tutor_id)
    )
    return _frame(db, query, None, TutorSession.tutor_id)


def upcoming_noshow(db: Session, *, start: datetime, end: datetime) -> pd.DataFrame:
    """``tutor_id, noshow_high_sessions, noshow_probability_max`` of scored sessions in
    [start, end): how many the risk module rated High, and the highest probability."""
    high = func.sum(case((func.lower(SessionRisk.risk_level) == "high", 1), else_=0))
    query = (
        select(
            TutorSession.tutor_id,
            high.label("noshow_high_sessions"),
            func.max(SessionRisk.no_show_probability).label("noshow_probability_max"),
        )
        .join(SessionRisk, SessionRisk.session_id == TutorSession.id)
        .where(
            TutorSession.status == "scheduled",
            TutorSession.scheduled_start >= start,
            TutorSession.scheduled_start < end,
        )
        .group_by(TutorSession.tutor_id)
    )
    return _frame(db, query, None, TutorSession.tutor_id)


def daily_rows(
    db: Session, *, tutor_id: int, start: date, end: date, columns: Sequence[str]
) -> pd.DataFrame:
    """``day`` and ``columns`` of one tutor's ``tutor_daily`` rows in [start, end]."""
    query = select(TutorDaily.day, *(TutorDaily.__table__.c[c] for c in columns)).where(
        TutorDaily.tutor_id == tutor_id, TutorDaily.day >= start, TutorDaily.day <= end
    )
    return _rows(db, query)


def changed_tutor_ids(db: Session, *, since: datetime) -> set[int]:
    """Tutors whose health or session risk changed after ``since``, or with a cleared alert."""
    ids = set(db.scalars(select(TutorHealth.tutor_id).where(TutorHealth.computed_at > since)))
    ids.update(
        db.scalars(
            select(TutorSession.tutor_id)
            .join(SessionRisk, SessionRisk.session_id == TutorSession.id)
            .where(SessionRisk.scored_at > since)
        )
    )
    ids.update(
        db.scalars(
            select(Alert.tutor_id).where(
                Alert.state != "resolved", Alert.condition_cleared_at.is_not(None)
            )
        )
    )
    return ids


def inactive_tutor_ids(db: Session, ids: Iterable[int]) -> set[int]:
    """Those of ``ids`` whose tutor is not active (paused, churned or deleted)."""
    wanted = sorted(set(ids))
    if not wanted:
        return set()
    active: set[int] = set()
    for part in _chunks(wanted):
        active.update(
            db.scalars(select(Tutor.id).where(Tutor.id.in_(part), Tutor.status == "active"))
        )
    return set(wanted) - active


def last_generate_runs(db: Session, *, job_name: str) -> list[JobRun]:
    """Recent succeeded runs of the generate job, newest first."""
    return list(
        db.scalars(
            select(JobRun)
            .where(JobRun.job_name == job_name, JobRun.status == "succeeded")
            .order_by(JobRun.started_at.desc())
            .limit(50)
        )
    )


def last_job_run(db: Session, *, job_name: str, status: str | None = None) -> JobRun | None:
    """The newest run of ``job_name`` (with ``status`` when given)."""
    query = select(JobRun).where(JobRun.job_name == job_name)
    if status is not None:
        query = query.where(JobRun.status == status)
    return db.scalar(query.order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(1))


# --- alerts -------------------------------------------------------------------------------


def unresolved_alerts(db: Session, *, tutor_ids: Sequence[int] | None) -> list[Alert]:
    query = select(Alert).where(Alert.state != "resolved")
    if tutor_ids is None:
        return list(db.scalars(query))
    out: list[Alert] = []
    for part in _chunks(tutor_ids):
        out.extend(db.scalars(query.where(Alert.tutor_id.in_(part))))
    return out


def open_priorities(db: Session, *, tutor_ids: Sequence[int] | None) -> pd.DataFrame:
    """``tutor_id, priority`` of every alert that asks for attention now: open or
    acknowledged, not snoozed, not suppressed by a critical alert."""
    query = select(Alert.tutor_id, Alert.priority).where(
        Alert.state.in_(("open", "acknowledged")), Alert.suppressed_by_id.is_(None)
    )
    return _frame(db, query, tutor_ids, Alert.tutor_id)


def stored_priorities(db: Session, *, tutor_ids: Sequence[int] | None) -> dict[int, float | None]:
    """``tutor_health.priority_score`` per tutor with a health row."""
    query = select(TutorHealth.tutor_id, TutorHealth.priority_score)
    frame = _frame(db, query, tutor_ids, TutorHealth.tutor_id)
    return {
        int(t): (None if pd.isna(p) else float(p))
        for t, p in zip(frame["tutor_id"], frame["priority_score"], strict=True)
    }


def write_priorities(db: Session, scores: dict[int, float]) -> None:
    """Set ``tutor_health.priority_score`` for the given tutors (one executemany)."""
    if scores:
        db.execute(
            update(TutorHealth),
            [{"tutor_id": t, "priority_score": p} for t, p in scores.items()],
        )


def last_resolved(db: Session, *, since: datetime) -> dict[str, datetime]:
    """Newest ``resolved_at`` per fingerprint among alerts resolved after ``since``."""
    rows = db.execute(
        select(Alert.fingerprint, func.max(Alert.resolved_at))
        .where(Alert.state == "resolved", Alert.resolved_at >= since)
        .group_by(Alert.fingerprint)
    ).all()
    return {fp: at for fp, at in rows if at is not None}


def expired_snoozes(db: Session, *, now: datetime) -> list[Alert]:
    return list(
        db.scalars(select(Alert).where(Alert.state == "snoozed", Alert.snoozed_until <= now))
    )


def unresolved_ids(db: Session, fingerprints: Sequence[str]) -> dict[str, int]:
    """Id of the unresolved alert of each fingerprint (the partial unique index's rows)."""
    out: dict[str, int] = {}
    for i in range(0, len(fingerprints), CHUNK):
        part = list(fingerprints[i : i + CHUNK])
        rows = db.execute(
            select(Alert.fingerprint, Alert.id).where(
                Alert.state != "resolved", Alert.fingerprint.in_(part)
            )
        )
        out.update((fp, int(alert_id)) for fp, alert_id in rows)
    return out


def touch_alerts(db: Session, ids: Sequence[int], now: datetime) -> None:
    """Set ``last_seen_at`` of these alerts (one statement per chunk of ids; the session's
    loaded objects are not synchronised)."""
    for part in _chunks(ids):
        db.execute(
            update(Alert)
            .where(Alert.id.in_(part))
            .values(last_seen_at=now)
            .execution_options(synchronize_session=False)
        )


def unresolved_fingerprint(db: Session, fingerprint: str) -> bool:
    query = select(Alert.id).where(Alert.fingerprint == fingerprint, Alert.state != "resolved")
    return db.scalar(query.limit(1)) is not None


def get_alert(db: Session, alert_id: int) -> Alert | None:
    return db.get(Alert, alert_id)


def alert_events(db: Session, alert_id: int) -> list[AlertEvent]:
    return list(
        db.scalars(
            select(AlertEvent)
            .where(AlertEvent.alert_id == alert_id)
            .order_by(AlertEvent.at, AlertEvent.id)
        )
    )


def rule_rows(db: Session) -> list[AlertRule]:
    return list(db.scalars(select(AlertRule).order_by(AlertRule.key)))


def get_user(db: Session, user_id: int) -> User | None:
    return db.get(User, user_id)


def user_names(db: Session, ids: Iterable[int]) -> dict[int, str]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = db.execute(select(User.id, User.name, User.email).where(User.id.in_(wanted))).all()
    return {uid: (name or email) for uid, name, email in rows}


def tutor_by_external_id(db: Session, external_id: str) -> Tutor | None:
    return db.scalar(select(Tutor).where(Tutor.external_id == external_id))


def tutors_by_id(db: Session, ids: Iterable[int]) -> dict[int, Tutor]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    return {t.id: t for t in db.scalars(select(Tutor).where(Tutor.id.in_(wanted)))}


def window_start(now: datetime, days: int) -> datetime:
    return now - timedelta(days=days)


def assignable_users(db: Session) -> list[User]:
    return list(
        db.scalars(
            select(User)
            .where(User.is_active.is_(True), User.role.in_(("admin", "coach")))
            .order_by(User.name, User.email)
        )
    )


def open_severity_counts(db: Session) -> dict[str, int]:
    rows = db.execute(
        select(Alert.severity, func.count())
        .where(Alert.state != "resolved", Alert.suppressed_by_id.is_(None))
        .group_by(Alert.severity)
    ).all()
    return {str(k): int(v) for k, v in rows}


# --- backtest inputs ------------------------------------------------------------------------


def all_daily(db: Session, columns: Sequence[str]) -> pd.DataFrame:
    query = select(*(TutorDaily.__table__.c[c] for c in columns))
    result = db.execute(query)
    return pd.DataFrame(result.fetchall(), columns=list(columns))


def all_tutors(db: Session) -> pd.DataFrame:
    result = db.execute(
        select(Tutor.id, Tutor.timezone, Tutor.joined_on, Tutor.status, Tutor.churned_at)
    )
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def scored_sessions(db: Session, *, since: datetime, until: datetime) -> pd.DataFrame:
    query = select(
        TutorSession.tutor_id, TutorSession.scheduled_start, TutorSession.engagement_score
    ).where(
        TutorSession.status == "completed",
        TutorSession.engagement_score.is_not(None),
        TutorSession.scheduled_start >= since,
        TutorSession.scheduled_start < until,
    )
    result = db.execute(query)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def churn_score_history(db: Session, *, first: date, last: date) -> pd.DataFrame:
    """``tutor_id, day, churn_probability, churn_risk_level``: the stored daily churn
    scores of the UTC days ``first``..``last``."""
    query = select(
        ChurnScoreDaily.tutor_id,
        ChurnScoreDaily.day,
        ChurnScoreDaily.churn_probability,
        ChurnScoreDaily.churn_risk_level,
    ).where(ChurnScoreDaily.day >= first, ChurnScoreDaily.day <= last)
    return _rows(db, query)


def first_sessions(db: Session, *, since: datetime, until: datetime) -> pd.DataFrame:
    """First-pairing sessions by start time (any outcome: they were booked beforehand)."""
    query = select(TutorSession.tutor_id, TutorSession.scheduled_start).where(
        TutorSession.is_first_session.is_(True),
        TutorSession.scheduled_start >= since,
        TutorSession.scheduled_start < until,
    )
    result = db.execute(query)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def coach_count(db: Session) -> int:
    return int(
        db.scalar(select(func.count()).where(User.role == "coach", User.is_active.is_(True))) or 0
    )
