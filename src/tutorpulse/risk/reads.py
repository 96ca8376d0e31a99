"""Reads of the stored scores for the API and pages."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from tutorpulse.core.errors import Invalid, NotFound
from tutorpulse.risk import noshow
from tutorpulse.risk import repository as repo
from tutorpulse.risk.schemas import (
    NoShowRisk,
    NoShowSummary,
    SessionRiskPage,
    SessionRiskRead,
    SessionRiskWithStudentRead,
    TutorRiskPage,
    TutorRiskRead,
)

MITIGATION = {
    "High": [
        "send reminders 24 hours and 1 hour before the session",
        "follow up with the tutor if the session is not confirmed",
    ],
    "Medium": ["send a reminder 24 hours before", "check the tutor's availability"],
    "Low": ["monitor"],
}
MAX_NOSHOW_LIST = {"High": 20, "Medium": 10}


def _session_read(risk: Any, session: Any, tutor_external: str) -> SessionRiskRead:
    return SessionRiskRead(
        session_id=session.external_id,
        tutor_id=tutor_external,
        student_id=session.student_id,
        subject=session.subject,
        scheduled_start=session.scheduled_start,
        no_show_probability=risk.no_show_probability,
        risk_level=risk.risk_level,
        drivers=risk.drivers or [],
        model_version_id=risk.model_version_id,
        scored_at=risk.scored_at,
    )


def _session_with_student(
    risk: Any, session: Any, tutor_external: str
) -> SessionRiskWithStudentRead:
    scored = risk.student_no_show_probability is not None
    return SessionRiskWithStudentRead(
        **_session_read(risk, session, tutor_external).model_dump(),
        student_no_show_probability=risk.student_no_show_probability,
        student_risk_level=risk.student_risk_level if scored else None,
        student_drivers=(risk.student_drivers or []) if scored else None,
    )


def list_session_risks(
    db: Session,
    *,
    now: datetime,
    days_ahead: int,
    limit: int,
    offset: int,
    tutor_external_id: str | None = None,
    levels: tuple[str, ...] | None = None,
) -> SessionRiskPage:
    """Scored sessions starting in ``[now, now + days_ahead)``, highest tutor no-show
    probability first, each with its student no-show score when there is one."""
    rows, total = repo.session_risk_page(
        db,
        start=now,
        until=now + timedelta(days=days_ahead),
        tutor_external_id=tutor_external_id,
        levels=levels,
        limit=limit,
        offset=offset,
    )
    return SessionRiskPage(
        sessions=[_session_with_student(r, s, ext) for r, s, ext in rows],
        total=total,
        limit=limit,
        offset=offset,
        days_ahead=days_ahead,
    )


def get_noshow_risk(
    db: Session,
    *,
    now: datetime,
    tutor_external_id: str | None,
    days_ahead: int,
    generate_alerts: bool,
) -> NoShowRisk:
    """The original ``/api/analytics/noshow-risk`` payload from the stored per-session scores."""
    if tutor_external_id and repo.tutor_id_by_external(db, tutor_external_id) is None:
        raise NotFound(f"tutor {tutor_external_id} not found")
    until = now + timedelta(days=days_ahead)
    counts = repo.session_level_counts(
        db, start=now, until=until, tutor_external_id=tutor_external_id
    )
    lists = {}
    for level, cap in MAX_NOSHOW_LIST.items():
        rows, _total = repo.session_risk_page(
            db,
            start=now,
            until=until,
            tutor_external_id=tutor_external_id,
            levels=(level,),
            limit=cap,
            offset=0,
        )
        lists[level] = [_session_read(r, s, ext) for r, s, ext in rows]
    alerts: dict[str, Any] = {"requested": generate_alerts, "generated": 0}
    if generate_alerts:
        alerts["note"] = (
            "alerts are raised by the alerts.generate job from these scores; "
            "this endpoint does not create them"
        )
    return NoShowRisk(
        summary=NoShowSummary(
            total_high_risk=counts.get("High", 0),
            total_medium_risk=counts.get("Medium", 0),
            total_low_risk=counts.get("Low", 0),
            days_ahead=days_ahead,
        ),
        high_risk_sessions=lists["High"],
        medium_risk_sessions=lists["Medium"],
        mitigation=MITIGATION,
        alerts=alerts,
        scored=repo.get_active(db, target=noshow.TARGET) is not None,
    )


def list_tutor_risks(
    db: Session, *, limit: int, offset: int, level: str | None = None, subject: str | None = None
) -> TutorRiskPage:
    """Every scored tutor, highest churn probability first."""
    if level and level.lower() not in ("high", "medium", "low"):
        raise Invalid.field("level", "must be High, Medium or Low")
    rows, total = repo.tutor_risk_page(db, level=level, subject=subject, limit=limit, offset=offset)
    tutors = [
        TutorRiskRead(
            tutor_id=t.external_id,
            name=t.name,
            primary_subject=t.primary_subject,
            certification_level=t.certification_level,
            status=t.status,
            churn_probability=h.churn_probability,
            churn_risk_level=h.churn_risk_level,
            risk_drivers=h.risk_drivers or [],
            risk_model_version_id=h.risk_model_version_id,
            health_as_of=h.as_of,
        )
        for h, t in rows
    ]
    return TutorRiskPage(
        tutors=tutors,
        total=total,
        limit=limit,
        offset=offset,
        level_counts=repo.tutor_level_counts(db),
    )
