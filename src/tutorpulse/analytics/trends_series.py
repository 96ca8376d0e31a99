"""Shared pieces of the trend analyses: the window of complete local days, a metric's
daily series from SQL cells, pooled averages and the trend summary."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy.orm import Session

from tutorpulse.analytics import timeseries as ts
from tutorpulse.analytics import trends_cube as cube
from tutorpulse.analytics import trends_repository as repo
from tutorpulse.analytics.common import parse_day, valid_zones
from tutorpulse.analytics.trends_retention import data_end
from tutorpulse.analytics.trends_schemas import MetricInfo, Period, TrendStats

ALPHA = 0.05
# Engines on which counter series read ``tutor_daily``. Measured on a 20k-tutor world
# (tutorNoShowRate): PostgreSQL 0.18 s vs 0.15 s raw for 30 days and 0.52 s vs 1.30 s
# for 365; SQLite 0.48 s vs 0.32 s and 5.3 s vs 3.5 s — its day-index look-ups into the
# 2.4M-row rollup cost more than the raw scan — so SQLite keeps the raw rows.
ROLLUP_ENGINES = frozenset({"postgresql"})
TREND_METHOD = "OLS of the daily value on the day index; Newey–West (HAC) standard errors"


# --- window ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    first_day: date | None
    last_day: date | None
    as_of: datetime | None
    days: int
    from_cube: bool = False  # cells summed from the stored trend cube (``trends_cube``)

    @property
    def dates(self) -> list[date]:
        if self.first_day is None or self.last_day is None or self.last_day < self.first_day:
            return []
        return [
            self.first_day + timedelta(days=i)
            for i in range((self.last_day - self.first_day).days + 1)
        ]


def complete_days(bounds: repo.DataBounds, zones: list[str], days: int, *, now: datetime) -> Window:
    """The last ``days`` local dates that are complete in every tutor time zone.

    A local day is complete when it has ended everywhere before the data ends and
    had begun everywhere after the data starts, so no edge day looks low only
    because part of it is missing.
    """
    end = data_end(bounds, now)
    if end is None or bounds.first is None:
        return Window(None, None, None, days)

    def offsets(at: datetime) -> list[timedelta]:
        found = [at.astimezone(ZoneInfo(z)).utcoffset() for z in valid_zones(zones)]
        return [o for o in found if o is not None] or [timedelta(0)]

    last_day = (end + min(offsets(end))).date() - timedelta(days=1)
    start = bounds.first.astimezone(UTC) + max(offsets(bounds.first))
    first_complete = start.date() + timedelta(days=0 if start.time() == datetime.min.time() else 1)
    first_day = max(last_day - timedelta(days=days - 1), first_complete)
    return Window(first_day, last_day, end, days)


# --- series helpers --------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    dates: list[date]
    values: list[float | None]
    n: list[int]
    num: float
    den: float
    sq: float


def build_series(spec: repo.MetricSpec, dates: list[date], cells: list[repo.Cell]) -> Series:
    index = {d: i for i, d in enumerate(dates)}
    num = np.zeros(len(dates))
    den = np.zeros(len(dates))
    sq = 0.0
    for c in cells:
        i = index.get(parse_day(c.day))
        if i is None:
            continue
        num[i] += c.num
        den[i] += c.den
        sq += c.sq or 0.0
    if spec.kind == "count":
        values: list[float | None] = [float(v) for v in num]
    else:
        values = [float(a / b) if b > 0 else None for a, b in zip(num, den, strict=True)]
    return Series(dates, values, [int(v) for v in den], float(num.sum()), float(den.sum()), sq)


def pooled_average(spec: repo.MetricSpec, s: Series) -> ts.Interval:
    """Pooled average: all sessions' values (mean), all sessions (rate), per day (count)."""
    if spec.kind == "mean":
        return ts.mean_interval(int(s.den), s.num, s.sq, alpha=ALPHA)
    if spec.kind == "rate":
        return ts.wilson_interval(s.num, int(s.den), alpha=ALPHA)
    daily = np.array([v for v in s.values if v is not None])
    return ts.mean_interval(int(daily.size), float(daily.sum()), float((daily**2).sum()))


def trend_stats(fit: ts.TrendFit, spec: repo.MetricSpec, mean: float | None) -> TrendStats:
    if fit.slope is None:
        text = f"Not enough days with data for a trend (n = {fit.n})."
    else:
        ci = f"{fit.ci_low:+.4g} to {fit.ci_high:+.4g}" if fit.ci_low is not None else "n/a"
        p = f"{fit.p_value:.3g}" if fit.p_value is not None else "n/a"
        text = (
            f"{fit.direction.capitalize()}: {fit.slope:+.4g} {spec.unit} per day "
            f"(95% CI {ci}, p = {p}; {fit.n} days, HAC lags {fit.hac_lags})."
        )
        if mean:
            change = fit.slope * (fit.n - 1) / mean * 100
            text += f" Over the window that is {change:+.1f}% of the average."
    return TrendStats(
        direction=fit.direction,
        slope=fit.slope,
        slope_ci_low=fit.ci_low,
        slope_ci_high=fit.ci_high,
        p_value=fit.p_value,
        intercept=fit.intercept,
        r_squared=fit.r_squared,
        confidence=fit.r_squared,
        n_observations=fit.n,
        hac_lags=fit.hac_lags,
        method=TREND_METHOD,
        summary=text,
    )


def metric_info(spec: repo.MetricSpec) -> MetricInfo:
    return MetricInfo(key=spec.key, label=spec.label, unit=spec.unit, kind=spec.kind)


def period_of(window: Window, spec: repo.MetricSpec) -> Period:
    return Period(
        days=window.days,
        metric_type=spec.key,
        first_day=window.first_day,
        last_day=window.last_day,
    )


def read_cells(
    db: Session,
    spec: repo.MetricSpec,
    zones: list[str],
    window: Window,
    tutor_pk: int | None,
    subject: str | None,
    **kwargs: Any,
) -> list[repo.Cell]:
    """The metric's cells over the window: from the stored trend cube when the window
    says so (all tutors only); else on PostgreSQL (``ROLLUP_ENGINES``) the counter
    metrics (``ROLLUP_COUNTERS``) come from ``tutor_daily`` when the rollups are current
    through the window's last day and neither hours, a session subject filter nor
    session-subject cohorts are asked for — the same numbers, one row per tutor-day
    instead of every session or event; otherwise from the raw rows."""
    if window.first_day is None or window.last_day is None or not window.dates:
        return []
    cohort = kwargs.get("cohort")
    if window.from_cube and tutor_pk is None:
        return cube.cells(
            db,
            metric=spec,
            first_day=window.first_day,
            last_day=window.last_day,
            subject=subject,
            by_hour=bool(kwargs.get("by_hour")),
            cohort=cohort,
        )
    if (
        db.get_bind().dialect.name in ROLLUP_ENGINES
        and spec.key in repo.ROLLUP_COUNTERS
        and subject is None
        and not kwargs.get("by_hour")
        and cohort != "sessionSubject"
        and repo.rollups_cover(db, through=window.last_day)
    ):
        return repo.rollup_cells(
            db,
            metric=spec,
            first_day=window.first_day,
            last_day=window.last_day,
            tutor_id=tutor_pk,
            cohort=cohort,
        )
    return repo.metric_cells(
        db,
        metric=spec,
        zones=zones,
        first_day=window.first_day,
        last_day=window.last_day,
        tutor_id=tutor_pk,
        subject=subject,
        **kwargs,
    )
