"""One simulated day of sessions: rows for due pairings, outcomes, and what students do next."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from tutorpulse.world.clock import DAY, HOUR, day_of_week
from tutorpulse.world.config import (
    BY_TUTOR,
    ST_CANCELLED,
    ST_COMPLETED,
    ST_RESCHEDULED,
    ST_SCHEDULED,
    ST_STUDENT_NO_SHOW,
    ST_TUTOR_NO_SHOW,
)
from tutorpulse.world.outcomes import (
    FAILED_RATING_MAX,
    OutcomeModel,
    draw_lateness,
    draw_status,
    latent_quality,
    ratings_from_latent,
)

if TYPE_CHECKING:
    from tutorpulse.world.simulate import Simulation

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
STANDING_BOOKING_DAYS = 14
SKIP_WEEK_PROBABILITY = 0.06
POOR_LATENT_RATING = 2.95
# (switch tutor, stop) probabilities after a tutor-side failure; x1.3 on first sessions.
SWITCH_AFTER = {"no_show": (0.32, 0.05), "cancel": (0.30, 0.04), "reschedule": (0.20, 0.02)}
FIRST_SESSION_SWITCH_MULT = 1.3
RATE_PROBABILITY = (0.72, 0.86)  # (later sessions, first sessions)
TECH_ISSUE_BASE = 0.045


class SessionDay:
    def __init__(self, sim: Simulation, outcomes: OutcomeModel) -> None:
        self.sim = sim
        self.outcomes = outcomes
        pop = sim.pop
        z = np.column_stack([pop.z_rel, pop.z_skill, pop.z_mot])
        self.p_no_show, self.p_reschedule, self.p_cancel = outcomes.tutor_propensities(z)

    def run(self, d: int) -> None:
        sim, rng, t = self.sim, self.sim.rng, self.sim.t
        pairs = sim.pairings
        due = np.flatnonzero(pairs["next_day"] == d)
        k = due.size
        if k == 0:
            return
        tutor = pairs["tutor"][due]
        student = pairs["student"][due]
        anchor = pairs["anchor"][due]
        local_sec = pairs["local_sec"][due]
        dur = pairs["dur"][due].astype(np.int64)
        start = sim.offsets.local_to_utc(pairs["tz"][due], np.full(k, d), pairs["next_sec"][due])
        regular = anchor == d
        first = pairs["n_done"][due] == 0
        created = pairs["created_ts"][due]
        booked = np.where(
            first,
            created,
            np.where(
                regular,
                np.maximum(
                    created,
                    start - STANDING_BOOKING_DAYS * DAY - rng.integers(0, 2 * DAY, size=k),
                ),
                np.maximum(created, pairs["makeup_booked"][due]),
            ),
        )
        past = start + dur * 60 <= t.now_ts

        status = np.full(k, ST_SCHEDULED, dtype=np.int8)
        by = np.zeros(k, dtype=np.int8)
        late = np.zeros(k, dtype=np.int64)
        tech = np.full(k, -1, dtype=np.int8)
        q = np.full(k, np.nan, dtype=np.float32)
        r = np.full(k, np.nan, dtype=np.float32)
        rating = np.zeros(k, dtype=np.int8)
        action = np.zeros(k, dtype=np.int8)  # 0 continue, 1 switch tutor, 2 stop
        pi = np.flatnonzero(past)
        if pi.size:
            self._outcomes(
                d, pi, tutor, student, start, first, status, by, late, tech, q, r, rating
            )
            action[pi] = self._next_step(pi, status, by, first, r)
            self._request_switches(d, pi, action, status, by, student, tutor, pairs["subject"][due])

        # Advance the pairings.
        parity = pairs["parity"][due]
        step = np.where(parity == 0, pairs["step_a"][due], pairs["step_b"][due])
        new_anchor = np.where(regular, anchor + step, anchor)
        skip = regular & (rng.random(k) < SKIP_WEEK_PROBABILITY)
        new_anchor = new_anchor + skip * np.where(pairs["step_a"][due] == 14, 14, 7)
        makeup_day = d + rng.integers(1, 5, size=k)
        # Weekday sessions are made up on a weekday (Monday instead of a weekend day),
        # weekend sessions on the next weekend day.
        makeup_dow = day_of_week(makeup_day)
        today_dow = int(day_of_week(np.array([d]))[0])
        if today_dow < 5:
            makeup_day = np.where(makeup_dow >= 5, makeup_day + 7 - makeup_dow, makeup_day)
        else:
            makeup_day = np.full(k, d + (1 if today_dow == 5 else 6))
        use_makeup = (status == ST_RESCHEDULED) & (action == 0) & (makeup_day < new_anchor)
        shift = rng.choice(np.array([-HOUR, 0, 0, HOUR]), size=k)
        next_day = np.where(use_makeup, makeup_day, new_anchor)
        next_day[action != 0] = -1
        pairs["anchor"][due] = new_anchor
        pairs["parity"][due] = np.where(regular, parity ^ 1, parity)
        pairs["n_done"][due] += 1
        pairs["next_day"][due] = next_day
        pairs["next_sec"][due] = np.where(
            use_makeup, np.clip(local_sec + shift, 7 * HOUR, 22 * HOUR), local_sec
        )
        pairs["makeup_booked"][due] = np.where(
            use_makeup, start - rng.integers(HOUR, 48 * HOUR, size=k), pairs["makeup_booked"][due]
        )

        keep = start < t.horizon_ts
        sim.rows.add(
            start_ts=start[keep],
            dur=dur[keep],
            tutor=tutor[keep],
            student=student[keep],
            subject=pairs["subject"][due][keep],
            status=status[keep],
            by=by[keep],
            pfirst=first[keep],
            late=late[keep],
            tech=tech[keep],
            q=q[keep],
            r=r[keep],
            rating=rating[keep],
            booked_ts=booked[keep],
        )

    def _outcomes(
        self,
        d: int,
        pi: IntArray,
        tutor: IntArray,
        student: IntArray,
        start: IntArray,
        first: npt.NDArray[np.bool_],
        status: npt.NDArray[np.int8],
        by: npt.NDArray[np.int8],
        late: IntArray,
        tech: npt.NDArray[np.int8],
        q: npt.NDArray[np.float32],
        r: npt.NDArray[np.float32],
        rating: npt.NDArray[np.int8],
    ) -> None:
        sim, rng, pop, out = self.sim, self.sim.rng, self.sim.pop, self.outcomes
        n = pi.size
        tut, stu, st_ts, fst = tutor[pi], student[pi], start[pi], first[pi]
        local = st_ts + sim.offsets.offset(pop.tz[tut], st_ts // DAY).astype(np.int64)
        hour = (local % DAY) // HOUR
        odd = (hour >= 23) | (hour < 7)
        evening = (hour >= 18) & (hour < 23)
        m_ns = np.ones(n)
        m_cancel = np.ones(n)
        m_student = np.ones(n)
        if out.effects:
            disengaged = sim.state.onset_day[tut] <= d
            m_ns = np.where(disengaged, out.disengaged_no_show_mult, 1.0)
            m_ns = m_ns * np.where(odd, out.odd_hour_no_show_mult, 1.0)
            if sim.t.anomaly is not None:
                a0, a1 = sim.t.anomaly
                in_week = (st_ts >= a0) & (st_ts < a1)
                m_ns = m_ns * np.where(in_week, out.anomaly_multiplier, 1.0)
            m_cancel = np.where(disengaged, out.disengaged_cancel_mult, 1.0)
            m_student = np.where(fst, out.first_session_student_no_show_mult, 1.0)
        st, who = draw_status(
            rng.random(n),
            tutor_reschedule=self.p_reschedule[tut],
            student_reschedule=np.full(n, out.student_reschedule_base),
            tutor_cancel=self.p_cancel[tut] * m_cancel,
            student_cancel=np.full(n, out.student_cancel_base),
            tutor_no_show=self.p_no_show[tut] * m_ns,
            student_no_show=sim.students["no_show"][stu] * m_student,
        )
        status[pi] = st
        by[pi] = who
        comp = np.flatnonzero(st == ST_COMPLETED)
        tc, sc = tut[comp], stu[comp]
        c = comp.size
        has_tech = rng.random(c) < TECH_ISSUE_BASE * pop.tech_factor[tc] * np.where(
            evening[comp], 1.35, 1.0
        )
        lateness = draw_lateness(rng, pop.reliability[tc], out.effects)
        qual, lat = latent_quality(
            rng,
            skill=pop.z_skill[tc],
            tenure_days=(d - pop.join_day[tc]).astype(np.float64),
            first=fst[comp],
            generosity=sim.students["generosity"][sc],
            technical_issue=has_tech,
            late_seconds=lateness,
            odd_hour=odd[comp],
        )
        stars = ratings_from_latent(lat)
        rated = rng.random(c) < np.where(fst[comp], RATE_PROBABILITY[1], RATE_PROBABILITY[0])
        stars[~rated] = 0
        rows = pi[comp]
        tech[rows] = has_tech
        late[rows] = lateness
        q[rows] = qual
        r[rows] = lat
        rating[rows] = stars
        failed = fst & (
            (st == ST_TUTOR_NO_SHOW)
            | ((st == ST_COMPLETED) & (rating[pi] > 0) & (rating[pi] <= FAILED_RATING_MAX))
        )
        if failed.any():
            sim.state.last_fail_day[tut[failed]] = d
            np.add.at(sim.state.failed_first, tut[failed], 1)

    def _next_step(
        self,
        pi: IntArray,
        status: npt.NDArray[np.int8],
        by: npt.NDArray[np.int8],
        first: npt.NDArray[np.bool_],
        r: npt.NDArray[np.float32],
    ) -> npt.NDArray[np.int8]:
        st, who, fst = status[pi], by[pi], first[pi]
        lat = np.nan_to_num(r[pi].astype(np.float64), nan=4.0)
        fm = np.where(fst, FIRST_SESSION_SWITCH_MULT, 1.0)
        switch = np.zeros(pi.size)
        stop = np.zeros(pi.size)
        tutor_side = who == BY_TUTOR
        for mask, key in (
            (st == ST_TUTOR_NO_SHOW, "no_show"),
            ((st == ST_CANCELLED) & tutor_side, "cancel"),
            ((st == ST_RESCHEDULED) & tutor_side, "reschedule"),
        ):
            switch = np.where(mask, SWITCH_AFTER[key][0] * fm, switch)
            stop = np.where(mask, SWITCH_AFTER[key][1], stop)
        stop = np.where(st == ST_STUDENT_NO_SHOW, 0.15, stop)
        stop = np.where((st == ST_CANCELLED) & ~tutor_side, 0.10, stop)
        stop = np.where((st == ST_RESCHEDULED) & ~tutor_side, 0.02, stop)
        comp = st == ST_COMPLETED
        poor = lat < POOR_LATENT_RATING
        keep_first = 0.30 + 0.6 / (1.0 + np.exp(-2.5 * (lat - 3.3)))
        leave_first = 1.0 - keep_first
        s_first = np.where(poor, 0.45, 0.20)
        switch = np.where(comp, np.where(fst, leave_first * s_first, 0.02 + 0.10 * poor), switch)
        stop = np.where(
            comp, np.where(fst, leave_first * (1.0 - s_first), 0.085 + 0.12 * poor), stop
        )
        u = self.sim.rng.random(pi.size)
        return np.where(u < switch, 1, np.where(u < switch + stop, 2, 0)).astype(np.int8)

    def _request_switches(
        self,
        d: int,
        pi: IntArray,
        action: npt.NDArray[np.int8],
        status: npt.NDArray[np.int8],
        by: npt.NDArray[np.int8],
        student: IntArray,
        tutor: IntArray,
        subject: npt.NDArray[np.int8],
    ) -> None:
        from tutorpulse.world.simulate import REQ_REPLACEMENT, REQ_SWITCH

        rows = pi[action[pi] == 1]
        if rows.size == 0:
            return
        tutor_fault = (status[rows] == ST_TUTOR_NO_SHOW) | (by[rows] == BY_TUTOR)
        for mask, kind in ((tutor_fault, REQ_REPLACEMENT), (~tutor_fault, REQ_SWITCH)):
            sel = rows[mask]
            self.sim.add_requests(
                due=d + 1 + self.sim.rng.integers(0, 3, size=sel.size),
                student=student[sel],
                subject=subject[sel],
                exclude=tutor[sel],
                kind=kind,
            )
