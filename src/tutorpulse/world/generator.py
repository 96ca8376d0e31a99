"""Generate a synthetic tutoring marketplace with planted truths (`tutorpulse generate`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from tutorpulse.world.assemble import assemble_sessions
from tutorpulse.world.calibration import compute_calibration
from tutorpulse.world.churn import make_hazard_model
from tutorpulse.world.clock import (
    DAY,
    build_offset_table,
    day_of_week,
    day_to_date_str,
    epoch_seconds,
)
from tutorpulse.world.config import ST_SCHEDULED, ST_TUTOR_NO_SHOW, SUBJECTS, WorldConfig
from tutorpulse.world.events import EV_LOGIN, TutorSpans, generate_events
from tutorpulse.world.outcomes import OutcomeModel
from tutorpulse.world.population import NEVER, default_new_tutor_share, generate_tutors
from tutorpulse.world.simulate import Simulation, Timeline
from tutorpulse.world.tables import (
    build_events,
    build_sessions,
    build_students,
    build_tutors,
    session_ids,
    tutor_ids,
)
from tutorpulse.world.truth import PlantedExtras, build_truth

Progress = Callable[[str, float], None]
ANOMALY_MIN_DAYS = 28


@dataclass
class World:
    """A generated world: the four contract tables plus the planted truth."""

    config: WorldConfig
    tutors: pa.Table
    students: pa.Table
    sessions: pa.Table
    events: pa.Table
    truth: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def calibration(self) -> dict[str, Any]:
        return dict(self.truth["calibration"])

    def tables(self) -> dict[str, pa.Table]:
        return {
            "tutors": self.tutors,
            "students": self.students,
            "sessions": self.sessions,
            "events": self.events,
        }


def _timeline(config: WorldConfig, rng: np.random.Generator) -> Timeline:
    now_ts = epoch_seconds(config.now)
    # Days before `now_day` are complete: churn, pauses and new bookings happen on them.
    now_day = now_ts // DAY
    window_start_ts = now_ts - config.days * DAY
    window_start_day = window_start_ts // DAY
    anomaly = None
    if config.effects and config.days >= ANOMALY_MIN_DAYS:
        lo = window_start_day + int(0.3 * config.days)
        hi = window_start_day + int(0.75 * config.days) - 7
        day = int(rng.integers(lo, max(hi, lo + 1)))
        day += int((-day_of_week(np.array([day]))[0]) % 7)  # next Monday
        day = min(day, now_day - 8)
        anomaly = (day * DAY, (day + 7) * DAY)
    return Timeline(
        sim_start_day=window_start_day - config.burn_in_days,
        window_start_day=window_start_day,
        now_day=now_day,
        horizon_day=(now_ts + config.future_days * DAY) // DAY + 1,
        window_start_ts=window_start_ts,
        now_ts=now_ts,
        horizon_ts=now_ts + config.future_days * DAY,
        anomaly=anomaly,
    )


def _tutor_end_times(
    rng: np.random.Generator, state_day: npt.NDArray[np.int64], now_day: int
) -> npt.NDArray[np.int64]:
    """Churn/pause timestamps: after noon UTC of the day (every session ends before)."""
    done = state_day < now_day
    ts = state_day * DAY + 12 * 3600 + rng.integers(0, 12 * 3600 - 1, size=state_day.size)
    return np.where(done, ts, -1)


def generate_world(config: WorldConfig, *, progress: Progress | None = None) -> World:
    """Simulate the marketplace described by `config` and return its tables and truth."""
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def mark(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 3)
        clock = now

    def report(stage: str, fraction: float) -> None:
        if progress is not None:
            progress(stage, fraction)

    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(6)]
    rng_pop, rng_sim, rng_rows, rng_events, rng_misc, rng_plan = streams
    timeline = _timeline(config, rng_plan)
    hazard = make_hazard_model(
        baseline=config.baseline_churn_hazard,
        effects=config.effects,
        hazard_ratio=config.poor_first_session_hazard_ratio,
        window_days=config.poor_first_session_window_days,
    )
    outcomes = OutcomeModel(effects=config.effects, anomaly_multiplier=config.anomaly_multiplier)
    share = config.new_tutor_share
    if share is None:
        share = default_new_tutor_share(config.days, config.baseline_churn_hazard)
    report("population", 0.0)
    pop = generate_tutors(
        rng_pop,
        n=config.tutors,
        window_start_day=timeline.window_start_day,
        now_day=timeline.now_day,
        hazard=hazard,
        new_tutor_share=share,
        paused_share=config.paused_share,
        lag_days=config.churn_lag_days,
    )
    offsets = build_offset_table(timeline.sim_start_day - 2, timeline.horizon_day + 2)
    mark("population")

    sim = Simulation(
        rng=rng_sim,
        pop=pop,
        timeline=timeline,
        offsets=offsets,
        hazard=hazard,
        outcomes=outcomes,
        demand_per_tutor_day=config.demand_per_tutor_day,
        initial_pairings_per_tutor=config.initial_pairings_per_tutor,
        progress=lambda f: report("simulate", f),
    )
    out = sim.run()
    mark("simulate")
    report("sessions", 0.0)

    trend_subject = int(rng_plan.integers(0, len(SUBJECTS)))
    ref_day = timeline.window_start_day + config.days // 2
    trend = (trend_subject, config.trend_slope_per_day, ref_day) if config.effects else None
    cols = assemble_sessions(
        rng_rows,
        out.rows,
        n_tutors=pop.n,
        window_start_ts=timeline.window_start_ts,
        now_ts=timeline.now_ts,
        trend=trend,
        empathy_offset=pop.empathy_offset,
        clarity_offset=pop.clarity_offset,
    )
    out.rows.clear()  # free the raw rows early (the reference world is large)
    mark("assemble")

    state = out.state
    churned_at = _tutor_end_times(rng_misc, state.churn_day, timeline.now_day)
    paused_day = np.where(state.pause_day < timeline.now_day, state.pause_day, NEVER)
    paused_at = _tutor_end_times(rng_misc, paused_day, timeline.now_day)
    join_ts = pop.join_day * DAY
    end_ts = np.where(
        churned_at >= 0, churned_at, np.where(paused_at >= 0, paused_at, timeline.now_ts)
    )
    fade_start = np.where(
        state.onset_day < NEVER, state.onset_day * DAY, np.iinfo(np.int64).max // 4
    )
    spans = TutorSpans(
        join_ts=join_ts,
        start_ts=np.maximum(join_ts, timeline.window_start_ts),
        end_ts=end_ts,
        fade_start_ts=fade_start,
        fade_end_ts=np.where(state.onset_day < NEVER, state.churn_day * DAY, fade_start + 1),
        pause_ts=paused_at,
    )
    report("events", 0.0)
    ev = generate_events(
        rng_events,
        pop=pop,
        sessions=cols,
        spans=spans,
        offsets=offsets,
        window_start_ts=timeline.window_start_ts,
        now_ts=timeline.now_ts,
    )
    mark("events")

    report("tables", 0.0)
    status = np.where(churned_at >= 0, 2, np.where(paused_at >= 0, 1, 0))
    logins = ev.kind == EV_LOGIN
    last_login = np.full(pop.n, -1, dtype=np.int64)
    np.maximum.at(last_login, ev.tutor[logins], ev.time[logins])
    fallback = np.maximum(
        timeline.window_start_ts - rng_misc.integers(DAY, 10 * DAY, size=pop.n), join_ts
    )
    last_login = np.where(last_login >= 0, last_login, fallback)
    t_ids = tutor_ids(pop.n)
    s_ids = session_ids(cols.start.size)
    tutors = build_tutors(
        pop, t_ids, status=status, churned_at=churned_at, last_login_at=last_login
    )
    students = build_students(
        out.students["grade"][cols.student_source], out.students["tz"][cols.student_source]
    )
    sessions = build_sessions(cols, t_ids, s_ids)
    events = build_events(ev, t_ids, s_ids)
    mark("tables")

    report("truth", 0.0)
    calibration = compute_calibration(
        tutors,
        sessions,
        now=config.now,
        days=config.days,
        replacement_window_days=config.replacement_window_days,
    )
    calibration["events"] = int(ev.time.size)
    calibration["events_per_session"] = round(ev.time.size / max(cols.start.size, 1), 3)
    calibration["sessions"] = int(cols.start.size)
    calibration["students"] = int(cols.student_source.size)
    calibration["churned_tutors"] = int((status == 2).sum())
    calibration["paused_tutors"] = int((status == 1).sum())
    extras = PlantedExtras(
        anomaly=_anomaly_truth(timeline, config, cols.start, cols.status),
        trend=_trend_truth(trend, cols.start, cols.subject, cols.engagement),
    )
    truth = build_truth(
        config=config,
        timeline=timeline,
        pop=pop,
        state=state,
        hazard=hazard,
        outcomes=outcomes,
        tutor_ids=t_ids.to_pylist(),
        churned_at=churned_at,
        paused_at=paused_at,
        no_show_propensity=sim.day_sessions.p_no_show,
        extras=extras,
        calibration=calibration,
    )
    mark("truth")
    timings["total"] = round(sum(timings.values()), 3)
    return World(
        config=config,
        tutors=tutors,
        students=students,
        sessions=sessions,
        events=events,
        truth=truth,
        timings=timings,
    )


def _anomaly_truth(
    timeline: Timeline,
    config: WorldConfig,
    start: npt.NDArray[np.int64],
    status: npt.NDArray[np.int8],
) -> dict[str, Any] | None:
    if timeline.anomaly is None:
        return None
    a0, a1 = timeline.anomaly
    past = status != ST_SCHEDULED
    inside = past & (start >= a0) & (start < a1)
    outside = past & ~inside
    no_show = status == ST_TUTOR_NO_SHOW
    return {
        "kind": "tutor_no_show_spike",
        "metric": "tutor_no_show_rate",
        "definition": "tutor_no_show sessions / sessions with a past status, by scheduled_start",
        "start": day_to_date_str(a0 // DAY),
        "end_exclusive": day_to_date_str(a1 // DAY),
        "multiplier": config.anomaly_multiplier,
        "observed_rate_inside": round(float(no_show[inside].mean()), 5) if inside.any() else None,
        "observed_rate_outside": round(float(no_show[outside].mean()), 5)
        if outside.any()
        else None,
    }


def _trend_truth(
    trend: tuple[int, float, int] | None,
    start: npt.NDArray[np.int64],
    subject: npt.NDArray[np.int8],
    engagement: npt.NDArray[np.float64],
) -> dict[str, Any] | None:
    if trend is None:
        return None
    code, slope, ref_day = trend
    sel = (subject == code) & ~np.isnan(engagement)
    observed = None
    if sel.sum() > 10:
        days = (start[sel] // DAY - ref_day).astype(np.float64)
        observed = round(float(np.polyfit(days, engagement[sel], 1)[0]), 5)
    return {
        "subject": SUBJECTS[code],
        "metric": "engagement_score",
        "slope_per_day": slope,
        "reference_date": day_to_date_str(ref_day),
        "form": "mean engagement_score of the subject shifts by slope_per_day * (day - reference)",
        "observed_slope_per_day": observed,
    }
