"""The planted truth of a world, as a JSON-ready dict (truth.json)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from tutorpulse.world.calibration import Targets
from tutorpulse.world.churn import HazardModel, churn_probability_within, tenure_factor
from tutorpulse.world.clock import day_to_date_str, seconds_to_iso
from tutorpulse.world.config import WorldConfig
from tutorpulse.world.outcomes import FAILED_RATING_MAX, OutcomeModel
from tutorpulse.world.population import NEVER, TutorPopulation
from tutorpulse.world.simulate import Timeline, TutorState

TRUTH_VERSION = 1


@dataclass(frozen=True)
class PlantedExtras:
    anomaly: dict[str, Any] | None
    trend: dict[str, Any] | None


def _r(x: float) -> float:
    return round(float(x), 6)


def hazard_now(
    pop: TutorPopulation, state: TutorState, hazard: HazardModel, now_day: int
) -> npt.NDArray[np.float64]:
    """Each tutor's daily onset hazard at `now` (0 for tutors disengaging, churned or paused)."""
    h = pop.static_hazard * tenure_factor((now_day - pop.join_day).astype(np.float64))
    recent = now_day - state.last_fail_day <= hazard.poor_first_session_window_days
    h = h * np.where(recent, hazard.poor_first_session_hr, 1.0)
    at_risk = (state.onset_day == NEVER) & (state.pause_day >= now_day)
    return np.where(at_risk, h, 0.0)


def definitions(config: WorldConfig) -> dict[str, Any]:
    return {
        "failed_first_session": (
            "a session with is_first_session = true whose status is tutor_no_show, or "
            f"completed with student_rating <= {FAILED_RATING_MAX}; an unrated first session "
            "is not failed"
        ),
        "churned_tutor_failed_first_session": (
            "a tutor with status churned who joined inside the window and whose first due "
            "session (earliest completed or tutor_no_show session by scheduled_start, then "
            f"session_id) is tutor_no_show or has student_rating <= {FAILED_RATING_MAX}"
        ),
        "tutor_side_failure": (
            "a session with status tutor_no_show, cancelled with cancelled_by = tutor, or "
            "rescheduled with rescheduled_by = tutor"
        ),
        "tutor_replacement": (
            "order each student's sessions in one subject by scheduled_start then session_id; "
            "a consecutive pair (prev, next) where prev is a tutor-side failure, next has a "
            f"different tutor_id and starts at most {config.replacement_window_days} days "
            "after prev; the replacement's cause is prev's failure type"
        ),
        "replacement_window_days": config.replacement_window_days,
        "sessions_per_day": "sessions with status other than scheduled / window days",
        "is_first_session": (
            "true on the earliest session of a student-tutor pair over the whole simulated "
            "history that was not cancelled or rescheduled; pairs that met before the "
            "window have no flagged session"
        ),
        "rebooked": "on completed sessions: the same student and tutor have a later session",
        "churn": (
            "status churned with churned_at; activity (sessions, events) stops before "
            "churned_at and fades linearly from the onset of disengagement"
        ),
    }


def build_truth(
    *,
    config: WorldConfig,
    timeline: Timeline,
    pop: TutorPopulation,
    state: TutorState,
    hazard: HazardModel,
    outcomes: OutcomeModel,
    tutor_ids: list[str],
    churned_at: npt.NDArray[np.int64],
    paused_at: npt.NDArray[np.int64],
    no_show_propensity: npt.NDArray[np.float64],
    extras: PlantedExtras,
    calibration: dict[str, float | int | None],
) -> dict[str, Any]:
    now_day = timeline.now_day
    h_now = hazard_now(pop, state, hazard, now_day)
    p30 = churn_probability_within(h_now, 30, config.churn_lag_days)
    disengaging = (state.onset_day < now_day) & (churned_at < 0)
    p30 = np.where(disengaging, (state.churn_day < now_day + 30).astype(float), p30)
    p30 = np.where(churned_at >= 0, np.nan, p30)

    per_tutor: dict[str, Any] = {}
    churned_map: dict[str, str] = {}
    upcoming: dict[str, str] = {}
    for i, tid in enumerate(tutor_ids):
        entry: dict[str, Any] = {
            "reliability": _r(pop.reliability[i]),
            "reliability_z": _r(pop.z_rel[i]),
            "skill_z": _r(pop.z_skill[i]),
            "motivation_z": _r(pop.z_mot[i]),
            "churn_hazard_static": _r(pop.static_hazard[i]),
            "churn_hazard_now": _r(h_now[i]),
            "churn_probability_30d": None if np.isnan(p30[i]) else _r(p30[i]),
            "no_show_propensity": _r(no_show_propensity[i]),
            "failed_first_sessions": int(state.failed_first[i]),
            "disengaged_on": None,
            "churned_at": None,
            "churns_on": None,
            "paused_at": None,
        }
        if state.onset_day[i] < now_day:
            entry["disengaged_on"] = day_to_date_str(int(state.onset_day[i]))
        if churned_at[i] >= 0:
            entry["churned_at"] = seconds_to_iso(int(churned_at[i]))
            churned_map[tid] = entry["churned_at"]
        elif disengaging[i]:
            entry["churns_on"] = day_to_date_str(int(state.churn_day[i]))
            upcoming[tid] = entry["churns_on"]
        if paused_at[i] >= 0:
            entry["paused_at"] = seconds_to_iso(int(paused_at[i]))
        per_tutor[tid] = entry

    targets = Targets().scaled(config.tutors)
    return {
        "version": TRUTH_VERSION,
        "config": {
            "tutors": config.tutors,
            "days": config.days,
            "seed": config.seed,
            "now": config.now.isoformat(),
            "effects": config.effects,
            "future_days": config.future_days,
        },
        "window": {
            "start": seconds_to_iso(timeline.window_start_ts),
            "now": seconds_to_iso(timeline.now_ts),
            "scheduled_until": seconds_to_iso(timeline.horizon_ts),
        },
        "effects_enabled": config.effects,
        "definitions": definitions(config),
        "churn": {
            "model": hazard.as_dict() | {"lag_days": list(config.churn_lag_days)},
            "drivers": (
                ["reliability_z", "skill_z", "motivation_z", "recent_failed_first_session"]
                if config.effects
                else []
            ),
            "poor_first_session": {
                "hazard_ratio": hazard.poor_first_session_hr,
                "window_days": hazard.poor_first_session_window_days,
                "definition": "failed_first_session (see definitions)",
            },
            "churned_at": churned_map,
            "upcoming_churn_on": upcoming,
            "churned_count": len(churned_map),
        },
        "no_show": {
            "model": outcomes.as_dict(),
            "drivers": ["reliability_z", "motivation_z"] if config.effects else [],
        },
        "anomaly": extras.anomaly,
        "quality_trend": extras.trend,
        "calibration": {"targets": targets.as_dict(), "achieved": calibration},
        "tutors": per_tutor,
    }
