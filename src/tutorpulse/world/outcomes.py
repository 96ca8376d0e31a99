"""Session outcome model: reschedules, cancellations, no-shows, lateness, quality, ratings.

Tutor-side propensities are log-linear in the latent traits when effects are on:
`p = base * exp(coef . z - centering)`, so the population mean stays at `base`.
With effects off every tutor has the base propensity and no session condition
(disengagement, odd hours, the anomaly week) changes it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tutorpulse.world.churn import TRAIT_CORRELATION
from tutorpulse.world.config import (
    BY_NONE,
    BY_STUDENT,
    BY_TUTOR,
    ST_CANCELLED,
    ST_COMPLETED,
    ST_RESCHEDULED,
    ST_STUDENT_NO_SHOW,
    ST_TUTOR_NO_SHOW,
)

FloatArray = npt.NDArray[np.float64]
# Rating thresholds on the latent rating scale (1 star below the first, 5 above the last).
RATING_THRESHOLDS = np.array([2.55, 2.95, 3.40, 4.00])
FAILED_RATING_MAX = 2


def _centred(coefs: tuple[float, float, float], z: FloatArray) -> FloatArray:
    b = np.array(coefs)
    return np.asarray(z @ b - b @ TRAIT_CORRELATION @ b / 2.0)


@dataclass(frozen=True)
class OutcomeModel:
    effects: bool
    anomaly_multiplier: float
    tutor_no_show_base: float = 0.014
    # Coefficients on (reliability_z, skill_z, motivation_z), log scale.
    no_show_coefs: tuple[float, float, float] = (-0.75, 0.0, -0.30)
    tutor_reschedule_base: float = 0.060
    reschedule_coefs: tuple[float, float, float] = (-0.50, 0.0, 0.0)
    tutor_cancel_base: float = 0.022
    cancel_coefs: tuple[float, float, float] = (-0.40, 0.0, -0.20)
    student_reschedule_base: float = 0.00088
    student_cancel_base: float = 0.040
    student_no_show_base: float = 0.035
    disengaged_no_show_mult: float = 2.0
    disengaged_cancel_mult: float = 2.5
    odd_hour_no_show_mult: float = 1.6
    first_session_student_no_show_mult: float = 1.4

    def tutor_propensities(self, z: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Per-tutor base (no-show, reschedule, cancel) probabilities per due session."""
        n = z.shape[0]
        if not self.effects:
            ones = np.ones(n)
            return (
                self.tutor_no_show_base * ones,
                self.tutor_reschedule_base * ones,
                self.tutor_cancel_base * ones,
            )
        return (
            np.minimum(self.tutor_no_show_base * np.exp(_centred(self.no_show_coefs, z)), 0.4),
            np.minimum(
                self.tutor_reschedule_base * np.exp(_centred(self.reschedule_coefs, z)), 0.4
            ),
            np.minimum(self.tutor_cancel_base * np.exp(_centred(self.cancel_coefs, z)), 0.4),
        )

    def as_dict(self) -> dict[str, object]:
        coefs = self.no_show_coefs if self.effects else (0.0, 0.0, 0.0)
        b = np.array(coefs)
        return {
            "form": (
                "p(tutor_no_show) = base * exp(coef . z - centering) * "
                "(disengaged_multiplier if the tutor is disengaging before churn) * "
                "(odd_hour_multiplier if the tutor's local start hour is 23:00-06:59) * "
                "(anomaly multiplier inside the anomaly week); capped at 0.4 before multipliers"
            ),
            "base_rate": self.tutor_no_show_base,
            "centering": round(float(b @ TRAIT_CORRELATION @ b / 2.0), 6),
            "coefficients": {
                "reliability_z": coefs[0],
                "skill_z": coefs[1],
                "motivation_z": coefs[2],
            },
            "disengaged_multiplier": self.disengaged_no_show_mult if self.effects else 1.0,
            "odd_hour_multiplier": self.odd_hour_no_show_mult if self.effects else 1.0,
            "anomaly_multiplier": self.anomaly_multiplier if self.effects else 1.0,
            "student_no_show_base": self.student_no_show_base,
            "tutor_reschedule_base": self.tutor_reschedule_base,
            "student_reschedule_base": self.student_reschedule_base,
            "tutor_cancel_base": self.tutor_cancel_base,
            "student_cancel_base": self.student_cancel_base,
        }


def draw_status(
    u: FloatArray,
    *,
    tutor_reschedule: FloatArray,
    student_reschedule: FloatArray,
    tutor_cancel: FloatArray,
    student_cancel: FloatArray,
    tutor_no_show: FloatArray,
    student_no_show: FloatArray,
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int8]]:
    """Draw (status, initiator) from competing per-session probabilities."""
    c1 = tutor_reschedule
    c2 = c1 + student_reschedule
    c3 = c2 + tutor_cancel
    c4 = c3 + student_cancel
    c5 = c4 + tutor_no_show
    c6 = c5 + student_no_show
    status = np.full(u.shape[0], ST_COMPLETED, dtype=np.int8)
    by = np.full(u.shape[0], BY_NONE, dtype=np.int8)
    for upper, lower, st, who in (
        (c1, None, ST_RESCHEDULED, BY_TUTOR),
        (c2, c1, ST_RESCHEDULED, BY_STUDENT),
        (c3, c2, ST_CANCELLED, BY_TUTOR),
        (c4, c3, ST_CANCELLED, BY_STUDENT),
        (c5, c4, ST_TUTOR_NO_SHOW, BY_NONE),
        (c6, c5, ST_STUDENT_NO_SHOW, BY_NONE),
    ):
        hit = u < upper if lower is None else (u >= lower) & (u < upper)
        status[hit] = st
        by[hit] = who
    return status, by


def draw_lateness(
    rng: np.random.Generator, reliability: FloatArray, effects: bool
) -> npt.NDArray[np.int64]:
    """Seconds between scheduled and actual start (negative = early)."""
    n = reliability.shape[0]
    p_late = 0.04 + 0.25 * (1.0 - reliability) if effects else np.full(n, 0.09)
    late = rng.random(n) < p_late
    late_by = np.minimum(120.0 + rng.exponential(300.0, n), 1200.0)
    on_time = rng.uniform(-180.0, 60.0, n)
    return np.where(late, late_by, on_time).astype(np.int64)


def latent_quality(
    rng: np.random.Generator,
    *,
    skill: FloatArray,
    tenure_days: FloatArray,
    first: npt.NDArray[np.bool_],
    generosity: FloatArray,
    technical_issue: npt.NDArray[np.bool_],
    late_seconds: npt.NDArray[np.int64],
    odd_hour: npt.NDArray[np.bool_],
) -> tuple[FloatArray, FloatArray]:
    """Return (session quality q, latent rating r); ratings are thresholds of r."""
    n = skill.shape[0]
    q = (
        0.8 * skill
        - 0.25 * np.exp(-np.maximum(tenure_days, 0.0) / 30.0)
        - 0.25 * first
        + generosity
        - 1.0 * technical_issue
        - 0.35 * (late_seconds > 300)
        - 0.2 * odd_hour
        + 0.6 * rng.standard_normal(n)
    )
    r = 4.3 + 0.7 * q + 0.4 * rng.standard_normal(n)
    return q, r


def ratings_from_latent(r: FloatArray) -> npt.NDArray[np.int8]:
    return (1 + (r[:, None] > RATING_THRESHOLDS).sum(axis=1)).astype(np.int8)
