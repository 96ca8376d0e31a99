"""Every query of the risk domain: model versions and scores here; the bulk reads of the
history (raw rows and older aggregates) in ``history_repository``, re-exported.

Writing churn scores UPDATEs the existing ``tutor_health`` rows (owned by the
engagement domain, which creates them); this module never inserts there.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from tutorpulse.engagement.models import TutorHealth
from tutorpulse.risk.history_repository import (
    count_tutors,
    first_activity,
    load_frames,
    older_history,
    older_session_counts,
    older_student_counts,
)
from tutorpulse.risk.models import ChurnScoreDaily, ModelVersion, SessionRisk
from tutorpulse.sessions.models import TutorSession
from tutorpulse.tutors.models import Tutor

__all__ = [
    "count_tutors",
    "first_activity",
    "load_frames",
    "older_history",
    "older_session_counts",
    "older_student_counts",
]

WRITE_CHUNK = 5_000


# --- model versions ---------------------------------------------------------------------


def next_version(db: Session, *, target: str) -> int:
    current = db.scalar(select(func.max(ModelVersion.version)).where(ModelVersion.target == target))
    return int(current or 0) + 1


def add_model_version(db: Session, row: ModelVersion) -> ModelVersion:
    db.add(row)
    db.flush()
    return row


def get_model_version(db: Session, version_id: int) -> ModelVersion | None:
    return db.get(ModelVersion, version_id)


def get_active(db: Session, *, target: str) -> ModelVersion | None:
    return db.scalars(
        select(ModelVersion).where(ModelVersion.target == target, ModelVersion.is_active)
    ).first()


def list_model_versions(db: Session, *, target: str | None = None) -> Sequence[ModelVersion]:
    stmt = select(ModelVersion).order_by(ModelVersion.target, ModelVersion.version.desc())
    if target:
        stmt = stmt.where(ModelVersion.target == target)
    return db.scalars(stmt).all()


def set_active(db: Session, row: ModelVersion) -> None:
    """Make ``row`` the only active version of its target."""
    db.execute(
        update(ModelVersion)
        .where(ModelVersion.target == row.target, ModelVersion.id != row.id)
        .values(is_active=False)
    )
    row.is_active = True
    db.flush()


# --- scores -----------------------------------------------------------------------------


def write_tutor_scores(db: Session, rows: list[dict[str, Any]]) -> int:
    """Clear every tutor_health risk field, then set the scored ones; returns rows updated.

    ``rows``: dicts with ``tid``, ``p``, ``level``, ``drivers``, ``version``.
    Tutors without a tutor_health row are skipped (engagement.refresh creates rows).
    """
    db.execute(
        update(TutorHealth)
        .where(TutorHealth.churn_probability.is_not(None))
        .values(
            churn_probability=None,
            churn_risk_level=None,
            risk_drivers=[],
            risk_model_version_id=None,
        )
    )
    if not rows:
        return 0
    table: Any = TutorHealth.__table__
    stmt = (
        update(table)
        .where(table.c.tutor_id == bindparam("tid"))
        .values(
            churn_probability=bindparam("p"),
            churn_risk_level=bindparam("level"),
            risk_drivers=bindparam("drivers", type_=table.c.risk_drivers.type),
            risk_model_version_id=bindparam("version"),
        )
    )
    conn = db.connection()
    for i in range(0, len(rows), WRITE_CHUNK):
        conn.execute(stmt, rows[i : i + WRITE_CHUNK])
    return int(
        db.scalar(
            select(func.count())
            .select_from(TutorHealth)
            .where(TutorHealth.churn_probability.is_not(None))
        )
        or 0
    )


def record_churn_history(
    db: Session, *, rows: list[dict[str, Any]], now: datetime, keep_days: int
) -> int:
    """Store ``rows`` (``write_tutor_scores``' dicts) as the churn scores of ``now``'s UTC
    day, replacing that day's earlier ones, and drop the days older than ``keep_days``;
    returns the rows stored (none when ``keep_days`` is 0)."""
    day = now.astimezone(UTC).date()
    db.execute(delete(ChurnScoreDaily).where(ChurnScoreDaily.day <= day - timedelta(keep_days)))
    db.execute(delete(ChurnScoreDaily).where(ChurnScoreDaily.day == day))
    if keep_days == 0 or not rows:
        return 0
    records = [
        {
            "tutor_id": r["tid"],
            "day": day,
            "churn_probability": r["p"],
            "churn_risk_level": r["level"],
            "model_version_id": r["version"],
            "scored_at": now,
        }
        for r in rows
    ]
    conn = db.connection()
    for i in range(0, len(records), WRITE_CHUNK):
        conn.execute(insert(ChurnScoreDaily), records[i : i + WRITE_CHUNK])
    return len(records)


def replace_session_risks(db: Session, rows: list[dict[str, Any]]) -> int:
    """Replace every stored session score with ``rows`` (dicts of SessionRisk columns)."""
    db.execute(delete(SessionRisk))
    conn = db.connection()
    for i in range(0, len(rows), WRITE_CHUNK):
        conn.execute(insert(SessionRisk), rows[i : i + WRITE_CHUNK])
    return len(rows)


def session_risk_page(
    db: Session,
    *,
    start: datetime,
    until: datetime,
    tutor_external_id: str | None,
    levels: Sequence[str] | None,
    limit: int,
    offset: int,
) -> tuple[list[Any], int]:
    """Upcoming scored sessions in ``[start, until)``, riskiest first; and the total."""
    cond = and_(TutorSession.scheduled_start >= start, TutorSession.scheduled_start < until)
    base = (
        select(SessionRisk, TutorSession, Tutor.external_id)
        .join(TutorSession, TutorSession.id == SessionRisk.session_id)
        .join(Tutor, Tutor.id == TutorSession.tutor_id)
        .where(cond)
    )
    if tutor_external_id:
        base = base.where(Tutor.external_id == tutor_external_id)
    if levels:
        base = base.where(SessionRisk.risk_level.in_(list(levels)))
    total = int(db.scalar(select(func.count()).select_from(base.subquery())) or 0)
    rows = db.execute(
        base.order_by(SessionRisk.no_show_probability.desc(), TutorSession.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return list(rows), total


def session_level_counts(
    db: Session, *, start: datetime, until: datetime, tutor_external_id: str | None
) -> dict[str, int]:
    stmt = (
        select(SessionRisk.risk_level, func.count())
        .join(TutorSession, TutorSession.id == SessionRisk.session_id)
        .join(Tutor, Tutor.id == TutorSession.tutor_id)
        .where(TutorSession.scheduled_start >= start, TutorSession.scheduled_start < until)
        .group_by(SessionRisk.risk_level)
    )
    if tutor_external_id:
        stmt = stmt.where(Tutor.external_id == tutor_external_id)
    return {str(level): int(n) for level, n in db.execute(stmt).all()}


def tutor_risk_page(
    db: Session, *, level: str | None, subject: str | None, limit: int, offset: int
) -> tuple[list[Any], int]:
    """Scored tutors, highest churn probability first; and the total."""
    base = (
        select(TutorHealth, Tutor)
        .join(Tutor, Tutor.id == TutorHealth.tutor_id)
        .where(TutorHealth.churn_probability.is_not(None))
    )
    if level:
        base = base.where(func.lower(TutorHealth.churn_risk_level) == level.lower())
    if subject:
        base = base.where(Tutor.primary_subject == subject)
    total = int(db.scalar(select(func.count()).select_from(base.subquery())) or 0)
    rows = db.execute(
        base.order_by(TutorHealth.churn_probability.desc(), Tutor.external_id)
        .limit(limit)
        .offset(offset)
    ).all()
    return list(rows), total


def tutor_level_counts(db: Session) -> dict[str, int]:
    stmt = (
        select(TutorHealth.churn_risk_level, func.count())
        .where(TutorHealth.churn_probability.is_not(None))
        .group_by(TutorHealth.churn_risk_level)
    )
    return {str(level): int(n) for level, n in db.execute(stmt).all()}


def tutor_id_by_external(db: Session, external_id: str) -> int | None:
    return db.scalar(select(Tutor.id).where(Tutor.external_id == external_id))
