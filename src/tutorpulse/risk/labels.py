"""Churn labels by the data contract's definition (DESIGN §6), and who is at risk.

A tutor is *churned at time t* when their status is churned with ``churned_at <= t``,
or when they had no login and no completed session in ``[t - inactivity, t)``
(having joined at least ``inactivity`` days before t).

At a cutoff c the *population* is every tutor who had joined, had not explicitly
churned and was not inactive for ``inactivity`` days; the *label* says whether the
tutor is churned at ``c + horizon``. It needs data up to ``c + horizon`` only, so
no label is censored as long as ``c + horizon <= end of data``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from tutorpulse.risk.frames import DAY, Frames


def at_risk_mask(features: pd.DataFrame, inactivity_days: int) -> npt.NDArray[np.bool_]:
    """Rows of ``compute_tutor_features`` output not already churned by inactivity."""
    return np.asarray(features["inactive_days"].to_numpy() < inactivity_days)


def churn_labels(
    frames: Frames,
    tutor_ids: npt.NDArray[np.int64],
    *,
    cutoff: int,
    horizon_days: int,
    inactivity_days: int,
) -> npt.NDArray[np.int8]:
    """1 if the tutor is churned at ``cutoff + horizon`` (see module doc), else 0.

    Raises ValueError when the horizon reaches past the observed history.
    """
    until = cutoff + horizon_days * DAY
    if until > frames.end_ts:
        raise ValueError("the label window ends after the observed history")
    index = pd.Index(tutor_ids)
    n = len(index)
    tutors = frames.tutors.set_index("tutor_id").reindex(index)
    explicit = tutors["churned_ts"].to_numpy() < until

    quiet_from = until - inactivity_days * DAY
    active = np.zeros(n, dtype=bool)
    ev = frames.events
    ets = ev["ts"].to_numpy()
    sel = (ev["event_type"].to_numpy() == "login") & (ets >= quiet_from) & (ets < until)
    pos = index.get_indexer(ev["tutor_id"].to_numpy()[sel])
    active[pos[pos >= 0]] = True
    ss = frames.sessions
    sts = ss["start_ts"].to_numpy()
    sel = (ss["status"].to_numpy() == "completed") & (sts >= quiet_from) & (sts < until)
    pos = index.get_indexer(ss["tutor_id"].to_numpy()[sel])
    active[pos[pos >= 0]] = True
    old_enough = tutors["joined_ts"].to_numpy() <= quiet_from
    inactive = ~active & old_enough
    return (explicit | inactive).astype(np.int8)


def month_cutoffs(
    *, start_ts: int, end_ts: int, horizon_days: int, step_days: int, warmup_days: int
) -> list[int]:
    """Cutoffs (UTC midnights), newest last, spaced ``step_days`` apart, whose label window
    ``[c, c + horizon)`` ends by ``end_ts`` and that leave ``warmup_days`` of history."""
    last = ((end_ts - horizon_days * DAY) // DAY) * DAY
    first = start_ts + warmup_days * DAY
    cutoffs = []
    c = last
    while c >= first:
        cutoffs.append(int(c))
        c -= step_days * DAY
    return sorted(cutoffs)
