"""Tutors and their latent traits; tutors join over time (some before the window)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tutorpulse.world.booking import PRIMARY_SUBJECT_WEIGHTS, SUBJECT_AFFINITY, draw_categorical
from tutorpulse.world.churn import TRAIT_CORRELATION, HazardModel, cumulative_tenure_factor
from tutorpulse.world.clock import TUTOR_TZ_WEIGHTS, TZ_REGION
from tutorpulse.world.names import FIRST_NAMES, LAST_NAMES

NEVER = np.iinfo(np.int32).max
PRE_WINDOW_TENURE_DAYS = 3 * 365
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass
class TutorPopulation:
    """Per-tutor attributes, indexed 0..n-1 in tutor-id order (index 0 is T0001)."""

    n: int
    join_day: IntArray
    tz: npt.NDArray[np.int8]
    region: npt.NDArray[np.int8]
    subject_rank: npt.NDArray[np.int8]  # (n, 6): 0 = primary, 1.. = secondary, -1 = not taught
    cert: npt.NDArray[np.int8]
    z_rel: FloatArray
    z_skill: FloatArray
    z_mot: FloatArray
    reliability: FloatArray
    capacity: FloatArray
    attract: FloatArray
    tech_factor: FloatArray
    empathy_offset: FloatArray
    clarity_offset: FloatArray
    first_name: IntArray
    last_name: IntArray
    pause_day: IntArray
    hazard_draw: FloatArray
    lag: IntArray
    static_hazard: FloatArray

    @property
    def primary(self) -> IntArray:
        return np.asarray(np.argmin(np.where(self.subject_rank < 0, 99, self.subject_rank), 1))


def _traits(rng: np.random.Generator, n: int) -> FloatArray:
    chol = np.linalg.cholesky(TRAIT_CORRELATION)
    return np.asarray(rng.standard_normal((n, 3)) @ chol.T)


def _join_days(
    rng: np.random.Generator,
    *,
    n: int,
    n_new: int,
    window_start_day: int,
    now_day: int,
    hazard: HazardModel,
) -> tuple[IntArray, FloatArray]:
    """Draw join days and traits; pre-window tutors are survivors of the hazard to the window."""
    n_pre = n - n_new
    traits_parts: list[FloatArray] = []
    join_parts: list[IntArray] = []
    have = 0
    while have < n_pre:
        m = max(2 * (n_pre - have), 64)
        traits = _traits(rng, m)
        tenure = rng.integers(1, PRE_WINDOW_TENURE_DAYS + 1, size=m)
        h = hazard.static_hazard(traits[:, 0], traits[:, 1], traits[:, 2])
        survive = np.exp(-h * cumulative_tenure_factor(tenure.astype(np.float64)))
        keep = rng.random(m) < survive
        traits_parts.append(traits[keep])
        join_parts.append(window_start_day - tenure[keep])
        have += int(keep.sum())
    pre_traits = np.concatenate(traits_parts)[:n_pre]
    pre_join = np.concatenate(join_parts)[:n_pre]
    # Window joiners: mild growth of sign-ups over the window.
    span = max(now_day - window_start_day, 1)
    u = rng.random(n_new)
    growth = 0.3
    frac = (np.sqrt(1.0 + growth * (2.0 + growth) * u) - 1.0) / growth
    new_join = window_start_day + np.minimum((frac * span).astype(np.int64), span - 1)
    new_traits = _traits(rng, n_new)
    return np.concatenate([pre_join, new_join]), np.concatenate([pre_traits, new_traits])


def _subjects(rng: np.random.Generator, n: int) -> npt.NDArray[np.int8]:
    primary = draw_categorical(rng, PRIMARY_SUBJECT_WEIGHTS, n)
    n_extra = draw_categorical(rng, np.array([0.45, 0.40, 0.15]), n)
    affinity = SUBJECT_AFFINITY[primary]
    gumbel = -np.log(-np.log(rng.random((n, 6))))
    with np.errstate(divide="ignore"):
        keys = np.where(affinity > 0, np.log(affinity) + gumbel, -np.inf)
    order = np.argsort(-keys, axis=1, kind="stable")
    rank = np.full((n, 6), -1, dtype=np.int8)
    rank[np.arange(n), primary] = 0
    for k in range(2):
        chosen = order[:, k]
        take = n_extra > k
        rank[np.flatnonzero(take), chosen[take]] = k + 1
    return rank


def generate_tutors(
    rng: np.random.Generator,
    *,
    n: int,
    window_start_day: int,
    now_day: int,
    hazard: HazardModel,
    new_tutor_share: float,
    paused_share: float,
    lag_days: tuple[int, int],
) -> TutorPopulation:
    """Draw the tutor population. Tutors are ordered by join day (T0001 joined first)."""
    n_new = round(n * new_tutor_share)
    join_day, traits = _join_days(
        rng, n=n, n_new=n_new, window_start_day=window_start_day, now_day=now_day, hazard=hazard
    )
    order = np.lexsort((rng.random(n), join_day))
    join_day = join_day[order]
    traits = traits[order]
    z_rel, z_skill, z_mot = traits[:, 0].copy(), traits[:, 1].copy(), traits[:, 2].copy()

    tz = draw_categorical(rng, TUTOR_TZ_WEIGHTS, n).astype(np.int8)
    cert_score = 0.8 * z_skill + 0.6 * rng.standard_normal(n)
    cert = np.where(cert_score < 0.0, 0, np.where(cert_score < 1.036, 1, 2)).astype(np.int8)
    capacity = np.exp(0.55 + 0.30 * z_mot + 0.50 * rng.standard_normal(n))
    attract = np.exp(0.25 * z_skill + 0.15 * cert)

    eligible = np.flatnonzero(join_day < now_day - 60)
    n_paused = min(round(n * paused_share), eligible.size)
    pause_day = np.full(n, NEVER, dtype=np.int64)
    paused = rng.choice(eligible, size=n_paused, replace=False) if n_paused else eligible[:0]
    pause_day[paused] = rng.integers(now_day - 45, now_day - 1, size=n_paused)

    return TutorPopulation(
        n=n,
        join_day=join_day.astype(np.int64),
        tz=tz,
        region=TZ_REGION[tz],
        subject_rank=_subjects(rng, n),
        cert=cert,
        z_rel=z_rel,
        z_skill=z_skill,
        z_mot=z_mot,
        reliability=1.0 / (1.0 + np.exp(-(1.5 + 0.9 * z_rel))),
        capacity=capacity,
        attract=attract,
        tech_factor=np.exp(0.5 * rng.standard_normal(n) - 0.125),
        empathy_offset=0.5 * rng.standard_normal(n),
        clarity_offset=0.5 * rng.standard_normal(n),
        first_name=rng.integers(0, len(FIRST_NAMES), size=n),
        last_name=rng.integers(0, len(LAST_NAMES), size=n),
        pause_day=pause_day,
        hazard_draw=rng.exponential(1.0, size=n),
        lag=rng.integers(lag_days[0], lag_days[1] + 1, size=n),
        static_hazard=hazard.static_hazard(z_rel, z_skill, z_mot),
    )


def default_new_tutor_share(days: int, baseline_hazard: float) -> float:
    """Share of window joiners that keeps the active population roughly steady."""
    mean_hazard = baseline_hazard * 0.85
    return mean_hazard * days / (1.0 + mean_hazard * days)
