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
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Literal

import numpy as np
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
    horizon = params.window_days
    period_days = MATRIX_PERIODS[params.matrix_period]
    periods = math.ceil(horizon / period_days)
    end = data_end(bounds, now)
    empty = RetentionTrends(
        as_of=end,
        cohort_start_date=params.cohort_start_date,
        horizon_days=horizon,
        definition=definition(inactivity_days),
        overall=None,
        cohorts=[],
        log_rank=LogRankOut(statistic=None, p_value=None, degrees_of_freedom=0, groups=0),
        matrix=RetentionMatrix(period_days=period_days, periods=periods, rows=[]),
        summary=RetentionSummary(initial_size=0, current_retention=None, data_points=0),
    )
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
    lost = labelled["churned"].to_numpy(dtype=bool)
    cohort = labelled["joined_on"].dt.strftime("%Y-%m").to_numpy()
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
    elapsed = np.array([(end.date() - d).days for d in life.joined_on])
    by_id = dict(zip(life.tutor_ids, cohort.tolist(), strict=True))
    eligible: Counter[tuple[str, int]] = Counter()
    for p in range(periods):
        done = elapsed >= (p + 1) * period_days
        for name, count in Counter(cohort[done].tolist()).items():
            eligible[(name, p)] = count
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
    active = {(c, p): n for c, p, n in cells}
    sizes = Counter(by_id.values())
    rows = survival.activity_matrix(names, sizes, periods, active, eligible)
    return RetentionTrends(
        as_of=end,
        cohort_start_date=start,
        horizon_days=horizon,
        definition=definition(inactivity_days) + (ROLLUP_NOTE if use_rollups else ""),
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
            initial_size=len(life.tutor_ids),
            current_retention=at_horizon.survival,
            data_points=len(overall_km.curve),
        ),
    )
