"""Engagement events: session-linked events plus per-tutor background activity.

Background activity is a Poisson process per tutor and event type over the
tutor's active span, placed at local waking hours and thinned linearly to 5% between
the onset of disengagement and churn ("activity fades in the weeks before churn").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tutorpulse.world.assemble import SessionColumns
from tutorpulse.world.clock import DAY, HOUR, OffsetTable
from tutorpulse.world.config import ST_COMPLETED, ST_STUDENT_NO_SHOW
from tutorpulse.world.population import TutorPopulation
from tutorpulse.world.stores import sort_order

IntArray = npt.NDArray[np.int64]
(
    EV_LOGIN,
    EV_SESSION_SCHEDULED,
    EV_SESSION_COMPLETED,
    EV_PROFILE_UPDATED,
    EV_AVAILABILITY_UPDATED,
    EV_MESSAGE_SENT,
    EV_TRAINING_COMPLETED,
    EV_OPPORTUNITY_VIEWED,
) = range(8)
# (event type, base rate per active day, log-rate coefficient on motivation)
BACKGROUND_RATES: tuple[tuple[int, float, float], ...] = (
    (EV_LOGIN, 0.13, 0.35),
    (EV_OPPORTUNITY_VIEWED, 0.05, 0.45),
    (EV_AVAILABILITY_UPDATED, 0.025, 0.20),
    (EV_PROFILE_UPDATED, 0.012, 0.0),
    (EV_TRAINING_COMPLETED, 0.004, 0.30),
    (EV_MESSAGE_SENT, 0.03, 0.20),
)
PRE_SESSION_LOGIN_PROBABILITY = 0.6
MESSAGE_PROBABILITY = (0.2, 0.8)  # (later sessions, first sessions)
FADE_FLOOR = 0.05
_ACTIVITY_HOURS = np.array(
    [
        0.1,
        0.05,
        0.03,
        0.02,
        0.03,
        0.1,
        0.4,
        0.8,
        1.0,
        1.1,
        1.1,
        1.0,
        1.0,
        1.0,
        1.0,
        1.1,
        1.2,
        1.2,
        1.3,
        1.4,
        1.4,
        1.2,
        0.8,
        0.4,
    ]
)
ACTIVITY_HOUR_CDF = np.cumsum(_ACTIVITY_HOURS) / _ACTIVITY_HOURS.sum()


@dataclass
class TutorSpans:
    """Per tutor: when activity may happen and when it starts fading."""

    join_ts: IntArray
    start_ts: IntArray  # max(join, window start)
    end_ts: IntArray  # churned_at, paused_at or now
    fade_start_ts: IntArray  # onset of disengagement (or a far-future sentinel)
    fade_end_ts: IntArray
    pause_ts: IntArray  # -1 if not paused


@dataclass
class EventColumns:
    time: IntArray
    tutor: IntArray
    kind: npt.NDArray[np.int8]
    session: IntArray  # session row index for session events, else -1


def _fade_keep(
    rng: np.random.Generator, t: IntArray, tutor: IntArray, spans: TutorSpans
) -> npt.NDArray[np.bool_]:
    f0 = spans.fade_start_ts[tutor]
    f1 = spans.fade_end_ts[tutor]
    frac = (t - f0) / np.maximum(f1 - f0, 1)
    factor = np.where(t < f0, 1.0, np.maximum(FADE_FLOOR, 1.0 - frac))
    return np.asarray(rng.random(t.size) < factor)


def _background(
    rng: np.random.Generator, pop: TutorPopulation, spans: TutorSpans, offsets: OffsetTable
) -> list[tuple[IntArray, IntArray, int]]:
    out: list[tuple[IntArray, IntArray, int]] = []
    span_days = np.maximum(spans.end_ts - spans.start_ts, 0) / DAY
    for kind, base, coef in BACKGROUND_RATES:
        rate = base * np.exp(coef * pop.z_mot - coef * coef / 2.0)
        counts = rng.poisson(rate * span_days)
        tutor = np.repeat(np.arange(pop.n, dtype=np.int64), counts)
        a, b = spans.start_ts[tutor], spans.end_ts[tutor]
        t0 = a + (rng.random(tutor.size) * (b - a)).astype(np.int64)
        local_day, _ = offsets.utc_to_local_day(pop.tz[tutor], t0)
        hour = np.searchsorted(ACTIVITY_HOUR_CDF, rng.random(tutor.size), side="right")
        local_sec = np.minimum(hour, 23) * HOUR + rng.integers(0, HOUR, size=tutor.size)
        t = offsets.local_to_utc(pop.tz[tutor], local_day, local_sec)
        keep = (t >= a) & (t < b) & _fade_keep(rng, t, tutor, spans)
        out.append((t[keep], tutor[keep], kind))
    return out


def _onboarding(
    rng: np.random.Generator, spans: TutorSpans, window_start_ts: int
) -> list[tuple[IntArray, IntArray, int]]:
    joiners = np.flatnonzero(spans.join_ts >= window_start_ts)
    j0 = spans.join_ts[joiners]
    out = [
        (j0 + rng.integers(0, 3 * HOUR, size=joiners.size), joiners, EV_LOGIN),
        (j0 + rng.integers(3 * HOUR, 6 * HOUR, size=joiners.size), joiners, EV_PROFILE_UPDATED),
        (
            j0 + rng.integers(6 * HOUR, 12 * HOUR, size=joiners.size),
            joiners,
            EV_AVAILABILITY_UPDATED,
        ),
    ]
    n_train = rng.poisson(1.5, size=joiners.size)
    trainee = np.repeat(joiners, n_train)
    out.append(
        (
            spans.join_ts[trainee] + rng.integers(HOUR, 21 * DAY, size=trainee.size),
            trainee,
            EV_TRAINING_COMPLETED,
        )
    )
    paused = np.flatnonzero(spans.pause_ts >= 0)
    out.append(
        (
            spans.pause_ts[paused] - rng.integers(60, HOUR, size=paused.size),
            paused,
            EV_AVAILABILITY_UPDATED,
        )
    )
    return out


def generate_events(
    rng: np.random.Generator,
    *,
    pop: TutorPopulation,
    sessions: SessionColumns,
    spans: TutorSpans,
    offsets: OffsetTable,
    window_start_ts: int,
    now_ts: int,
) -> EventColumns:
    """Return all events in [window start, now), sorted by time, tutor, type and session."""
    parts: list[tuple[IntArray, IntArray, IntArray, int]] = []
    n = sessions.start.size
    rows = np.arange(n, dtype=np.int64)

    parts.append((sessions.booked, sessions.tutor, rows, EV_SESSION_SCHEDULED))
    done = np.flatnonzero(sessions.status == ST_COMPLETED)
    parts.append((sessions.actual_end[done], sessions.tutor[done], done, EV_SESSION_COMPLETED))
    showed = np.flatnonzero(
        ((sessions.status == ST_COMPLETED) | (sessions.status == ST_STUDENT_NO_SHOW))
        & (rng.random(n) < PRE_SESSION_LOGIN_PROBABILITY)
    )
    login_t = sessions.start[showed] - rng.integers(5 * 60, 90 * 60, size=showed.size)
    parts.append((login_t, sessions.tutor[showed], np.full(showed.size, -1), EV_LOGIN))
    p_msg = np.where(sessions.is_first, MESSAGE_PROBABILITY[1], MESSAGE_PROBABILITY[0])
    msg = np.flatnonzero(rng.random(n) < p_msg)
    lo = sessions.booked[msg]
    hi = np.minimum(sessions.start[msg], now_ts)
    msg_t = lo + (rng.random(msg.size) * np.maximum(hi - lo, 0)).astype(np.int64)
    parts.append((msg_t, sessions.tutor[msg], np.full(msg.size, -1), EV_MESSAGE_SENT))

    for t, tutor, kind in _background(rng, pop, spans, offsets) + _onboarding(
        rng, spans, window_start_ts
    ):
        parts.append((t, tutor, np.full(t.size, -1), kind))

    time = np.concatenate([p[0] for p in parts])
    tutor = np.concatenate([p[1] for p in parts])
    session = np.concatenate([p[2] for p in parts])
    kinds = np.concatenate([np.full(p[0].size, p[3], dtype=np.int8) for p in parts])
    valid = (time >= window_start_ts) & (time < now_ts)
    valid &= (time >= spans.join_ts[tutor]) & (time < spans.end_ts[tutor])
    time, tutor, session, kinds = time[valid], tutor[valid], session[valid], kinds[valid]
    # Ties (same second, tutor and type) keep generation order, which is deterministic.
    order = sort_order(time, tutor, kinds)
    return EventColumns(
        time=time[order], tutor=tutor[order], kind=kinds[order], session=session[order]
    )
