"""Star performers, first sessions, reliability and the heatmap: one function per endpoint.

Each reads through ``repository`` (set-based SQL), computes with the pure modules and
returns a JSON-ready dict in the API's camelCase shape. Results are cached in-process
(``cache``), keyed on the parameters and a cheap data-version probe, for at most
``settings.analytics_cache_seconds``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from tutorpulse.analytics import first_sessions as fs
from tutorpulse.analytics import heatmap_cube, snapshots
from tutorpulse.analytics import performers as pf
from tutorpulse.analytics import reliability as rl
from tutorpulse.analytics import repository as repo
from tutorpulse.analytics.cache import cached
from tutorpulse.analytics.churn_labels import label_churn
from tutorpulse.analytics.factors import Comparison
from tutorpulse.analytics.stats import finite_or_none as fin
from tutorpulse.analytics.stats import risk_ratio, rows_of
from tutorpulse.core.errors import Invalid, NotFound
from tutorpulse.core.settings import Settings

HEATMAP_METRICS = tuple(repo.HEATMAP_VALUES)
# The default views (what the API and pages ask for without parameters): served from
# the results ``analytics.warm`` stores (``snapshots``) while those are fresh.
DEFAULT_THRESHOLD = 0.15
DEFAULT_DAYS_AHEAD = 7
DEFAULT_HEATMAP_DAYS = 30


def _stored(db: Session, key: str, settings: Settings, now: datetime) -> dict[str, Any] | None:
    hit: dict[str, Any] | None = snapshots.served(
        db, key, now=now, refresh_seconds=settings.analytics_cache_seconds
    )
    return hit


def subject_key(view: str, subject: str | None) -> str:
    """The snapshot key of ``view`` (all tutors) or of its ``subject`` variant."""
    return view if subject is None else f"{view}:subject={subject}"


def subjects(db: Session) -> list[str]:
    """Every tutor primary subject (``analytics.warm`` stores a view per subject)."""
    return repo.list_subjects(db)


def _bucket(now: datetime, settings: Settings) -> int:
    """``now`` floored to the cache lifetime, so a moving clock still hits the cache."""
    return int(now.timestamp() // max(settings.analytics_cache_seconds, 1))


def _f(x: Any) -> float | None:
    try:
        return fin(float(x))
    except (TypeError, ValueError):
        return None


def _comparison_json(c: Comparison, fdr: float) -> dict[str, Any]:
    return {
        "metric": c.metric.key,
        "label": c.metric.label,
        "higherIsBetter": c.metric.higher_is_better,
        "meanA": _f(c.mean_a),
        "meanB": _f(c.mean_b),
        "nA": c.n_a,
        "nB": c.n_b,
        "difference": _f(c.difference),
        "percentDifference": _f(c.percent_difference),
        "t": _f(c.t),
        "df": _f(c.df),
        "pValue": _f(c.p_value),
        "pValueAdjusted": _f(c.p_adjusted),
        "effectSize": _f(c.d),
        "effectSizeCi": [_f(c.d_low), _f(c.d_high)],
        "significant": c.significant(fdr),
        "significance": c.label(fdr),
    }


# --------------------------------------------------------------------------- performers


def _active_tutor_metrics(
    db: Session, *, settings: Settings, now: datetime, subject: str | None
) -> pd.DataFrame:
    """Per-tutor session and event aggregates of active tutors over the window.

    Shared by performers and reliability (cached on its own, so the second of the two
    reuses the scans of the first). Callers must not modify the returned frame.
    """
    days = settings.analytics_window_days
    start = now - timedelta(days=days)

    def compute() -> pd.DataFrame:
        tutors = repo.tutors(db, subject=subject, active_only=True)
        sessions = repo.session_aggregates(
            db, start=start, end=now, subject=subject, active_only=True
        )
        events = repo.event_aggregates(db, start=start, end=now)
        sessions = sessions.drop(columns=["last_completed"])
        return pf.tutor_metrics(tutors, sessions, events, now=now.date(), weeks=days / 7)

    return cached(
        db,
        ("active-tutor-metrics", subject, days, _bucket(now, settings)),
        settings.analytics_cache_seconds,
        compute,
    )


def _tutor_json(row: Any) -> dict[str, Any]:
    return {
        "tutorId": row.external_id,
        "name": row.name,
        "primarySubject": row.primary_subject,
        "rank": int(row.rank),
        "completedSessions": int(row.completed),
        "compositeScore": _f(row.composite),
        "components": {
            key: {
                "raw": _f(getattr(row, f"{key}_raw")),
                "shrunk": _f(getattr(row, f"{key}_shrunk")),
                "z": _f(getattr(row, f"{key}_z")),
            }
            for key, _label in pf.COMPONENTS
        },
    }


def get_performers(
    db: Session,
    *,
    settings: Settings,
    now: datetime,
    subject: str | None,
    limit: int,
    stored: bool = True,
) -> dict[str, Any]:
    """The star-performer analysis of active tutors (only ``subject``'s if given).

    ``stored=False`` skips the stored default view (``analytics.warm`` computing it).
    """
    key = subject_key("performers", subject)
    if stored and (hit := _stored(db, key, settings, now)) is not None:
        return snapshots.cut_lists(hit, limit, [("segments", s, "tutors") for s in pf.SEGMENTS])
    return cached(
        db,
        ("performers", subject, limit, _bucket(now, settings)),
        settings.analytics_cache_seconds,
        lambda: _compute_performers(db, settings=settings, now=now, subject=subject, limit=limit),
    )


def _compute_performers(
    db: Session, *, settings: Settings, now: datetime, subject: str | None, limit: int
) -> dict[str, Any]:
    days = settings.analytics_window_days
    start = now - timedelta(days=days)
    metrics = _active_tutor_metrics(db, settings=settings, now=now, subject=subject)
    fdr = settings.analytics_fdr
    res = pf.analyse(
        metrics,
        min_sessions=settings.analytics_min_sessions,
        share=settings.analytics_segment_share,
        weights=settings.analytics_composite_weights,
    )
    df = res.ranked
    share = settings.analytics_segment_share
    pct = {"star": (100 * (1 - share), 100.0), "average": (100 * share, 100 * (1 - share)),
           "lagging": (0.0, 100 * share)}  # fmt: skip
    segments = {}
    for seg in pf.SEGMENTS:
        part = df[df["segment"] == seg]
        shown = part if seg != "lagging" else part.iloc[::-1]
        segments[seg] = {
            "name": {"star": "Star performers", "average": "Average", "lagging": "Lagging"}[seg],
            "tutors": [_tutor_json(r) for r in rows_of(shown.head(limit))],
            "count": len(part),
            "avgCompositeScore": _f(part["composite"].mean()) if len(part) else None,
            "percentile": {"min": pct[seg][0], "max": pct[seg][1]},
        }
    by_metric: dict[str, dict[str, Comparison]] = {}
    for c in res.comparisons:
        by_metric.setdefault(c.metric.key, {})[c.group] = c
    factors: list[dict[str, Any]] = []
    for key, pair in by_metric.items():
        s, lg = pair["star_vs_average"], pair["lagging_vs_average"]
        factors.append(
            {
                "metric": key,
                "label": s.metric.label,
                "higherIsBetter": s.metric.higher_is_better,
                "starAvg": _f(s.mean_a),
                "averageAvg": _f(s.mean_b),
                "laggingAvg": _f(lg.mean_a),
                "effectSize": _f(s.d),
                "effectSizeCi": [_f(s.d_low), _f(s.d_high)],
                "pValue": _f(s.p_value),
                "pValueAdjusted": _f(s.p_adjusted),
                "significance": s.label(fdr),
                "insight": pf.insight(s, fdr),
                "starVsAverage": _comparison_json(s, fdr),
                "laggingVsAverage": _comparison_json(lg, fdr),
            }
        )
    order = {"high": 0, "medium": 1, "low": 2, "not_significant": 3}
    factors.sort(key=lambda f: (order[f["significance"]], -abs(f["effectSize"] or 0)))
    significant = [
        {"metric": c.metric.key, "comparison": c.group, "pValueAdjusted": _f(c.p_adjusted),
         "effectSize": _f(c.d)}
        for c in res.comparisons if c.significant(fdr)
    ]  # fmt: skip
    context = [
        {
            "metric": m.key,
            "label": m.label,
            **{f"{seg}Avg": _f(df.loc[df["segment"] == seg, m.key].mean()) for seg in pf.SEGMENTS},
        }
        for m in pf.CONTEXT
    ]
    return {
        "segments": segments,
        "differentiatingFactors": factors,
        "contextMetrics": context,
        "significantFactors": significant,
        "recommendations": pf.recommendations(res.comparisons, fdr),
        "summary": {
            "totalTutors": len(df),
            "starPerformers": res.segment_sizes["star"],
            "avgPerformers": res.segment_sizes["average"],
            "laggingPerformers": res.segment_sizes["lagging"],
            "unrankedTutors": res.n_candidates - len(df),
        },
        "method": {
            "subject": subject,
            "windowDays": days,
            "periodStart": start.isoformat(),
            "periodEnd": now.isoformat(),
            "minSessions": settings.analytics_min_sessions,
            "segmentShare": share,
            "weights": dict(settings.analytics_composite_weights),
            "components": [{"key": k, "label": lbl} for k, lbl in pf.COMPONENTS],
            "prior": {k: {kk: _f(vv) for kk, vv in v.items()} for k, v in res.prior.items()},
            "composite": (
                "each component is an empirical-Bayes shrunk mean over completed sessions "
                "(normal-normal for scores, beta-binomial for the recommend rate), "
                "z-standardised across ranked tutors; composite = sum(weight * z) / sum(weight)"
            ),
            "factors": (
                "star vs average and lagging vs average: Welch's t-test, Cohen's d with the "
                "pooled SD and a 95% CI; Benjamini-Hochberg over all tests; significant when "
                f"the adjusted p < {fdr}"
            ),
            "fdr": fdr,
        },
    }


# ------------------------------------------------------------------------ first sessions


def get_first_sessions(
    db: Session, *, settings: Settings, now: datetime, subject: str | None, stored: bool = True
) -> dict[str, Any]:
    """The first-session analysis (tutors of ``subject`` only if given)."""
    key = subject_key("first-sessions", subject)
    if stored and (hit := _stored(db, key, settings, now)) is not None:
        return hit
    return cached(
        db,
        ("first-sessions", subject, _bucket(now, settings)),
        settings.analytics_cache_seconds,
        lambda: _compute_first_sessions(db, settings=settings, now=now, subject=subject),
    )


def _cohort_avgs(part: pd.DataFrame) -> dict[str, Any]:
    return {
        "avgExperience": _f(part["tenureMonths"].mean()),
        "avgEngagement": _f(part["firstEngagement"].mean()),
        "avgEmpathy": _f(part["firstEmpathy"].mean()),
        "avgClarity": _f(part["firstClarity"].mean()),
        "avgSatisfaction": _f(part["firstSatisfaction"].mean()),
        "avgTechnicalIssueRate": _f(part["firstTechnicalIssueRate"].mean()),
        "avgFirstSessionRating": _f(part["firstRating"].mean()),
    }


def _last_completed(
    db: Session, firsts: pd.DataFrame, sessions: pd.DataFrame, *, start: datetime
) -> pd.DataFrame:
    """Each analysed tutor's last completed session before the window's end.

    The window's grouped scan (``session_aggregates``) already holds it for tutors with
    a completed session in the window; only the others (tutors with first sessions but
    none completed in the window) are looked up before ``start``, by index.
    """
    done = sessions.loc[sessions["last_completed"].notna(), ["tutor_id", "last_completed"]]
    missing = sorted(set(firsts["tutor_id"].astype(int)) - set(done["tutor_id"].astype(int)))
    earlier = repo.last_completed(db, end=start, tutor_ids=missing)
    return pd.concat([done, earlier], ignore_index=True) if len(earlier) else done


def _compute_first_sessions(
    db: Session, *, settings: Settings, now: datetime, subject: str | None
) -> dict[str, Any]:
    days = settings.analytics_first_session_days
    start = now - timedelta(days=days)
    rmax = settings.analytics_poor_first_rating_max
    fdr = settings.analytics_fdr
    tutors = repo.tutors(db, subject=subject, active_only=False)
    firsts = repo.first_session_aggregates(
        db, start=start, end=now, rating_max=rmax, subject=subject
    )
    sessions = repo.session_aggregates(db, start=start, end=now, subject=subject, active_only=False)
    labelled = label_churn(
        tutors,
        _last_completed(db, firsts, sessions, start=start),
        now=now,
        inactivity_days=settings.churn_inactivity_days,
    )
    pop = fs.population(firsts, sessions.drop(columns=["last_completed"]), labelled, now=now)
    observed_weeks = (
        pd.to_datetime(pop["churn_time"], utc=True) - pd.Timestamp(start)
    ).dt.days.clip(lower=7) / 7
    pop["volume_per_week"] = pop["completed"].fillna(0) / observed_weeks
    comparisons, cert = fs.compare_cohorts(pop)
    poor, other = pop[pop["poor"]], pop[~pop["poor"]]

    rr = risk_ratio(int(poor["churned"].sum()), len(poor), int(other["churned"].sum()), len(other))
    failed = repo.failed_first_sessions(db, start=start, end=now, rating_max=rmax)
    episodes = fs.cox_episodes(
        pop,
        failed,
        lag_days=settings.analytics_churn_lag_days,
        exposure_days=settings.analytics_churn_exposure_days,
    )
    cox = fs.fit_cox(episodes)
    rebook = fs.rebooking(
        repo.rebooking_by_first_outcome(db, start=start, end=now, rating_max=rmax, subject=subject)
    )
    comps_json = []
    for c in comparisons:
        j = _comparison_json(c, fdr)
        j.update(
            poorFirstSessionAvg=j["meanA"],
            overallPopulationAvg=j["meanB"],
            otherTutorsAvg=j["meanB"],
            insight=_fs_insight(c, fdr),
        )
        comps_json.append(j)
    comps_json.sort(key=lambda j: (j["pValueAdjusted"] is None, j["pValueAdjusted"] or 1.0))
    return {
        "poorFirstSessionCohort": {
            "tutors": sorted(poor["external_id"].astype(str).tolist())[:200],
            "count": len(poor),
            "avgMetrics": _cohort_avgs(poor),
        },
        # Kept for the original's clients: this is the *other* tutors, not a population
        # containing the poor cohort.
        "overallPopulation": {"count": len(other), "avgMetrics": _cohort_avgs(other)},
        "otherTutors": {"count": len(other), "avgMetrics": _cohort_avgs(other)},
        "comparisons": comps_json,
        "certificationTest": {
            "method": cert.method,
            "statistic": _f(cert.statistic),
            "pValueAdjusted": _f(cert.p_value),
            "cramersV": _f(cert.cramers_v),
            "poor": {
                lvl: int((poor["certification_level"] == lvl).sum()) for lvl in fs.CERT_LEVELS
            },
            "other": {
                lvl: int((other["certification_level"] == lvl).sum()) for lvl in fs.CERT_LEVELS
            },
        },
        "churnConsequence": {
            "poorChurned": int(poor["churned"].sum()),
            "poorCount": len(poor),
            "poorChurnRate": _f(rr.risk_exposed),
            "otherChurned": int(other["churned"].sum()),
            "otherCount": len(other),
            "otherChurnRate": _f(rr.risk_unexposed),
            "riskRatio": _f(rr.ratio),
            "riskRatioCi": [_f(rr.ci_low), _f(rr.ci_high)],
            "riskRatioPValue": _f(rr.p_value),
            "coxHazardRatio": _f(cox.hazard_ratio),
            "coxHazardRatioCi": [_f(cox.ci_low), _f(cox.ci_high)],
            "coxPValue": _f(cox.p_value),
            "coxTutors": cox.n_tutors,
            "coxEvents": cox.n_events,
            "coxExposedEvents": cox.n_exposed_events,
            "coxCovariates": cox.covariates,
            "coxError": cox.error,
            "method": (
                "risk ratio with Katz 95% CI on churn by now; Cox proportional hazards "
                "(statsmodels PHReg, counting-process rows; checked against lifelines) on tenure "
                "time, entering at the "
                "tutor's first first session in the window, with a time-varying exposure from "
                f"{settings.analytics_churn_lag_days} to "
                f"{settings.analytics_churn_lag_days + settings.analytics_churn_exposure_days}"
                " days after each failed first session, adjusted for log(1 + completed "
                "sessions per week)"
            ),
        },
        "studentRebooking": rebook,
        "recommendations": fs.recommendations(comparisons, fdr),
        "method": {
            "subject": subject,
            "windowDays": days,
            "periodStart": start.isoformat(),
            "periodEnd": now.isoformat(),
            "poorDefinition": (
                "a tutor with at least one failed first session in the window: status "
                f"tutor_no_show, or completed with student_rating <= {rmax}"
            ),
            "comparisonGroup": "tutors with first sessions in the window and none failed",
            "tests": "Welch's t-test and Cohen's d (pooled SD); chi-square for certification; "
            "Benjamini-Hochberg over the family",
            "fdr": fdr,
            "churnDefinition": (
                "status churned at churned_at, or no completed session and no login for "
                f"{settings.churn_inactivity_days} days (churned at the last activity)"
            ),
        },
    }


def _fs_insight(c: Comparison, fdr: float) -> str:
    if not c.significant(fdr):
        label = c.metric.label.lower()
        return f"No significant difference in {label} (adjusted p = {c.p_adjusted:.2g})."
    word = "higher" if c.difference > 0 else "lower"
    return (
        f"Tutors with a poor first session have {word} {c.metric.label.lower()} than other "
        f"tutors (d = {c.d:.2f}, 95% CI {c.d_low:.2f} to {c.d_high:.2f}, adjusted p = "
        f"{c.p_adjusted:.2g})."
    )


# --------------------------------------------------------------------------- reliability


def get_reliability(
    db: Session,
    *,
    settings: Settings,
    now: datetime,
    threshold: float,
    days_ahead: int,
    limit: int,
    stored: bool = True,
) -> dict[str, Any]:
    """Reschedules, no-shows, replacements, local-time slots and at-risk tutors."""
    if stored and (hit := _stored(db, "reliability", settings, now)) is not None:
        if threshold == DEFAULT_THRESHOLD and days_ahead == DEFAULT_DAYS_AHEAD:
            return snapshots.cut_lists(hit, limit, [("atRiskTutors",)])
        rates = _stored(db, RELIABILITY_RATES_KEY, settings, now)
        served = None if rates is None else _reliability_from_rates(
            db, hit, rates, now=now, threshold=threshold, days_ahead=days_ahead, limit=limit
        )  # fmt: skip
        if served is not None:
            return served
    return cached(
        db,
        ("reliability", threshold, days_ahead, limit, _bucket(now, settings)),
        settings.analytics_cache_seconds,
        lambda: _compute_reliability(
            db, settings=settings, now=now, threshold=threshold, days_ahead=days_ahead, limit=limit
        ),
    )


# The stored list of analysed tutors by shrunk failure rate, highest first, that
# answers another threshold or horizon from the stored default view (see below).
RELIABILITY_RATES_KEY = "reliability:rates"
MAX_STORED_RATES = 5000


def get_reliability_rates(db: Session, *, settings: Settings, now: datetime) -> dict[str, Any]:
    """The analysed tutors' rates, highest shrunk failure rate first: the first
    ``MAX_STORED_RATES`` of them, and whether that is all of them."""
    metrics = rl.tutor_rates(_active_tutor_metrics(db, settings=settings, now=now, subject=None))
    ranked = rl.ranked(metrics, min_sessions=settings.analytics_min_sessions)
    top = ranked.head(MAX_STORED_RATES)
    return {
        "complete": len(top) == len(ranked),
        "tutors": [{"id": int(r.tutor_id), **_rate_json(r)} for r in rows_of(top)],
    }


def _rate_json(r: Any) -> dict[str, Any]:
    return {
        "tutorId": r.external_id,
        "name": r.name,
        "sessionsDue": int(r.due),
        "tutorNoShowRate": _f(r.tutorNoShowRate),
        "tutorRescheduleRate": _f(r.tutorRescheduleRate),
        "tutorCancelRate": _f(r.tutorCancelRate),
        "failureRate": _f(r.failureRate),
        "failureRateShrunk": _f(r.failureRateShrunk),
    }


def _reliability_from_rates(
    db: Session,
    view: dict[str, Any],
    rates: dict[str, Any],
    *,
    now: datetime,
    threshold: float,
    days_ahead: int,
    limit: int,
) -> dict[str, Any] | None:
    """Another threshold or horizon answered from the stored default view and rates.

    Everything but the at-risk list and its counts is independent of both parameters.
    The stored rates cover a threshold when they hold every analysed tutor or the
    lowest stored rate is at or below it (every tutor not stored is then at or below
    the threshold too). Upcoming sessions are counted live for the listed tutors.
    None when not covered (the request computes).
    """
    tutors = rates["tutors"]
    if not rates["complete"] and (not tutors or tutors[-1]["failureRateShrunk"] > threshold):
        return None
    above = [t for t in tutors if t["failureRateShrunk"] > threshold]
    levels = [rl.urgency(t["failureRateShrunk"], threshold) for t in above]
    listed = above[:limit]
    upcoming = repo.upcoming_counts(
        db, tutor_ids=[t["id"] for t in listed], start=now, end=now + timedelta(days=days_ahead)
    )
    summary = {
        **view["summary"],
        "threshold": threshold,
        "daysAhead": days_ahead,
        "tutorsAboveThreshold": len(above),
        **{level: levels.count(level) for level in ("critical", "high", "medium")},
    }
    at_risk = [
        {**{k: v for k, v in t.items() if k != "id"}, "urgency": level,
         "upcomingSessions": int(upcoming.get(t["id"], 0))}
        for t, level in zip(listed, levels, strict=False)
    ]  # fmt: skip
    return {**view, "summary": summary, "atRiskTutors": at_risk}


def _compute_reliability(
    db: Session, *, settings: Settings, now: datetime, threshold: float, days_ahead: int, limit: int
) -> dict[str, Any]:
    days = settings.analytics_window_days
    start = now - timedelta(days=days)
    totals = repo.outcome_totals(db, start=start, end=now)
    split = rl.initiator_split(totals)
    window = 14
    repl = rl.replacement_summary(
        repo.replacements(db, start=start, end=now, window_days=window), window
    )
    slot = rl.slots(repo.outcomes_by_local_slot(db, start=start, end=now))
    metrics = rl.tutor_rates(_active_tutor_metrics(db, settings=settings, now=now, subject=None))
    risky = rl.at_risk(metrics, threshold=threshold, min_sessions=settings.analytics_min_sessions)
    upcoming = repo.upcoming_counts(
        db, tutor_ids=[int(x) for x in risky["tutor_id"].head(limit)], start=now,
        end=now + timedelta(days=days_ahead),
    )  # fmt: skip
    notes = []
    if split["reschedules"]["total"] and "unknown" in split["reschedules"]["byInitiator"]:
        notes.append("Some reschedules have no initiator recorded; shares use known initiators.")
    if not repl["total"]:
        notes.append("No tutor replacements found in the window (needs student ids per session).")
    return {
        "summary": {
            "windowDays": days,
            "periodStart": start.isoformat(),
            "periodEnd": now.isoformat(),
            "threshold": threshold,
            "daysAhead": days_ahead,
            "tutorsAnalysed": int((metrics["due"] >= settings.analytics_min_sessions).sum()),
            "tutorsAboveThreshold": len(risky),
            "critical": int((risky["urgency"] == "critical").sum()),
            "high": int((risky["urgency"] == "high").sum()),
            "medium": int((risky["urgency"] == "medium").sum()),
            "avgTutorFailureRate": _f(metrics["failureRate"].mean()),
        },
        **split,
        "replacements": repl,
        "byLocalTime": slot,
        "atRiskTutors": [
            {
                **_rate_json(r),
                "urgency": r.urgency,
                "upcomingSessions": int(upcoming.get(int(r.tutor_id), 0)),
            }
            for r in rows_of(risky.head(limit))
        ],
        "correlations": rl.correlations(metrics, min_sessions=settings.analytics_min_sessions),
        "notes": notes,
        "method": {
            "rates": "per due session (any status but scheduled) in the window",
            "tutorFailure": "tutor no-show + reschedule by tutor + cancellation by tutor",
            "shrinkage": "beta-binomial empirical Bayes (method of moments) before the threshold",
            "urgency": "critical above 2x threshold, high above 4/3x threshold, else medium",
            "localTime": "the tutor's IANA time zone (tutor.timezone); weekday 0 = Sunday",
            "correlations": "Pearson and Spearman over tutors with at least "
            f"{settings.analytics_min_sessions} due sessions; Benjamini-Hochberg on Spearman p",
            "minSessions": settings.analytics_min_sessions,
        },
    }


# ------------------------------------------------------------------------------ heatmap


def get_heatmap(
    db: Session,
    *,
    settings: Settings,
    now: datetime,
    metric_type: str,
    days: int,
    tutor_external_id: str | None,
    stored: bool = True,
) -> dict[str, Any]:
    """Mean of ``metric_type`` by local weekday (0 = Sunday) and hour over the last ``days``.

    All tutors: from the heatmap cube for the whole hours it holds plus the raw edges
    (``heatmap_cube``; exact window, newest hour live); one tutor: the raw sessions."""
    if metric_type not in repo.HEATMAP_VALUES:
        raise Invalid.field("metricType", f"must be one of {', '.join(HEATMAP_METRICS)}")
    if (
        stored
        and not tutor_external_id
        and days == DEFAULT_HEATMAP_DAYS
        and (hit := _stored(db, f"heatmap:{metric_type}", settings, now)) is not None
    ):
        return hit
    tutor_pk = None
    if tutor_external_id:
        tutor_pk = repo.tutor_pk(db, tutor_external_id)
        if tutor_pk is None:
            raise NotFound(f"tutor {tutor_external_id} not found")

    def compute() -> dict[str, Any]:
        start = now - timedelta(days=days)
        if tutor_pk is None:
            span = heatmap_cube.fresh(db, now=now, refresh_seconds=settings.analytics_cache_seconds)
            sums = heatmap_cube.sums(db, metric=metric_type, start=start, end=now, span=span)
        else:
            sums = heatmap_cube.frame_sums(
                repo.heatmap(db, metric=metric_type, start=start, end=now, tutor_id=tutor_pk)
            )
        cells = [
            {
                "dayOfWeek": weekday,
                "hourOfDay": hour,
                "value": _f(total / count),
                "count": count,
            }
            for (weekday, hour), (total, count) in sorted(sums.items())
            if count > 0
        ]
        return {
            "heatmap": cells,
            "metricType": metric_type,
            "days": days,
            "tutorId": tutor_external_id,
            "n": sum(count for _total, count in sums.values()),
            "method": {
                "engagement": "mean engagement_score (1-10) of completed sessions",
                "quality": "mean student_rating (1-5)",
                "technical": "share of completed sessions with a technical issue",
                "no_show": "share of due sessions that were tutor no-shows",
            }[metric_type]
            + "; bucketed by the tutor's local weekday (0 = Sunday) and hour",
        }

    return cached(
        db,
        ("heatmap", metric_type, days, tutor_pk, _bucket(now, settings)),
        settings.analytics_cache_seconds,
        compute,
    )


def list_subjects(db: Session) -> list[str]:
    return repo.list_subjects(db)
