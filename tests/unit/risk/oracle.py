"""Oracles built from a world's truth.json (test support)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from tutorpulse.risk.frames import DAY, Frames
from tutorpulse.world.churn import churn_probability_within, tenure_factor


def _epoch(values: pd.Series) -> npt.NDArray[np.float64]:
    x = pd.to_datetime(values, utc=True)
    return np.asarray((x - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1), dtype=float)


def truth_table(truth: dict[str, Any], tutor_ids: npt.NDArray[np.int64]) -> pd.DataFrame:
    ids = list(truth["tutors"])
    table = pd.DataFrame.from_dict(truth["tutors"], orient="index")
    table.index = pd.Index([i + 1 for i in range(len(ids))])
    return table.reindex(tutor_ids)


def churn_hazard_oracle(
    frames: Frames, truth: dict[str, Any], rows: pd.DataFrame, cutoff: int, horizon_days: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(hazard oracle, latent-state oracle) probabilities for ``rows`` at ``cutoff``.

    Hazard oracle: the planted daily onset hazard at the cutoff (static trait hazard ×
    tenure factor × first-session hazard ratio if a failed first session happened in
    the window), turned into P(churn within the horizon) with the planted lag.
    Latent-state oracle: additionally knows whether the tutor had already started to
    disengage (truth's ``disengaged_on``) and uses the lag distribution for them.
    """
    model = truth["churn"]["model"]
    tt = truth_table(truth, rows["tutor_id"].to_numpy())
    joined = frames.tutors.set_index("tutor_id")["joined_ts"].reindex(rows["tutor_id"]).to_numpy()
    h = tt["churn_hazard_static"].to_numpy() * tenure_factor((cutoff - joined) / DAY)
    window = truth["churn"]["poor_first_session"]["window_days"]
    s = frames.sessions
    failed = s[
        s["is_first"]
        & ((s["status"] == "tutor_no_show") | ((s["status"] == "completed") & (s["rating"] <= 2)))
        & (s["start_ts"] < cutoff)
        & (s["start_ts"] >= cutoff - window * DAY)
    ]
    recent = np.isin(rows["tutor_id"].to_numpy(), failed["tutor_id"].unique())
    h = h * np.where(recent, truth["churn"]["poor_first_session"]["hazard_ratio"], 1.0)
    lag = tuple(model["lag_days"])
    hazard = churn_probability_within(h, horizon_days, lag)  # type: ignore[arg-type]

    onset = _epoch(tt["disengaged_on"])
    dis = np.isfinite(onset) & (onset < cutoff)
    elapsed = np.where(dis, (cutoff - onset) / DAY, 0.0)
    lags = np.arange(lag[0], lag[1] + 1, dtype=float)
    alive = lags[None, :] > elapsed[:, None]
    soon = alive & (lags[None, :] <= elapsed[:, None] + horizon_days)
    p_dis = soon.sum(axis=1) / np.maximum(alive.sum(axis=1), 1)
    state = np.where(dis, p_dis, hazard)
    return hazard, state


def noshow_oracle(truth: dict[str, Any], rows: pd.DataFrame) -> npt.NDArray[np.float64]:
    """The planted per-session no-show probability: tutor propensity × disengagement ×
    odd-hour × anomaly-week multipliers."""
    model = truth["no_show"]["model"]
    tt = truth_table(truth, rows["tutor_id"].to_numpy())
    start = rows["start_ts"].to_numpy()
    onset = _epoch(tt["disengaged_on"])
    dis = np.isfinite(onset) & (start >= onset)
    p = tt["no_show_propensity"].to_numpy() * np.where(dis, model["disengaged_multiplier"], 1.0)
    p = p * np.where(rows["odd_hour"].to_numpy() > 0, model["odd_hour_multiplier"], 1.0)
    anomaly = truth.get("anomaly")
    if anomaly:
        a0 = _epoch(pd.Series([anomaly["start"]]))[0]
        a1 = _epoch(pd.Series([anomaly["end_exclusive"]]))[0]
        p = p * np.where((start >= a0) & (start < a1), model["anomaly_multiplier"], 1.0)
    return np.asarray(p)
