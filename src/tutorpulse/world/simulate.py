"""Day-stepped marketplace simulation (vectorised within each day).

Each simulated day: tutors churn or pause (their students look for someone new),
disengagement onsets are drawn from the churn hazard, new student needs arrive,
booking requests are matched to tutors, and every pairing due that day produces
a session row whose outcome feeds back (rebooking, tutor replacement, churn).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tutorpulse.world.booking import (
    DEMAND_SUBJECT_WEIGHTS,
    STUDENT_REGION_OF_TZ_REGION,
    draw_cadences,
    draw_categorical,
    draw_durations,
    draw_grades,
    draw_slots,
)
from tutorpulse.world.churn import HazardModel, tenure_factor
from tutorpulse.world.clock import (
    DAY,
    STUDENT_TZ_WEIGHTS,
    TZ_REGION,
    OffsetTable,
    day_of_week,
    day_of_year_fraction,
)
from tutorpulse.world.matching import N_TZ, Matcher, slot_compatibility
from tutorpulse.world.outcomes import OutcomeModel
from tutorpulse.world.population import NEVER, TutorPopulation
from tutorpulse.world.sessions_day import SessionDay
from tutorpulse.world.stores import ChunkBuffer, Store

# Request kinds.
REQ_NEW, REQ_SECOND_NEED, REQ_REPLACEMENT, REQ_SWITCH, REQ_REPAIR, REQ_INITIAL = range(6)
SECOND_NEED_SHARE = 0.15
REPAIR_PROBABILITY = 0.7
NEWCOMER_BOOST = 2.5
NEWCOMER_DAYS = 14

PAIRING_DTYPES: dict[str, npt.DTypeLike] = {
    "student": np.int64,
    "tutor": np.int64,
    "subject": np.int8,
    "tz": np.int8,
    "local_sec": np.int64,
    "next_sec": np.int64,
    "step_a": np.int64,
    "step_b": np.int64,
    "parity": np.int8,
    "anchor": np.int64,
    "next_day": np.int64,
    "n_done": np.int64,
    "dur": np.int16,
    "created_ts": np.int64,
    "makeup_booked": np.int64,
}
STUDENT_DTYPES: dict[str, npt.DTypeLike] = {
    "grade": np.int8,
    "tz": np.int8,
    "region": np.int8,
    "no_show": np.float64,
    "generosity": np.float64,
}
ROW_DTYPES: dict[str, npt.DTypeLike] = {
    "start_ts": np.int64,
    "dur": np.int16,
    "tutor": np.int64,
    "student": np.int64,
    "subject": np.int8,
    "status": np.int8,
    "by": np.int8,
    "pfirst": np.bool_,
    "late": np.int64,
    "tech": np.int8,
    "q": np.float32,
    "r": np.float32,
    "rating": np.int8,
    "booked_ts": np.int64,
}


@dataclass(frozen=True)
class Timeline:
    sim_start_day: int
    window_start_day: int
    now_day: int
    horizon_day: int
    window_start_ts: int
    now_ts: int
    horizon_ts: int
    anomaly: tuple[int, int] | None  # [start, end) epoch seconds


@dataclass
class TutorState:
    onset_day: npt.NDArray[np.int64]
    churn_day: npt.NDArray[np.int64]
    pause_day: npt.NDArray[np.int64]
    last_fail_day: npt.NDArray[np.int64]
    failed_first: npt.NDArray[np.int64]
    cum_hazard: npt.NDArray[np.float64]


@dataclass
class SimOutput:
    rows: dict[str, npt.NDArray]
    students: dict[str, npt.NDArray]
    state: TutorState


def season(days: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """Demand multiplier by date: a summer dip and a year-end holiday dip."""
    x = day_of_year_fraction(days)
    summer = 0.18 * np.exp(-(((x - 0.58) / 0.07) ** 2))
    holidays = 0.12 * np.exp(-(((x - 0.985) / 0.02) ** 2)) + 0.12 * np.exp(-((x / 0.01) ** 2))
    return np.asarray(1.0 - summer - holidays)


class Simulation:
    def __init__(
        self,
        *,
        rng: np.random.Generator,
        pop: TutorPopulation,
        timeline: Timeline,
        offsets: OffsetTable,
        hazard: HazardModel,
        outcomes: OutcomeModel,
        demand_per_tutor_day: float,
        initial_pairings_per_tutor: float,
        progress: Callable[[float], None] | None = None,
    ) -> None:
        self.rng = rng
        self.pop = pop
        self.t = timeline
        self.offsets = offsets
        self.hazard = hazard
        self.demand = demand_per_tutor_day
        self.initial = initial_pairings_per_tutor
        self.progress = progress
        n = pop.n
        self.state = TutorState(
            onset_day=np.full(n, NEVER, dtype=np.int64),
            churn_day=np.full(n, NEVER, dtype=np.int64),
            pause_day=pop.pause_day.copy(),
            last_fail_day=np.full(n, -(10**6), dtype=np.int64),
            failed_first=np.zeros(n, dtype=np.int64),
            cum_hazard=np.zeros(n),
        )
        self.pairings = Store(PAIRING_DTYPES, capacity=max(4096, int(n * 3)))
        self.students = Store(STUDENT_DTYPES, capacity=max(4096, int(n * 4)))
        self.rows = ChunkBuffer(ROW_DTYPES)
        self.requests: dict[int, list[dict[str, npt.NDArray]]] = defaultdict(list)
        self.matcher = Matcher(pop)
        self.day_sessions = SessionDay(self, outcomes)

    # -- tutors -------------------------------------------------------------------------
    def available(self, d: int) -> npt.NDArray[np.bool_]:
        s = self.state
        # Tutors take bookings from the day after they join.
        return (self.pop.join_day < d) & (s.onset_day > d) & (s.pause_day > d)

    def _transitions(self, d: int) -> None:
        s = self.state
        pausing = s.pause_day == d
        cancelled = pausing & (s.onset_day <= d)
        s.pause_day[cancelled] = NEVER
        ending = (s.churn_day == d) | (pausing & ~cancelled)
        if not ending.any():
            return
        ends = np.flatnonzero((self.pairings["next_day"] >= 0) & ending[self.pairings["tutor"]])
        if ends.size == 0:
            return
        self.pairings["next_day"][ends] = -1
        again = ends[self.rng.random(ends.size) < REPAIR_PROBABILITY]
        self.add_requests(
            due=d + self.rng.integers(2, 12, size=again.size),
            student=self.pairings["student"][again],
            subject=self.pairings["subject"][again],
            exclude=self.pairings["tutor"][again],
            kind=REQ_REPAIR,
        )

    def _hazard(self, d: int) -> None:
        s, pop = self.state, self.pop
        elig = (
            (pop.join_day <= d)
            & (s.onset_day == NEVER)
            & (s.pause_day > d)
            & (d >= self.t.window_start_day - pop.lag)
        )
        idx = np.flatnonzero(elig)
        h = pop.static_hazard[idx] * tenure_factor((d - pop.join_day[idx]).astype(np.float64))
        recent = d - s.last_fail_day[idx] <= self.hazard.poor_first_session_window_days
        h = h * np.where(recent, self.hazard.poor_first_session_hr, 1.0)
        s.cum_hazard[idx] += h
        onset = idx[s.cum_hazard[idx] >= pop.hazard_draw[idx]]
        s.onset_day[onset] = d
        s.churn_day[onset] = d + pop.lag[onset]

    # -- demand and matching --------------------------------------------------------------
    def add_requests(
        self,
        *,
        due: npt.NDArray[np.int64],
        student: npt.NDArray[np.int64],
        subject: npt.NDArray[np.int8],
        exclude: npt.NDArray[np.int64],
        kind: int,
    ) -> None:
        if due.size == 0:
            return
        order = np.argsort(due, kind="stable")
        due_sorted = due[order]
        days, starts = np.unique(due_sorted, return_index=True)
        bounds = [*starts.tolist(), due.size]
        for j, day in enumerate(days.tolist()):
            sel = order[bounds[j] : bounds[j + 1]]
            self.requests[day].append(
                {
                    "student": student[sel],
                    "subject": subject[sel],
                    "exclude": exclude[sel],
                    "kind": np.full(sel.size, kind, dtype=np.int8),
                }
            )

    def _new_students(self, subject: npt.NDArray[np.integer]) -> npt.NDArray[np.int64]:
        rng, k = self.rng, subject.shape[0]
        tz = draw_categorical(rng, STUDENT_TZ_WEIGHTS, k).astype(np.int8)
        base = self.day_sessions.outcomes.student_no_show_base
        return self.students.append(
            grade=draw_grades(rng, subject.astype(np.int8)),
            tz=tz,
            region=STUDENT_REGION_OF_TZ_REGION[TZ_REGION[tz]],
            no_show=np.minimum(rng.gamma(1.5, base / 1.5, size=k), 0.5),
            generosity=0.35 * rng.standard_normal(k),
        )

    def _new_demand(self, d: int, n_available: int) -> None:
        rng = self.rng
        lam = self.demand * n_available * float(season(np.array([d]))[0])
        k = int(rng.poisson(lam))
        if k == 0:
            return
        subject = draw_categorical(rng, DEMAND_SUBJECT_WEIGHTS, k)
        students = self._new_students(subject)
        self.add_requests(
            due=np.full(k, d, dtype=np.int64),
            student=students,
            subject=subject.astype(np.int8),
            exclude=np.full(k, -1, dtype=np.int64),
            kind=REQ_NEW,
        )
        second = rng.random(k) < SECOND_NEED_SHARE
        if second.any():
            first_subject = subject[second]
            other = draw_categorical(rng, DEMAND_SUBJECT_WEIGHTS, int(second.sum()))
            clash = other == first_subject
            other[clash] = (other[clash] + 1 + rng.integers(0, 5, int(clash.sum()))) % 6
            self.add_requests(
                due=d + rng.integers(14, 121, size=other.size),
                student=students[second],
                subject=other.astype(np.int8),
                exclude=np.full(other.size, -1, dtype=np.int64),
                kind=REQ_SECOND_NEED,
            )

    def _dynamic_weights(self, d: int, avail: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
        pop = self.pop
        alive = self.pairings["next_day"] >= 0
        load = np.bincount(self.pairings["tutor"][alive], minlength=pop.n)
        free = np.maximum(pop.capacity - load, 0.0) + 0.05
        boost = np.where(d - pop.join_day < NEWCOMER_DAYS, NEWCOMER_BOOST, 1.0)
        return np.asarray(avail * free * boost)

    def _process_requests(self, d: int, avail: npt.NDArray[np.bool_]) -> None:
        blocks = self.requests.pop(d, [])
        if not blocks:
            return
        self._match_and_create(
            d,
            np.concatenate([b["student"] for b in blocks]),
            np.concatenate([b["subject"] for b in blocks]),
            np.concatenate([b["exclude"] for b in blocks]),
            self._dynamic_weights(d, avail),
            initial=False,
        )

    def _match_and_create(
        self,
        d: int,
        student: npt.NDArray[np.int64],
        subject: npt.NDArray[np.int8],
        exclude: npt.NDArray[np.int64],
        dynamic: npt.NDArray[np.float64],
        *,
        initial: bool,
    ) -> None:
        """Draw each request's weekly slot, match a tutor who works then, create pairings."""
        rng, k = self.rng, student.shape[0]
        if k == 0:
            return
        grade = self.students["grade"][student]
        tz = self.students["tz"][student]
        weekday, local_sec = draw_slots(rng, grade)
        cadence = draw_cadences(rng, weekday)
        # The first session falls on the slot's weekday: from tomorrow for new pairings,
        # from today for the ongoing stock (fortnightly ones may skip a week).
        base = d if initial else d + 1
        first_day = base + (weekday - day_of_week(np.array([base]))[0]) % 7
        if initial:
            first_day = first_day + 7 * ((cadence[:, 0] == 14) & (rng.random(k) < 0.5))
        start = self.offsets.local_to_utc(tz, first_day, local_sec)
        zone_offsets = self.offsets.offset(
            np.arange(N_TZ)[None, :], (start // DAY)[:, None]
        ).astype(np.int64)
        tutor = self.matcher.assign(
            rng,
            subject=subject,
            student_region=self.students["region"][student],
            exclude=exclude,
            dynamic=dynamic,
            compatibility=slot_compatibility(zone_offsets, start),
        )
        ok = np.flatnonzero(tutor >= 0)
        n = ok.size
        booked_at = np.asarray(d * DAY + rng.integers(0, DAY, size=n), dtype=np.int64)
        created = (
            np.full(n, (d - 60) * DAY, dtype=np.int64)
            if initial
            else np.minimum(booked_at, start[ok] - 1800)
        )
        self.pairings.append(
            student=student[ok],
            tutor=tutor[ok],
            subject=subject[ok],
            tz=tz[ok],
            local_sec=local_sec[ok],
            next_sec=local_sec[ok],
            step_a=cadence[ok, 0],
            step_b=cadence[ok, 1],
            parity=np.zeros(n, dtype=np.int8),
            anchor=first_day[ok],
            next_day=first_day[ok],
            n_done=np.full(n, 5 if initial else 0, dtype=np.int64),
            dur=draw_durations(rng, grade[ok]),
            created_ts=created,
            makeup_booked=np.zeros(n, dtype=np.int64),
        )

    def _seed_initial_pairings(self, d: int) -> None:
        avail = self.available(d)
        k = round(self.initial * int(avail.sum()))
        subject = draw_categorical(self.rng, DEMAND_SUBJECT_WEIGHTS, k).astype(np.int8)
        self._match_and_create(
            d,
            self._new_students(subject),
            subject,
            np.full(k, -1, dtype=np.int64),
            np.asarray(avail * self.pop.capacity, dtype=np.float64),
            initial=True,
        )

    # -- main loop ----------------------------------------------------------------------
    def run(self) -> SimOutput:
        t = self.t
        self._seed_initial_pairings(t.sim_start_day)
        total = t.horizon_day - t.sim_start_day + 1
        for step, d in enumerate(range(t.sim_start_day, t.horizon_day + 1)):
            if d < t.now_day:
                self._transitions(d)
                self._hazard(d)
                avail = self.available(d)
                self._new_demand(d, int(avail.sum()))
                self._process_requests(d, avail)
            self.day_sessions.run(d)
            if step % 7 == 6:
                self.pairings.compact(self.pairings["next_day"] >= 0)
            if self.progress is not None and step % 10 == 0:
                self.progress(step / total)
        students = {name: self.students[name].copy() for name in STUDENT_DTYPES}
        return SimOutput(rows=self.rows.finish(), students=students, state=self.state)
