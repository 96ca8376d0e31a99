"""Risk models: train and register, activate, evaluate, score; read the scores.

Callers (CLI, jobs, API, pages) own the transaction; this module only flushes.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from tutorpulse.core.errors import Invalid, NotFound
from tutorpulse.core.settings import Settings
from tutorpulse.risk import churn, noshow, registry
from tutorpulse.risk import repository as repo
from tutorpulse.risk.evaluation import score_metrics
from tutorpulse.risk.explain import explain, risk_level, rows_to_explain
from tutorpulse.risk.features import (
    EVENT_ROW_DAYS,
    LOOKBACK_DAYS,
    TUTOR_FEATURES,
    compute_tutor_features,
)
from tutorpulse.risk.frames import DAY, Frames, from_epoch, to_epoch
from tutorpulse.risk.labels import month_cutoffs
from tutorpulse.risk.models import ModelVersion
from tutorpulse.risk.schemas import (
    ModelList,
    ModelVersionRead,
    NoShowRisk,
    NoShowSummary,
    SessionRiskPage,
    SessionRiskRead,
    TutorRiskPage,
    TutorRiskRead,
)
from tutorpulse.risk.training import TrainingResult, train_and_evaluate

TARGETS = (churn.TARGET, noshow.TARGET)
# What scoring reads as rows before ``now`` (a day of margin each); anything older only as
# per-tutor aggregates (``features.OlderHistory``, two grouped queries).
SCORING_SESSION_DAYS = LOOKBACK_DAYS + 1
SCORING_EVENT_DAYS = EVENT_ROW_DAYS + 1


@dataclass
class TrainOutcome:
    target: str
    version: ModelVersion
    activated: bool
    reason: str
    seconds: float


def thresholds(settings: Settings, target: str) -> tuple[float, float]:
    if target == churn.TARGET:
        return settings.risk_churn_medium_threshold, settings.risk_churn_high_threshold
    return settings.risk_noshow_medium_threshold, settings.risk_noshow_high_threshold


def _check_target(target: str) -> None:
    if target not in TARGETS:
        raise Invalid.field("target", f"must be one of {', '.join(TARGETS)}")


# --- training ---------------------------------------------------------------------------


def fit_target(frames: Frames, *, target: str, start_ts: int, settings: Settings) -> TrainingResult:
    """Build the target's training table from ``frames`` and train (pure; no database).

    Raises ValueError when the history is too short.
    """
    seed = settings.risk_train_seed
    if target == churn.TARGET:
        h = settings.risk_churn_horizon_days
        cutoffs = month_cutoffs(
            start_ts=start_ts,
            end_ts=frames.end_ts,
            horizon_days=h,
            step_days=settings.risk_cutoff_step_days,
            warmup_days=settings.risk_warmup_days,
        )
        train, valid, test = churn.split_cutoffs(cutoffs, h)
        data = churn.churn_dataset(
            frames, cutoffs, horizon_days=h, inactivity_days=settings.churn_inactivity_days
        )
        return train_and_evaluate(
            target=target,
            data=data,
            features=list(TUTOR_FEATURES),
            train_cutoffs=train,
            valid_cutoffs=valid,
            test_cutoffs=test,
            window_seconds=h * DAY,
            seed=seed,
            thresholds=thresholds(settings, target),
            fairness_tolerance=settings.risk_fairness_churn_tolerance,
            fairness_min_n=settings.risk_fairness_min_group,
        )
    w = settings.risk_noshow_window_days
    cutoffs = noshow.week_cutoffs(
        start_ts=start_ts,
        end_ts=frames.end_ts,
        window_days=w,
        warmup_days=settings.risk_warmup_days,
    )
    n_test = settings.risk_noshow_test_windows
    train, valid, test = noshow.split_cutoffs(cutoffs, test_windows=n_test, valid_windows=n_test)
    data = noshow.noshow_dataset(frames, cutoffs, window_days=w)
    return train_and_evaluate(
        target=target,
        data=data,
        features=list(noshow.NOSHOW_FEATURES),
        train_cutoffs=train,
        valid_cutoffs=valid,
        test_cutoffs=test,
        window_seconds=w * DAY,
        seed=seed,
        thresholds=thresholds(settings, target),
        fairness_tolerance=settings.risk_fairness_noshow_tolerance,
        fairness_min_n=settings.risk_fairness_min_group,
        negative_share=settings.risk_noshow_negative_share,
    )


def _active_auc_on(active: ModelVersion | None, result: TrainingResult) -> float | None:
    """The active model's AUC on the new held-out rows (None if it cannot score them)."""
    if active is None or active.artifact is None:
        return None
    try:
        model = registry.load(active.artifact)
        p = model.predict(result.test)
    except (KeyError, ValueError):
        return None
    auc = score_metrics(result.test["label"].to_numpy(), p)["auc"]
    return None if auc is None else float(auc)


def train_models(
    db: Session, *, now: datetime, settings: Settings, targets: tuple[str, ...] = TARGETS
) -> list[TrainOutcome]:
    """Train, register and (when at least as good as the active one) activate each target.

    A new model is activated only if its held-out AUC is at least the active model's
    AUC on the same held-out rows and its Brier score beats the base rate.
    """
    for t in targets:
        _check_target(t)
    first = repo.first_activity(db)
    if first is None:
        raise Invalid.field("data", "no sessions to train on")
    n_tutors = repo.count_tutors(db)
    modulus = max(1, math.ceil(n_tutors / settings.risk_train_max_tutors))
    frames = repo.load_frames(db, end=now, tutor_modulus=modulus)
    start_ts = max(to_epoch(first), frames.end_ts - 400 * DAY)
    outcomes = []
    for target in targets:
        began = time.perf_counter()
        try:
            result = fit_target(frames, target=target, start_ts=start_ts, settings=settings)
        except ValueError as exc:
            raise Invalid.field("data", f"{target}: {exc}") from exc
        held = result.metrics["heldOut"]
        active = repo.get_active(db, target=target)
        active_auc = _active_auc_on(active, result)
        result.metrics["activeModelAucOnHeldOut"] = active_auc
        result.metrics["tutorSampleModulus"] = modulus
        beats_base = held["brier"] < held["brierBaseRate"]
        good = held["auc"] is not None and beats_base
        if not good:
            activated, reason = False, "held-out Brier score is not better than the base rate"
        elif active_auc is not None and held["auc"] < active_auc:
            activated, reason = (
                False,
                f"held-out AUC {held['auc']:.3f} is below the active model's {active_auc:.3f}",
            )
        else:
            activated, reason = True, "activated"
        row = repo.add_model_version(
            db,
            ModelVersion(
                target=target,
                version=repo.next_version(db, target=target),
                algorithm=result.model.algorithm,
                features=list(result.model.features),
                training_start=from_epoch(result.training_start),
                training_end=from_epoch(result.training_end),
                metrics=result.metrics,
                calibration=result.calibration,
                artifact=registry.dump(result.model),
                is_active=False,
                created_at=now,
            ),
        )
        if activated:
            repo.set_active(db, row)
        outcomes.append(
            TrainOutcome(target, row, activated, reason, round(time.perf_counter() - began, 2))
        )
    return outcomes


def list_models(db: Session, *, target: str | None = None) -> list[ModelVersion]:
    if target:
        _check_target(target)
    return list(repo.list_model_versions(db, target=target))


def get_model_or_raise(db: Session, version_id: int) -> ModelVersion:
    row = repo.get_model_version(db, version_id)
    if row is None:
        raise NotFound(f"model version {version_id} not found")
    return row


def activate_model(db: Session, *, version_id: int) -> ModelVersion:
    """Make a version the active one of its target (an explicit operator decision)."""
    row = get_model_or_raise(db, version_id)
    if row.artifact is None:
        raise Invalid.field("version", "this version has no artifact")
    repo.set_active(db, row)
    return row


def evaluate_model(
    db: Session, *, version_id: int, now: datetime, settings: Settings
) -> dict[str, Any]:
    """Score a stored version on the most recent held-out period of the current data."""
    row = get_model_or_raise(db, version_id)
    if row.artifact is None:
        raise Invalid.field("version", "this version has no artifact")
    model = registry.load(row.artifact)
    first = repo.first_activity(db)
    if first is None:
        raise Invalid.field("data", "no sessions to evaluate on")
    n_tutors = repo.count_tutors(db)
    modulus = max(1, math.ceil(n_tutors / settings.risk_train_max_tutors))
    frames = repo.load_frames(db, end=now, tutor_modulus=modulus)
    if row.target == churn.TARGET:
        h = settings.risk_churn_horizon_days
        cutoff = ((frames.end_ts - h * DAY) // DAY) * DAY
        data = churn.churn_dataset(
            frames, [int(cutoff)], horizon_days=h, inactivity_days=settings.churn_inactivity_days
        )
    else:
        w = settings.risk_noshow_window_days
        cutoffs = noshow.week_cutoffs(
            start_ts=to_epoch(first), end_ts=frames.end_ts, window_days=w, warmup_days=0
        )[-settings.risk_noshow_test_windows :]
        data = noshow.noshow_dataset(frames, cutoffs, window_days=w)
    if data.empty:
        raise Invalid.field("data", "no rows in the evaluation period")
    y = data["label"].to_numpy()
    return {
        "version": row.version,
        "target": row.target,
        "model": score_metrics(y, model.predict(data), detail=False),
        "baseline": score_metrics(y, data["baseline"].to_numpy(), detail=False),
    }


# --- scoring ----------------------------------------------------------------------------


@dataclass
class ScoreSummary:
    tutors_scored: int
    tutor_health_updated: int
    sessions_scored: int
    churn_version: int | None
    noshow_version: int | None
    seconds: dict[str, float]


def score_all(db: Session, *, now: datetime, settings: Settings) -> ScoreSummary:
    """Score every at-risk tutor (into tutor_health) and every upcoming session with the
    active models; a target without an active model is skipped (its scores are cleared)."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    until = now + timedelta(days=settings.risk_score_days_ahead)
    frames = repo.load_frames(
        db,
        end=now,
        since=now - timedelta(days=SCORING_SESSION_DAYS),
        events_since=now - timedelta(days=SCORING_EVENT_DAYS),
        sessions_until=until,
    )
    timings["load"] = round(time.perf_counter() - t0, 3)
    now_ts = frames.end_ts
    older = repo.older_history(db, cutoff=now_ts)
    timings["load_older"] = round(time.perf_counter() - t0 - timings["load"], 3)
    t1 = time.perf_counter()
    feats = compute_tutor_features(frames, now_ts, older=older)
    timings["features"] = round(time.perf_counter() - t1, 3)

    churn_row = repo.get_active(db, target=churn.TARGET)
    tutor_rows: list[dict[str, Any]] = []
    if churn_row is not None and churn_row.artifact is not None:
        t2 = time.perf_counter()
        model = registry.load(churn_row.artifact)
        current = frames.tutors.set_index("tutor_id")["status"].reindex(feats.index)
        at_risk = feats.loc[
            (feats["inactive_days"] < settings.churn_inactivity_days).to_numpy()
            & (current != "churned").to_numpy()
        ]
        p = model.predict(at_risk)
        cut = thresholds(settings, churn.TARGET)
        drivers = explain(model, at_risk, only=rows_to_explain(model, p, cut[0]))
        tutor_rows = [
            {
                "tid": int(tid),
                "p": round(float(pi), 6),
                "level": risk_level(float(pi), cut),
                "drivers": d,
                "version": churn_row.id,
            }
            for tid, pi, d in zip(at_risk.index, p, drivers, strict=True)
        ]
        timings["churn"] = round(time.perf_counter() - t2, 3)
    t3 = time.perf_counter()
    updated = repo.write_tutor_scores(db, tutor_rows)
    timings["write_tutors"] = round(time.perf_counter() - t3, 3)

    ns_row = repo.get_active(db, target=noshow.TARGET)
    session_rows: list[dict[str, Any]] = []
    if ns_row is not None and ns_row.artifact is not None:
        t4 = time.perf_counter()
        model = registry.load(ns_row.artifact)
        ss = frames.sessions
        start = ss["start_ts"].to_numpy()
        targets = ss.loc[(ss["status"].to_numpy() == "scheduled") & (start >= now_ts)]
        rows = noshow.session_features(frames, targets, now_ts, feats)
        p = model.predict(rows)
        cut = thresholds(settings, noshow.TARGET)
        drivers = explain(model, rows, only=rows_to_explain(model, p, cut[0]))
        session_rows = [
            {
                "session_id": int(sid),
                "model_version_id": ns_row.id,
                "no_show_probability": round(float(pi), 6),
                "risk_level": risk_level(float(pi), cut),
                "drivers": d,
                "scored_at": now,
            }
            for sid, pi, d in zip(rows["session_id"], p, drivers, strict=True)
        ]
        timings["noshow"] = round(time.perf_counter() - t4, 3)
    t5 = time.perf_counter()
    repo.replace_session_risks(db, session_rows)
    timings["write_sessions"] = round(time.perf_counter() - t5, 3)
    db.flush()
    timings["total"] = round(time.perf_counter() - t0, 3)
    return ScoreSummary(
        tutors_scored=len(tutor_rows),
        tutor_health_updated=updated,
        sessions_scored=len(session_rows),
        churn_version=churn_row.version if churn_row else None,
        noshow_version=ns_row.version if ns_row else None,
        seconds=timings,
    )


def mean_probability(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


# --- reads for the API and pages --------------------------------------------------------

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
    """Scored sessions starting in ``[now, now + days_ahead)``, riskiest first."""
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
        sessions=[_session_read(r, s, ext) for r, s, ext in rows],
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


def model_list(db: Session, *, target: str | None = None) -> ModelList:
    return ModelList(
        models=[ModelVersionRead.model_validate(r) for r in list_models(db, target=target)]
    )
