"""The planted churn hazard model (shared by the simulation and truth.json).

A tutor's daily hazard of *starting to disengage* is

    h(t) = h0 * exp(b_rel*z_rel + b_skill*z_skill + b_mot*z_mot - c) * g(tenure) * m(t)

where `c = b' Sigma b / 2` keeps the population mean of the trait factor at 1,
`g(tenure) = 1 + A * exp(-tenure / TAU)` makes new tutors churn more, and
`m(t) = HR` for `W` days after a failed first session (else 1). The tutor churns
(status `churned`, `churned_at`) a lag of 14–42 days after that onset; activity
fades during the lag. With effects off, `b = 0` and `HR = 1`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

TENURE_EXCESS = 3.0
TENURE_TAU_DAYS = 60.0
# Trait coefficients per standard deviation (log-hazard scale).
COEF_RELIABILITY = -0.45
COEF_SKILL = -0.30
COEF_MOTIVATION = -0.65
TRAIT_CORRELATION = np.array(
    [
        [1.00, 0.25, 0.30],
        [0.25, 1.00, 0.15],
        [0.30, 0.15, 1.00],
    ]
)


@dataclass(frozen=True)
class HazardModel:
    baseline: float
    coef_reliability: float
    coef_skill: float
    coef_motivation: float
    poor_first_session_hr: float
    poor_first_session_window_days: int

    @property
    def centering(self) -> float:
        b = np.array([self.coef_reliability, self.coef_skill, self.coef_motivation])
        return float(b @ TRAIT_CORRELATION @ b / 2.0)

    def static_hazard(
        self,
        z_rel: npt.NDArray[np.float64],
        z_skill: npt.NDArray[np.float64],
        z_mot: npt.NDArray[np.float64],
    ) -> npt.NDArray[np.float64]:
        """Daily hazard without the tenure and first-session factors."""
        lin = (
            self.coef_reliability * z_rel
            + self.coef_skill * z_skill
            + self.coef_motivation * z_mot
            - self.centering
        )
        return self.baseline * np.exp(lin)

    def as_dict(self) -> dict[str, object]:
        return {
            "form": (
                "h(t) = baseline * exp(coef . z - centering) * (1 + tenure_excess * "
                "exp(-tenure_days / tenure_tau_days)) * (poor_first_session_hazard_ratio "
                "if a failed first session happened in the last window days else 1); "
                "h is the daily hazard of the onset of disengagement; churned_at follows "
                "the onset after a lag drawn uniformly from lag_days"
            ),
            "baseline_daily_hazard": self.baseline,
            "coefficients": {
                "reliability_z": self.coef_reliability,
                "skill_z": self.coef_skill,
                "motivation_z": self.coef_motivation,
            },
            "centering": round(self.centering, 6),
            "trait_correlation": TRAIT_CORRELATION.tolist(),
            "tenure_excess": TENURE_EXCESS,
            "tenure_tau_days": TENURE_TAU_DAYS,
            "poor_first_session_hazard_ratio": self.poor_first_session_hr,
            "poor_first_session_window_days": self.poor_first_session_window_days,
        }


def make_hazard_model(
    *, baseline: float, effects: bool, hazard_ratio: float, window_days: int
) -> HazardModel:
    if not effects:
        return HazardModel(baseline, 0.0, 0.0, 0.0, 1.0, window_days)
    return HazardModel(
        baseline, COEF_RELIABILITY, COEF_SKILL, COEF_MOTIVATION, hazard_ratio, window_days
    )


def tenure_factor(tenure_days: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    return 1.0 + TENURE_EXCESS * np.exp(-np.maximum(tenure_days, 0.0) / TENURE_TAU_DAYS)


def cumulative_tenure_factor(tenure_days: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    """Integral of `tenure_factor` from 0 to `tenure_days`."""
    t = np.maximum(tenure_days, 0.0)
    return t + TENURE_EXCESS * TENURE_TAU_DAYS * (1.0 - np.exp(-t / TENURE_TAU_DAYS))


def churn_probability_within(
    hazard: npt.NDArray[np.float64], horizon_days: int, lag_days: tuple[int, int]
) -> npt.NDArray[np.float64]:
    """P(churned within `horizon_days`) for a tutor not yet disengaging, at constant hazard.

    Churn needs an onset at time s plus a lag L ~ U(lag_days) with s + L <= horizon;
    averaged over the integer lags.
    """
    lags = np.arange(lag_days[0], lag_days[1] + 1, dtype=np.float64)
    room = np.maximum(horizon_days - lags, 0.0)
    prob = 1.0 - np.exp(-np.outer(hazard, room))
    return np.asarray(prob.mean(axis=1), dtype=np.float64)
