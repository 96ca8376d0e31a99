"""Assign tutors to booking requests.

Two-stage weighted sampling: first a tutor timezone (weighted by the free
capacity of the subject's tutors there, the student's regional preference and
whether the slot falls in that zone's working hours), then a tutor inside the
(subject, timezone) group (weighted by appeal and free capacity).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tutorpulse.world.booking import REGION_AFFINITY
from tutorpulse.world.clock import HOUR, TZ_NAMES, TZ_REGION
from tutorpulse.world.config import SUBJECTS
from tutorpulse.world.population import TutorPopulation

SECONDARY_SUBJECT_WEIGHT = 0.5
N_TZ = len(TZ_NAMES)


def working_hours_weight(local_hour: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """How willing tutors are to teach at a local hour: 08-22 fully, 07 and 22 partly."""
    core = (local_hour >= 8) & (local_hour < 22)
    edge = (local_hour == 7) | (local_hour == 22)
    return np.where(core, 1.0, np.where(edge, 0.35, 0.02))


def slot_compatibility(
    offsets_at_start: npt.NDArray[np.int64], start: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """(k, n_tz) working-hours weights of each tutor timezone for each slot start."""
    local = start[:, None] + offsets_at_start
    return working_hours_weight((local % 86_400) // HOUR)


class Matcher:
    def __init__(self, pop: TutorPopulation) -> None:
        self._groups: list[list[tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]]] = []
        for s in range(len(SUBJECTS)):
            rank = pop.subject_rank[:, s]
            per_tz = []
            for z in range(N_TZ):
                idx = np.flatnonzero((rank >= 0) & (pop.tz == z))
                weight = np.where(rank[idx] == 0, 1.0, SECONDARY_SUBJECT_WEIGHT)
                per_tz.append((idx, pop.attract[idx] * weight))
            self._groups.append(per_tz)
        # (student region, tz) preference.
        self._tz_affinity = REGION_AFFINITY[:, TZ_REGION]

    def assign(
        self,
        rng: np.random.Generator,
        *,
        subject: npt.NDArray[np.int8],
        student_region: npt.NDArray[np.int8],
        exclude: npt.NDArray[np.int64],
        dynamic: npt.NDArray[np.float64],
        compatibility: npt.NDArray[np.float64],
    ) -> npt.NDArray[np.int64]:
        """Return a tutor index per request (-1 if none could be found).

        `dynamic` is today's per-tutor multiplier (0 for unavailable tutors),
        `compatibility` the (requests, timezones) working-hours weights and
        `exclude` a tutor a request must not get (-1 for none).
        """
        k = subject.shape[0]
        out = np.full(k, -1, dtype=np.int64)
        cums: dict[tuple[int, int], npt.NDArray[np.float64]] = {}
        mass = np.zeros((len(SUBJECTS), N_TZ))
        for s in np.unique(subject).tolist():
            for z in range(N_TZ):
                idx, static = self._groups[s][z]
                cw = np.cumsum(static * dynamic[idx])
                cums[(s, z)] = cw
                mass[s, z] = cw[-1] if cw.size else 0.0
        tz_weight = mass[subject] * self._tz_affinity[student_region] * compatibility
        total = tz_weight.sum(axis=1)
        cdf = np.cumsum(tz_weight, axis=1)
        pick = (cdf < (rng.random(k) * total)[:, None]).sum(axis=1)
        tz = np.minimum(pick, N_TZ - 1)
        ok = total > 0
        group = subject.astype(np.int64) * N_TZ + tz
        for g in np.unique(group[ok]).tolist():
            s, z = divmod(g, N_TZ)
            idx = self._groups[s][z][0]
            cw = cums[(s, z)]
            pending = np.flatnonzero(ok & (group == g))
            for _ in range(3):
                pos = np.searchsorted(cw, rng.random(pending.size) * cw[-1], side="right")
                picks = idx[np.minimum(pos, idx.size - 1)]
                good = picks != exclude[pending]
                out[pending[good]] = picks[good]
                pending = pending[~good]
                if pending.size == 0:
                    break
        return out
