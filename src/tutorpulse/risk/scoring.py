"""Scoring with the active models: every at-risk tutor (into tutor_health) and every
upcoming session (into session_risk). Callers own the transaction; this module flushes."""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from tutorpulse.core.db import read_aside
from tutorpulse.core.settings import Settings
from tutorpulse.risk import churn, noshow, registry
from tutorpulse.risk import repository as repo
from tutorpulse.risk.explain import explain, risk_level, rows_to_explain
from tutorpulse.risk.features import EVENT_ROW_DAYS, LOOKBACK_DAYS, compute_tutor_features
from tutorpulse.risk.frames import Frames, to_epoch

# What scoring reads as rows before ``now`` (a day of margin each); anything older only as
# per-tutor aggregates (``features.OlderHistory``, two grouped queries).
SCORING_SESSION_DAYS = LOOKBACK_DAYS + 1
SCORING_EVENT_DAYS = EVENT_ROW_DAYS + 1


def thresholds(settings: Settings, target: str) -> tuple[float, float]:
    if target == churn.TARGET:
        return settings.risk_churn_medium_threshold, settings.risk_churn_high_threshold
    if target == noshow.STUDENT_TARGET:
        return (
            settings.risk_student_noshow_medium_threshold,
            settings.risk_student_noshow_high_threshold,
        )
    return settings.risk_noshow_medium_threshold, settings.risk_noshow_high_threshold


@dataclass
class ScoreSummary:
    tutors_scored: int
    tutor_health_updated: int
    churn_history_rows: int
    sessions_scored: int
    churn_version: int | None
    noshow_version: int | None
    student_noshow_version: int | None
    seconds: dict[str, float]


def _student_scores(
    *,
    older: pd.DataFrame,
    frames: Frames,
    rows: pd.DataFrame,
    now_ts: int,
    settings: Settings,
    artifact: bytes,
) -> tuple[list[float], list[str], list[list[dict[str, Any]]]]:
    """Student no-show probabilities, levels and drivers of the sessions in ``rows``
    (``noshow.session_features`` output) with the model in ``artifact``."""
    model = registry.load(artifact)
    with_student = noshow.add_student_features(frames, rows, now_ts, older=older)
    p = model.predict(with_student)
    cut = thresholds(settings, noshow.STUDENT_TARGET)
    only = rows_to_explain(model, p, cut[0], boosting=settings.risk_boosting_drivers)
    drivers = explain(model, with_student, only=only)
    probs = [round(float(pi), 6) for pi in p]
    return probs, [risk_level(pi, cut) for pi in probs], drivers


def _churn_rows(
    *,
    artifact: bytes,
    version_id: int,
    feats: pd.DataFrame,
    status: pd.Series,
    settings: Settings,
) -> tuple[list[dict[str, Any]], float]:
    """Churn scores, levels and drivers of the at-risk tutors in ``feats`` (active in the
    inactivity window and not churned) and the seconds it took; no database access."""
    started = time.perf_counter()
    model = registry.load(artifact)
    current = status.reindex(feats.index)
    at_risk = feats.loc[
        (feats["inactive_days"] < settings.churn_inactivity_days).to_numpy()
        & (current != "churned").to_numpy()
    ]
    p = model.predict(at_risk)
    cut = thresholds(settings, churn.TARGET)
    only = rows_to_explain(model, p, cut[0], boosting=settings.risk_boosting_drivers)
    drivers = explain(model, at_risk, only=only)
    rows = [
        {
            "tid": int(tid),
            "p": round(float(pi), 6),
            "level": risk_level(float(pi), cut),
            "drivers": d,
            "version": version_id,
        }
        for tid, pi, d in zip(at_risk.index, p, drivers, strict=True)
    ]
    return rows, time.perf_counter() - started


def score_all(db: Session, *, now: datetime, settings: Settings) -> ScoreSummary:
    """Score every at-risk tutor (into tutor_health) and every upcoming session with the
    active models; a target without an active model is skipped (its scores are cleared).

    Session rows exist only with an active tutor no-show model; their student no-show
    columns are filled when a student no-show model is active too (else null)."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    until = now + timedelta(days=settings.risk_score_days_ahead)
    cutoff = to_epoch(now)
    # The aggregates of the older history (committed rows 90-365 days back) are read on
    # a connection of their own while the recent rows load.
    older_read = read_aside(db, lambda side: repo.older_history(side, cutoff=cutoff))
    ns_row = repo.get_active(db, target=noshow.TARGET)
    student_version = repo.get_active(db, target=noshow.STUDENT_TARGET)
    student_artifact = None if student_version is None else student_version.artifact
    student_read = (
        read_aside(db, lambda side: repo.older_student_counts(side, cutoff=cutoff))
        if ns_row is not None and ns_row.artifact is not None and student_artifact is not None
        else None
    )
    frames = repo.load_frames(
        db,
        end=now,
        since=now - timedelta(days=SCORING_SESSION_DAYS),
        events_since=now - timedelta(days=SCORING_EVENT_DAYS),
        sessions_until=until,
    )
    timings["load"] = round(time.perf_counter() - t0, 3)
    now_ts = frames.end_ts  # = cutoff
    older = older_read()
    timings["load_older_wait"] = round(time.perf_counter() - t0 - timings["load"], 3)
    t1 = time.perf_counter()
    feats = compute_tutor_features(frames, now_ts, older=older)
    timings["features"] = round(time.perf_counter() - t1, 3)

    # The churn stage is pure computation (mostly the boosting model's predictions, which
    # run without the GIL): it runs in a worker thread beside the no-show stage.
    churn_row = repo.get_active(db, target=churn.TARGET)
    churn_job: Future[tuple[list[dict[str, Any]], float]] | None = None
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="churn-score")
    if churn_row is not None and churn_row.artifact is not None:
        churn_job = pool.submit(
            _churn_rows,
            artifact=churn_row.artifact,
            version_id=churn_row.id,
            feats=feats,
            status=frames.tutors.set_index("tutor_id")["status"],
            settings=settings,
        )
    pool.shutdown(wait=False)

    session_rows: list[dict[str, Any]] = []
    s_version: int | None = None
    if ns_row is not None and ns_row.artifact is not None:
        t4 = time.perf_counter()
        model = registry.load(ns_row.artifact)
        ss = frames.sessions
        start = ss["start_ts"].to_numpy()
        targets = ss.loc[(ss["status"].to_numpy() == "scheduled") & (start >= now_ts)]
        rows = noshow.session_features(frames, targets, now_ts, feats)
        p = model.predict(rows)
        cut = thresholds(settings, noshow.TARGET)
        only = rows_to_explain(model, p, cut[0], boosting=settings.risk_boosting_drivers)
        drivers = explain(model, rows, only=only)
        n = len(rows)
        s_p: list[float | None] = [None] * n
        s_level: list[str | None] = [None] * n
        s_drivers: list[list[dict[str, Any]] | None] = [None] * n
        if student_version is not None and student_artifact is not None and student_read and n:
            t6 = time.perf_counter()
            sp, sl, sd = _student_scores(
                older=student_read(),
                frames=frames,
                rows=rows,
                now_ts=now_ts,
                settings=settings,
                artifact=student_artifact,
            )
            s_p, s_level, s_drivers = list(sp), list(sl), list(sd)
            s_version = student_version.id
            timings["student_noshow"] = round(time.perf_counter() - t6, 3)
        session_rows = [
            {
                "session_id": int(sid),
                "model_version_id": ns_row.id,
                "no_show_probability": round(float(pi), 6),
                "risk_level": risk_level(float(pi), cut),
                "drivers": d,
                "student_no_show_probability": s_p[i],
                "student_risk_level": s_level[i],
                "student_drivers": s_drivers[i],
                "student_model_version_id": s_version,
                "scored_at": now,
            }
            for i, (sid, pi, d) in enumerate(zip(rows["session_id"], p, drivers, strict=True))
        ]
        timings["noshow"] = round(time.perf_counter() - t4, 3)
    # The session scores are written while the churn stage may still be computing.
    t5 = time.perf_counter()
    repo.replace_session_risks(db, session_rows)
    timings["write_sessions"] = round(time.perf_counter() - t5, 3)
    tutor_rows: list[dict[str, Any]] = []
    if churn_job is not None:
        t2 = time.perf_counter()
        tutor_rows, seconds = churn_job.result()
        timings["churn"] = round(seconds, 3)
        timings["churn_wait"] = round(time.perf_counter() - t2, 3)
    t3 = time.perf_counter()
    updated = repo.write_tutor_scores(db, tutor_rows)
    history = repo.record_churn_history(
        db, rows=tutor_rows, now=now, keep_days=settings.risk_score_history_days
    )
    timings["write_tutors"] = round(time.perf_counter() - t3, 3)
    db.flush()
    timings["total"] = round(time.perf_counter() - t0, 3)
    return ScoreSummary(
        tutors_scored=len(tutor_rows),
        tutor_health_updated=updated,
        churn_history_rows=history,
        sessions_scored=len(session_rows),
        churn_version=churn_row.version if churn_row else None,
        noshow_version=ns_row.version if ns_row else None,
        student_noshow_version=student_version.version
        if student_version is not None and s_version is not None
        else None,
        seconds=timings,
    )
