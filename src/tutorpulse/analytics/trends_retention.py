"""Retention (``type=retention``): Kaplan–Meier by join cohort and the activity matrix.

Cohorts are the tutors' join months (``joined_on``), from ``cohortStartDate``
(default: the first whole month of recorded activity, so no cohort's early
activity predates the data). A tutor is *lost* per the data contract
(DESIGN §6, ``analytics.churn_labels``): at ``churned_at`` when the status is
churned, otherwise at the last completed session or login when that is at
least ``churn_inactivity_days`` before the data ends; everyone else is still
active and censored at the data end. Durations are whole days since joining.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy.orm import Session

from tutorpulse.analytics import survival
from tutorpulse.analytics import trends_repository as repo
from tutorpulse.analytics.churn_labels import label_churn
from tutorpulse.analytics.trends_schemas import (
    LogRankOut,
    MatrixRowOut,
    RetentionMatrix,
    RetentionSummary,
    RetentionTrends,
    SurvivalAtDay,
    SurvivalCurve,
    SurvivalPoint,
)

if TYPE_CHECKING:
    from tutorpulse.analytics.trends_service import TrendParams

SURVIVAL_DAYS = (30, 60, 90, 180)
Source = Literal["auto", "raw", "rollups"]
ROLLUP_NOTE = (
    " Activity is read from the daily rollups (tutor_daily): the last completed session"
    " and the matrix periods count whole tutor-local days."
)
ALPHA = 0.05
MATRIX_PERIODS = {"week": 7, "month": 30}


def data_end(bounds: repo.DataBounds, now: datetime) -> datetime | None:
    """Where the data ends: ``now``, or the UTC midnight after the last record if earlier."""
    if bounds.last is None:
        return None
    last = bounds.last.astimezone(UTC)
    midnight = datetime.combine(last.date() + timedelta(days=1), datetime.min.time(), UTC)
    return min(now, midnight)


def definition(inactivity_days: int) -> str:
    return (
        "Lost: status churned (at churned_at), or no completed session and no login for "
        f"{inactivity_days} days before the data ends (lost at the last activity). "
        "Tutors still active are censored at the data end. Cohort: join month."
    )


def default_cohort_start(first: datetime) -> date:
    """The first day of the first month that lies wholly inside the recorded data."""
    day = first.date()
    if day.day == 1 and first.time() == datetime.min.time():
        return day
    nxt = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
    return nxt


def _curve(name: str, km: survival.KMResult, horizon: int) -> SurvivalCurve:
    return SurvivalCurve(
        cohort=name,
        size=km.n,
        lost=km.events,
        censored=km.censored,
        survival_at=[
            SurvivalAtDay(day=s.day, survival=s.survival, ci_low=s.ci_low, ci_high=s.ci_high)
            for s in km.at_days
        ],
        median_days=km.median,
        median_ci_low=km.median_ci_low,
        median_ci_high=km.median_ci_high,
        curve=[
            SurvivalPoint(
                day=p.day,
                survival=p.survival,
                ci_low=p.ci_low,
                ci_high=p.ci_high,
                at_risk=p.at_risk,
            )
            for p in km.curve
            if p.day <= horizon
        ],
    )


@dataclass(frozen=True)
class RetentionBase:
    """What a retention view is computed from, for one cohort start and matrix period:
    every tutor of the cohorts as (whole days to loss or censoring, lost, join month,
    days from joining to the data end), and the matrix's active tutors per
    (join date, period) for ``periods`` periods. The horizon only cuts curves and periods,
    so one base (stored by ``analytics.warm`` for ``MAX_BASE_DAYS``) serves any
    horizon up to it."""

    end: datetime
    start: date
    use_rollups: bool
    inactivity_days: int
    period_days: int
    periods: int
    durations: npt.NDArray[np.float64]
    lost: npt.NDArray[np.bool_]
    cohort: npt.NDArray[np.str_]
    elapsed: npt.NDArray[np.int64]
    cells: list[tuple[str, int, int]]

    def to_json(self) -> dict[str, Any]:
        names = sorted(set(self.cohort.tolist()))
        code = {n: i for i, n in enumerate(names)}
        return {
            "version": BASE_VERSION,
            "end": self.end.isoformat(),
            "start": self.start.isoformat(),
            "useRollups": self.use_rollups,
            "inactivityDays": self.inactivity_days,
            "periodDays": self.period_days,
            "periods": self.periods,
            "durations": [int(d) for d in self.durations],
            "lost": [int(x) for x in self.lost],
            "names": names,
            "cohort": [code[c] for c in self.cohort.tolist()],
            "elapsed": [int(e) for e in self.elapsed],
            "cells": [list(c) for c in self.cells],
        }

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> RetentionBase:
        names = np.asarray(payload["names"], dtype=str)
        codes = np.asarray(payload["cohort"], dtype=np.int64)
        return cls(
            end=datetime.fromisoformat(payload["end"]),
            start=date.fromisoformat(payload["start"]),
            use_rollups=bool(payload["useRollups"]),
            inactivity_days=int(payload["inactivityDays"]),
            period_days=int(payload["periodDays"]),
            periods=int(payload["periods"]),
            durations=np.asarray(payload["durations"], dtype=np.float64),
            lost=np.asarray(payload["lost"], dtype=bool),
            cohort=names[codes] if codes.size else np.asarray([], dtype=str),
            elapsed=np.asarray(payload["elapsed"], dtype=np.int64),
            cells=[(str(c), int(p), int(n)) for c, p, n in payload["cells"]],
        )


# The longest horizon a stored base covers (the API's maximum ``days``).
MAX_BASE_DAYS = 730
# The stored base's layout; a base stored in another layout is not used.
BASE_VERSION = 2


def base_key(matrix_period: str) -> str:
    return f"trends:retention-base:{matrix_period}"


def _empty(params: TrendParams, end: datetime | None, inactivity_days: int) -> RetentionTrends:
    horizon = params.window_days
    period_days = MATRIX_PERIODS[params.matrix_period]
    return RetentionTrends(
        as_of=end,
        cohort_start_date=params.cohort_start_date,
        horizon_days=horizon,
        definition=definition(inactivity_days),
        overall=None,
        cohorts=[],
        log_rank=LogRankOut(statistic=None, p_value=None, degrees_of_freedom=0, groups=0),
        matrix=RetentionMatrix(
            period_days=period_days, periods=math.ceil(horizon / period_days), rows=[]
        ),
        summary=RetentionSummary(initial_size=0, current_retention=None, data_points=0),
    )


def retention(
    db: Session,
    *,
    params: TrendParams,
    bounds: repo.DataBounds,
    now: datetime,
    inactivity_days: int,
    source: Source = "auto",
) -> RetentionTrends:
    """Kaplan–Meier by join month and the cohort × period matrix.

    ``source="auto"`` reads the engagement rollups when they are current up to the
    day before the data ends (``trends_repository.rollups_cover``), else the raw
    sessions and logins; ``raw`` / ``rollups`` force one.
    """
    periods = math.ceil(params.window_days / MATRIX_PERIODS[params.matrix_period])
    base = retention_base(
        db, params=params, bounds=bounds, now=now, inactivity_days=inactivity_days,
        source=source, periods=periods,
    )  # fmt: skip
    if isinstance(base, RetentionBase):
        return from_base(base, params)
    return base


def retention_base(
    db: Session,
    *,
    params: TrendParams,
    bounds: repo.DataBounds,
    now: datetime,
    inactivity_days: int,
    periods: int,
    source: Source = "auto",
) -> RetentionBase | RetentionTrends:
    """The base of ``params``' cohorts with ``periods`` matrix periods (its queries), or
    the empty view when there are no such cohorts."""
    end = data_end(bounds, now)
    empty = _empty(params, end, inactivity_days)
    if end is None or bounds.first is None:
        return empty
    start = params.cohort_start_date or default_cohort_start(bounds.first)
    joined_to = end.date() - timedelta(days=1)
    empty = empty.model_copy(update={"cohort_start_date": start})
    if joined_to < start:
        return empty
    use_rollups = source == "rollups" or (
        source == "auto" and repo.rollups_cover(db, through=end.date() - timedelta(days=1))
    )
    if use_rollups:
        life = repo.tutor_lifetimes_from_rollups(
            db, joined_from=start, joined_to=joined_to, until=end.date()
        )
    else:
        life = repo.tutor_lifetimes(db, joined_from=start, joined_to=joined_to, until=end)
    if not life.tutor_ids:
        return empty
    tutors = pd.DataFrame(
        {
            "tutor_id": life.tutor_ids,
            "joined_on": pd.to_datetime(pd.Series(life.joined_on)),
            "status": life.status,
            "churned_at": pd.to_datetime(pd.Series(life.churned_at, dtype=object), utc=True),
            "last_login_at": pd.to_datetime(pd.Series(life.last_login, dtype=object), utc=True),
        }
    )
    last_done = pd.DataFrame(
        {
            "tutor_id": life.tutor_ids,
            "last_completed": pd.to_datetime(
                pd.Series(life.last_completed, dtype=object), utc=True
            ),
        }
    )
    labelled = label_churn(tutors, last_done, now=end, inactivity_days=inactivity_days)
    joined = labelled["joined_on"].dt.tz_localize("UTC")
    durations = np.floor(
        (labelled["churn_time"] - joined).dt.total_seconds().to_numpy() / 86_400
    ).clip(min=0)
    period_days = MATRIX_PERIODS[params.matrix_period]
    if use_rollups:
        cells = repo.period_activity_from_rollups(
            db,
            joined_from=start,
            joined_to=joined_to,
            until=end.date(),
            period_days=period_days,
            periods=periods,
        )
    else:
        cells = repo.period_activity(
            db,
            joined_from=start,
            joined_to=joined_to,
            until=end,
            period_days=period_days,
            periods=periods,
        )
    return RetentionBase(
        end=end,
        start=start,
        use_rollups=use_rollups,
        inactivity_days=inactivity_days,
        period_days=period_days,
        periods=periods,
        durations=durations.astype(np.float64),
        lost=labelled["churned"].to_numpy(dtype=bool),
        cohort=labelled["joined_on"].dt.strftime("%Y-%m").to_numpy(dtype=str),
        elapsed=np.array([(end.date() - d).days for d in life.joined_on], dtype=np.int64),
        cells=cells,
    )


def from_base(base: RetentionBase, params: TrendParams) -> RetentionTrends:
    """The retention view for ``params``' horizon from ``base`` (whose periods must cover
    it): Kaplan–Meier per cohort and overall, the log-rank test and the matrix. A
    ``cohort_start_date`` at or after the base's start keeps the tutors who joined on
    or after it (the base's matrix counts are per join date, so that is exact)."""
    horizon = params.window_days
    period_days = base.period_days
    periods = math.ceil(horizon / period_days)
    assert periods <= base.periods
    start = params.cohort_start_date or base.start
    assert start >= base.start
    # joined on or after ``start``: at most (end − start) days before the data end
    keep = base.elapsed <= (base.end.date() - start).days
    durations, lost, cohort = base.durations[keep], base.lost[keep], base.cohort[keep]
    elapsed = base.elapsed[keep]
    names = sorted(set(cohort.tolist()))
    curves = []
    for name in names:
        mask = cohort == name
        km = survival.kaplan_meier(durations[mask], lost[mask], times=SURVIVAL_DAYS, alpha=ALPHA)
        curves.append(_curve(name, km, horizon))
    overall_km = survival.kaplan_meier(
        durations, lost, times=(*SURVIVAL_DAYS, horizon), alpha=ALPHA
    )
    at_horizon = overall_km.at_days[-1]
    overall_km = replace(overall_km, at_days=overall_km.at_days[:-1])
    test = survival.logrank(durations, cohort, lost)

    # Cohort x period matrix: only periods that have fully elapsed count.
    eligible: Counter[tuple[str, int]] = Counter()
    for p in range(periods):
        done = elapsed >= (p + 1) * period_days
        for name, count in Counter(cohort[done].tolist()).items():
            eligible[(name, p)] = count
    first = start.isoformat()
    active: Counter[tuple[str, int]] = Counter()
    for joined_on, p, n in base.cells:  # by join date: summed into join months
        if p < periods and joined_on >= first:
            active[(joined_on[:7], p)] += n
    sizes = Counter(cohort.tolist())
    rows = survival.activity_matrix(names, sizes, periods, active, eligible)
    return RetentionTrends(
        as_of=base.end,
        cohort_start_date=start,
        horizon_days=horizon,
        definition=definition(base.inactivity_days) + (ROLLUP_NOTE if base.use_rollups else ""),
        overall=_curve("all", overall_km, horizon),
        cohorts=curves,
        log_rank=LogRankOut(
            statistic=test.statistic,
            p_value=test.p_value,
            degrees_of_freedom=test.degrees_of_freedom,
            groups=test.groups,
        ),
        matrix=RetentionMatrix(
            period_days=period_days,
            periods=periods,
            rows=[
                MatrixRowOut(
                    cohort=r.cohort,
                    size=r.size,
                    cells=r.cells,
                    active=r.active,
                    eligible=r.eligible,
                )
                for r in rows
            ],
        ),
        summary=RetentionSummary(
            initial_size=int(durations.size),
            current_retention=at_horizon.survival,
            data_points=len(overall_km.curve),
        ),
    )
