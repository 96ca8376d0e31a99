"""Risk models: train and register, activate, evaluate, score; read the scores.

Callers (CLI, jobs, API, pages) own the transaction; this module only flushes.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from tutorpulse.core.errors import Invalid, NotFound
from tutorpulse.core.settings import Settings
from tutorpulse.risk import churn, noshow, registry
from tutorpulse.risk import repository as repo
from tutorpulse.risk.evaluation import score_metrics
from tutorpulse.risk.features import (
    TUTOR_FEATURES,
)
from tutorpulse.risk.frames import DAY, Frames, from_epoch, to_epoch
from tutorpulse.risk.labels import month_cutoffs
from tutorpulse.risk.models import ModelVersion
from tutorpulse.risk.reads import get_noshow_risk, list_session_risks, list_tutor_risks
from tutorpulse.risk.schemas import (
    ModelList,
    ModelVersionRead,
)
from tutorpulse.risk.scoring import ScoreSummary, score_all, thresholds
from tutorpulse.risk.training import TrainingResult, train_and_evaluate

# Scoring and the reads of stored scores live in their own modules; the edges call them
# through this one.
__all__ = [
    "TARGETS",
    "ScoreSummary",
    "TrainOutcome",
    "activate_model",
    "evaluate_model",
    "fit_target",
    "get_model_or_raise",
    "get_noshow_risk",
    "list_models",
    "list_session_risks",
    "list_tutor_risks",
    "model_list",
    "score_all",
    "thresholds",
    "train_models",
]

TARGETS = (churn.TARGET, noshow.TARGET, noshow.STUDENT_TARGET)


@dataclass
class TrainOutcome:
    target: str
    version: ModelVersion
    activated: bool
    reason: str
    seconds: float


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
    data = noshow.noshow_dataset(frames, cutoffs, window_days=w, target=target)
    return train_and_evaluate(
        target=target,
        data=data,
        features=list(noshow.FEATURES[target]),
        train_cutoffs=train,
        valid_cutoffs=valid,
        test_cutoffs=test,
        window_seconds=w * DAY,
        seed=seed,
        thresholds=thresholds(settings, target),
        fairness_tolerance=settings.risk_fairness_noshow_tolerance,
        fairness_min_n=settings.risk_fairness_min_group,
        negative_share=settings.risk_noshow_negative_share,
        baseline_name=noshow.BASELINES[target],
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
        data = noshow.noshow_dataset(frames, cutoffs, window_days=w, target=row.target)
    if data.empty:
        raise Invalid.field("data", "no rows in the evaluation period")
    y = data["label"].to_numpy()
    return {
        "version": row.version,
        "target": row.target,
        "model": score_metrics(y, model.predict(data), detail=False),
        "baseline": score_metrics(y, data["baseline"].to_numpy(), detail=False),
    }


def model_list(db: Session, *, target: str | None = None) -> ModelList:
    return ModelList(
        models=[ModelVersionRead.model_validate(r) for r in list_models(db, target=target)]
    )
