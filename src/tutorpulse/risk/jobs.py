"""Scheduled risk jobs: ``risk.train`` (weekly) and ``risk.score`` (after health refreshes).

``risk.score`` is scheduled hourly here; the engagement domain's ``engagement.refresh``
may also enqueue it right after each refresh. Both jobs are idempotent: training
adds a version (and activates it only if it is not worse), scoring replaces the
previous scores.
"""

from __future__ import annotations

from typing import Any

from tutorpulse.core.db import unit_of_work
from tutorpulse.core.jobs import JobContext, job
from tutorpulse.risk import service


@job(
    "risk.train",
    description=(
        "Train the churn, tutor no-show and student no-show models on the history so far, "
        "register every "
        "version with its held-out metrics, and activate those not worse than the active one."
    ),
    default_cron="0 4 * * 1",
    lock_ttl_seconds=3 * 3600,
)
def train(context: JobContext) -> dict[str, Any]:
    with unit_of_work(context.session_factory) as db:
        outcomes = service.train_models(db, now=context.clock.now(), settings=context.settings)
        return {
            o.target: {
                "version": o.version.version,
                "algorithm": o.version.algorithm,
                "heldOutAuc": o.version.metrics["heldOut"]["auc"],
                "activated": o.activated,
                "reason": o.reason,
                "seconds": o.seconds,
            }
            for o in outcomes
        }


@job(
    "risk.score",
    description=(
        "Score every tutor's churn probability (into tutor health) and every upcoming "
        "session's tutor and student no-show probabilities with the active models."
    ),
    default_cron="15 * * * *",
    lock_ttl_seconds=1800,
)
def score(context: JobContext) -> dict[str, Any]:
    with unit_of_work(context.session_factory) as db:
        summary = service.score_all(db, now=context.clock.now(), settings=context.settings)
    return {
        "tutorsScored": summary.tutors_scored,
        "tutorHealthRowsUpdated": summary.tutor_health_updated,
        "churnHistoryRows": summary.churn_history_rows,
        "sessionsScored": summary.sessions_scored,
        "churnModelVersion": summary.churn_version,
        "noShowModelVersion": summary.noshow_version,
        "studentNoShowModelVersion": summary.student_noshow_version,
        "seconds": summary.seconds,
    }
