"""Booking patterns: subjects, grades, weekly slots in the student's local time, durations."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tutorpulse.world.clock import HOUR, MINUTE

# Tutor primary-subject mix and student demand mix (order of config.SUBJECTS).
PRIMARY_SUBJECT_WEIGHTS = np.array([0.30, 0.18, 0.18, 0.09, 0.13, 0.12])
DEMAND_SUBJECT_WEIGHTS = np.array([0.31, 0.18, 0.17, 0.08, 0.14, 0.12])
# Affinity of a secondary subject given the primary (rows: primary).
SUBJECT_AFFINITY = np.array(
    [
        [0.0, 3.0, 0.5, 0.3, 3.0, 1.5],
        [3.0, 0.0, 0.7, 0.6, 1.5, 1.2],
        [0.6, 0.5, 0.0, 3.0, 2.0, 0.3],
        [0.3, 0.6, 3.0, 0.0, 1.0, 0.1],
        [3.0, 1.2, 2.0, 0.6, 0.0, 0.5],
        [3.0, 1.5, 0.3, 0.1, 0.6, 0.0],
    ]
)
# P(grade | subject); columns: elementary, middle_school, high_school, college, adult.
GRADE_GIVEN_SUBJECT = np.array(
    [
        [0.25, 0.25, 0.30, 0.12, 0.08],
        [0.15, 0.25, 0.35, 0.18, 0.07],
        [0.30, 0.22, 0.22, 0.08, 0.18],
        [0.10, 0.30, 0.42, 0.13, 0.05],
        [0.00, 0.08, 0.62, 0.18, 0.12],
        [0.03, 0.12, 0.25, 0.30, 0.30],
    ]
)
# Matching affinity: rows student region (Americas, Europe/Africa, Asia-Pacific),
# columns tutor region (Americas, Europe/Africa, Asia-Pacific, South Asia, SE Asia).
REGION_AFFINITY = np.array(
    [
        [1.00, 0.12, 0.06, 0.55, 0.45],
        [0.15, 1.00, 0.10, 0.50, 0.20],
        [0.10, 0.10, 1.00, 0.40, 0.60],
    ]
)
STUDENT_REGION_OF_TZ_REGION = np.array([0, 1, 2, 2, 2], dtype=np.int8)


def _hours(values: dict[int, float]) -> npt.NDArray[np.float64]:
    row = np.zeros(24)
    for hour, weight in values.items():
        row[hour] = weight
    return row


def _school_matrix() -> npt.NDArray[np.float64]:
    weekday = _hours(
        {8: 0.05, 9: 0.08, 10: 0.08, 11: 0.08, 12: 0.1, 13: 0.15, 14: 0.3, 15: 1.0}
        | {16: 1.6, 17: 1.8, 18: 1.5, 19: 1.2, 20: 0.7, 21: 0.3}
    )
    saturday = _hours(
        {8: 0.4, 9: 1.0, 10: 1.4, 11: 1.3, 12: 0.9, 13: 0.7, 14: 0.6, 15: 0.5} | {16: 0.4, 17: 0.3}
    )
    sunday = _hours(
        {9: 0.4, 10: 0.8, 11: 0.9, 12: 0.8, 13: 0.8, 14: 0.9, 15: 1.0, 16: 1.1}
        | {17: 1.0, 18: 0.9, 19: 0.7, 20: 0.4}
    )
    return np.vstack([weekday, weekday, weekday, weekday, 0.6 * weekday, saturday, sunday])


def _adult_matrix() -> npt.NDArray[np.float64]:
    weekday = _hours(
        {7: 0.3, 8: 0.3, 12: 0.4, 13: 0.3, 14: 0.3, 15: 0.35, 16: 0.45, 17: 0.6}
        | {18: 1.2, 19: 1.6, 20: 1.6, 21: 1.1, 22: 0.4}
    )
    saturday = _hours({9: 0.8, 10: 1.2, 11: 1.2, 12: 0.8, 13: 0.6, 14: 0.5, 15: 0.5, 16: 0.3})
    sunday = _hours(
        {10: 0.7, 11: 0.8, 12: 0.6, 13: 0.5, 14: 0.6, 15: 0.7, 16: 0.8, 17: 0.9}
        | {18: 1.0, 19: 1.0, 20: 1.0, 21: 0.6}
    )
    return np.vstack([weekday, weekday, weekday, weekday, 0.5 * weekday, saturday, sunday])


def _normalised_cdf(matrix: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    flat = matrix.ravel()
    return np.cumsum(flat) / flat.sum()


SCHOOL_SLOT_CDF = _normalised_cdf(_school_matrix())
ADULT_SLOT_CDF = _normalised_cdf(_adult_matrix())
MINUTE_CHOICES = np.array([0, 30, 15, 45])
MINUTE_WEIGHTS = np.array([0.65, 0.30, 0.025, 0.025])
# (interval a, interval b): weekly, twice a week (e.g. Mon+Wed: 2 then 5 days), fortnightly.
CADENCES = np.array([[7, 7], [2, 5], [14, 14]], dtype=np.int32)
CADENCE_WEIGHTS = np.array([0.66, 0.20, 0.14])


def draw_cadences(
    rng: np.random.Generator, weekday: npt.NDArray[np.int64]
) -> npt.NDArray[np.int32]:
    """(k, 2) day steps; twice-a-week pairs start Monday to Wednesday (else weekly)."""
    kind = draw_categorical(rng, CADENCE_WEIGHTS, weekday.shape[0])
    kind = np.where((kind == 1) & (weekday > 2), 0, kind)
    return np.asarray(CADENCES[kind])


def draw_slots(
    rng: np.random.Generator, grade: npt.NDArray[np.int8]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Return (local weekday 0=Mon, local seconds after midnight) of a weekly slot.

    School-age students book weekday afternoons/evenings and weekend mornings;
    college students and adults book evenings.
    """
    n = grade.shape[0]
    u = rng.random(n)
    adult = grade >= 3
    cell = np.where(
        adult,
        np.searchsorted(ADULT_SLOT_CDF, u, side="right"),
        np.searchsorted(SCHOOL_SLOT_CDF, u, side="right"),
    )
    cell = np.minimum(cell, 7 * 24 - 1)
    weekday = cell // 24
    hour = cell % 24
    minute = MINUTE_CHOICES[rng.choice(4, size=n, p=MINUTE_WEIGHTS)]
    return weekday.astype(np.int64), (hour * HOUR + minute * MINUTE).astype(np.int64)


def draw_durations(rng: np.random.Generator, grade: npt.NDArray[np.int8]) -> npt.NDArray[np.int16]:
    u = rng.random(grade.shape[0])
    young = grade == 0
    short = np.where(young, 0.35, 0.12)
    long_ = np.where(young, 0.05, 0.12)
    minutes = np.where(u < short, 30, np.where(u > 1.0 - long_, 90, 60))
    return minutes.astype(np.int16)


def draw_grades(rng: np.random.Generator, subject: npt.NDArray[np.int8]) -> npt.NDArray[np.int8]:
    cdf = np.cumsum(GRADE_GIVEN_SUBJECT, axis=1)
    u = np.asarray(rng.random(size=subject.shape[0]))
    grade = np.sum(u[:, None] > cdf[subject], axis=1)
    return np.minimum(grade, 4).astype(np.int8)


def draw_categorical(
    rng: np.random.Generator, weights: npt.NDArray[np.float64], size: int
) -> npt.NDArray[np.int64]:
    cdf = np.cumsum(weights) / np.sum(weights)
    return np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), len(weights) - 1)
