"""``/api/analytics/trends``: engagement series, seasonality, cohorts and retention.

Validates the parameters (each failure names its field), finds the window of
complete local days, reads aggregates through ``trends_repository`` and turns
them into evidence with ``timeseries`` / ``survival``. Never commits.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from tutorpulse.analytics import timeseries as ts
from tutorpulse.analytics import trends_repository as repo
from tutorpulse.analytics.common import parse_day, valid_zones
from tutorpulse.analytics.trends_cache import TrendsCache
from tutorpulse.analytics.trends_retention import MATRIX_PERIODS, data_end, retention
from tutorpulse.analytics.trends_schemas import (
    AnomalyMethod,
    AnomalyOut,
    CohortSeries,
    CohortTrends,
    DataPoint,
    DayInsight,
    EngagementTrends,
    GroupTest,
    MetricInfo,
    Period,
    ProfileBucket,
    SeasonalInsights,
    SeasonalTrends,
    SeriesSummary,
    TrendsResponse,
    TrendStats,
)
from tutorpulse.core.errors import Invalid, NotFound

TYPES = ("engagement", "seasonal", "cohort", "retention")
COHORT_FIELDS = (
    "primarySubject",
    "certificationLevel",
    "churnRiskLevel",
    "joinMonth",
    "sessionSubject",
)
DEFAULT_DAYS = 30
DEFAULT_RETENTION_DAYS = 180
MAX_DAYS = 730
MAX_MA_WINDOW = 90
ALPHA = 0.05
WEEKDAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
TREND_METHOD = "OLS of the daily value on the day index; Newey–West (HAC) standard errors"


@dataclass(frozen=True)
class TrendParams:
    type: str
    days: int | None = None
    metric: str = "engagement"
    ma_window: int = 7
    tutor_id: str | None = None
    subject: str | None = None
    cohort_field: str | None = None
    cohort_start_date: date | None = None
    anomaly_threshold: float = ts.DEFAULT_THRESHOLD
    matrix_period: str = "week"

    @property
    def window_days(self) -> int:
        if self.days is not None:
            return self.days
        return DEFAULT_RETENTION_DAYS if self.type == "retention" else DEFAULT_DAYS


def validate(params: TrendParams) -> repo.MetricSpec:
    """Check every parameter; raises ``Invalid`` naming the first bad field."""
    if params.type not in TYPES:
        raise Invalid.field("type", f"must be one of {', '.join(TYPES)}")
    if params.days is not None and not 1 <= params.days <= MAX_DAYS:
        raise Invalid.field("days", f"must be between 1 and {MAX_DAYS}")
    if not 1 <= params.ma_window <= MAX_MA_WINDOW:
        raise Invalid.field("maWindow", f"must be between 1 and {MAX_MA_WINDOW}")
    if not (0 < params.anomaly_threshold <= 20) or math.isnan(params.anomaly_threshold):
        raise Invalid.field("anomalyThreshold", "must be above 0 and at most 20")
    spec = repo.METRICS.get(params.metric)
    if spec is None:
        raise Invalid.field("metric", f"must be one of {', '.join(repo.METRICS)}")
    if params.subject is not None and spec.source != "session":
        raise Invalid.field("subject", "applies to session metrics only")
    if params.type == "cohort":
        if not params.cohort_field:
            raise Invalid.field("cohortField", "is required for type=cohort")
        if params.cohort_field not in COHORT_FIELDS:
            raise Invalid.field("cohortField", f"must be one of {', '.join(COHORT_FIELDS)}")
        if params.cohort_field == "sessionSubject" and spec.source != "session":
            raise Invalid.field("cohortField", "sessionSubject needs a session metric")
    if params.matrix_period not in MATRIX_PERIODS:
        raise Invalid.field("matrixPeriod", f"must be one of {', '.join(MATRIX_PERIODS)}")
    return spec


def get_trends(
    db: Session,
    *,
    params: TrendParams,
    now: datetime,
    inactivity_days: int,
    cache: TrendsCache | None = None,
    session_factory: Callable[[], Session] | None = None,
) -> TrendsResponse:
    """The analysis ``params.type`` asks for, as of the data recorded up to ``now``.

    With a ``cache``, results are reused within its refresh interval; with a
    ``session_factory`` too, an expired result is served while a background
    thread recomputes it in a session of its own (read-only, never committed).

    Raises ``Invalid`` (400) for a bad parameter and ``NotFound`` for an unknown tutor.
    """
    spec = validate(params)
    tutor_pk = None
    if params.tutor_id is not None and params.type != "retention":
        tutor_pk = repo.tutor_pk(db, external_id=params.tutor_id)
        if tutor_pk is None:
            raise NotFound(f"Tutor {params.tutor_id} not found")
    bounds = repo.data_bounds(db, now=now)

    def compute_with(session: Session) -> TrendsResponse:
        if params.type == "retention":
            return retention(
                session, params=params, bounds=bounds, now=now, inactivity_days=inactivity_days
            )
        zones = repo.distinct_zones(session)
        window = complete_days(bounds, zones, params.window_days, now=now)
        if params.type == "engagement":
            return _engagement(session, params, spec, zones, window, tutor_pk)
        if params.type == "seasonal":
            return _seasonal(session, params, spec, zones, window, tutor_pk)
        return _cohort(session, params, spec, zones, window, tutor_pk)

    if cache is None:
        return compute_with(db)
    end = data_end(bounds, now)
    version = (
        repo.data_version(db),
        bounds.first,
        end.date() if end else None,
        inactivity_days,
    )
    refresh = None
    if session_factory is not None:
        factory = session_factory

        def refresh_in_own_session() -> TrendsResponse:
            with factory() as own:
                return compute_with(own)

        refresh = refresh_in_own_session
    result: TrendsResponse = cache.get_or_compute(
        tuple(asdict(params).items()), version, lambda: compute_with(db), refresh
    )
    return result


# --- window ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    first_day: date | None
    last_day: date | None
    as_of: datetime | None
    days: int

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
    from zoneinfo import ZoneInfo

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


def _series(spec: repo.MetricSpec, dates: list[date], cells: list[repo.Cell]) -> Series:
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


def _average(spec: repo.MetricSpec, s: Series) -> ts.Interval:
    """Pooled average: all sessions' values (mean), all sessions (rate), per day (count)."""
    if spec.kind == "mean":
        return ts.mean_interval(int(s.den), s.num, s.sq, alpha=ALPHA)
    if spec.kind == "rate":
        return ts.wilson_interval(s.num, int(s.den), alpha=ALPHA)
    daily = np.array([v for v in s.values if v is not None])
    return ts.mean_interval(int(daily.size), float(daily.sum()), float((daily**2).sum()))


def _trend_out(fit: ts.TrendFit, spec: repo.MetricSpec, mean: float | None) -> TrendStats:
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


def _metric_info(spec: repo.MetricSpec) -> MetricInfo:
    return MetricInfo(key=spec.key, label=spec.label, unit=spec.unit, kind=spec.kind)


def _period(window: Window, spec: repo.MetricSpec) -> Period:
    return Period(
        days=window.days,
        metric_type=spec.key,
        first_day=window.first_day,
        last_day=window.last_day,
    )


def _cells(
    db: Session,
    spec: repo.MetricSpec,
    zones: list[str],
    window: Window,
    tutor_pk: int | None,
    subject: str | None,
    **kwargs: Any,
) -> list[repo.Cell]:
    if window.first_day is None or window.last_day is None or not window.dates:
        return []
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


# --- engagement ------------------------------------------------------------------------


def _engagement(
    db: Session,
    params: TrendParams,
    spec: repo.MetricSpec,
    zones: list[str],
    window: Window,
    tutor_pk: int | None,
) -> EngagementTrends:
    series = _series(spec, window.dates, _cells(db, spec, zones, window, tutor_pk, params.subject))
    ma = ts.moving_average(series.values, params.ma_window)
    avg = _average(spec, series)
    fit = ts.ols_trend(series.values, alpha=ALPHA)
    found = ts.detect_anomalies(series.values, threshold=params.anomaly_threshold)
    present = [v for v in series.values if v is not None]
    return EngagementTrends(
        as_of=window.as_of,
        period=_period(window, spec),
        metric=_metric_info(spec),
        tutor_id=params.tutor_id,
        subject=params.subject,
        data=[
            DataPoint(date=d, value=v, moving_average=m, n=n, expected=e)
            for d, v, m, n, e in zip(
                series.dates, series.values, ma, series.n, found.fitted, strict=True
            )
        ],
        trend=_trend_out(fit, spec, avg.mean),
        anomalies=[
            AnomalyOut(
                date=series.dates[a.index],
                value=a.value,
                expected=a.expected,
                expected_low=a.expected_low,
                expected_high=a.expected_high,
                score=a.score,
                severity=a.severity,
                direction=a.direction,
            )
            for a in found.anomalies
        ],
        anomaly_method=AnomalyMethod(
            method=found.method, threshold=found.threshold, scale=found.scale
        ),
        summary=SeriesSummary(
            data_points=len(present),
            avg_value=avg.mean,
            avg_ci_low=avg.low,
            avg_ci_high=avg.high,
            min_value=min(present) if present else None,
            max_value=max(present) if present else None,
            trend=fit.direction,
            anomaly_count=len(found.anomalies),
            sample_size=int(series.num if spec.kind == "count" else series.den),
        ),
    )


# --- seasonal --------------------------------------------------------------------------


def _sunday_first(d: date) -> int:
    return (d.weekday() + 1) % 7


def _group_test(groups: list[list[float]], unit: str) -> GroupTest:
    res = ts.profile_test(groups)
    return GroupTest(
        groups=res.groups,
        n=res.n,
        unit=unit,
        kruskal_h=res.kruskal_h,
        p_value=res.kruskal_p,
        epsilon_squared=res.epsilon_squared,
        anova_f=res.anova_f,
        anova_p=res.anova_p,
        eta_squared=res.eta_squared,
        significant=None if res.kruskal_p is None else res.kruskal_p < ALPHA,
    )


def _seasonal(
    db: Session,
    params: TrendParams,
    spec: repo.MetricSpec,
    zones: list[str],
    window: Window,
    tutor_pk: int | None,
) -> SeasonalTrends:
    cells = _cells(db, spec, zones, window, tutor_pk, params.subject, by_hour=True)
    dates = window.dates
    series = _series(spec, dates, cells)
    count = spec.kind == "count"
    # Weekday: pooled value per weekday, tested on the daily values.
    wd_num: dict[int, float] = defaultdict(float)
    wd_den: dict[int, float] = defaultdict(float)
    wd_days: dict[int, list[float]] = defaultdict(list)
    for d, v in zip(dates, series.values, strict=True):
        if v is not None:
            wd_days[_sunday_first(d)].append(v)
    hr_num: dict[int, float] = defaultdict(float)
    hr_den: dict[int, float] = defaultdict(float)
    hr_cells: dict[int, list[float]] = defaultdict(list)
    seen: set[tuple[date, int]] = set()
    for c in cells:
        d, h = parse_day(c.day), int(c.hour or 0)
        wd_num[_sunday_first(d)] += c.num
        wd_den[_sunday_first(d)] += c.den
        hr_num[h] += c.num
        hr_den[h] += c.den
        seen.add((d, h))
        if count:
            hr_cells[h].append(c.num)
        elif c.den > 0:
            hr_cells[h].append(c.num / c.den)
    if count:  # an hour without rows on a day is a real zero
        for d in dates:
            for h in range(24):
                if (d, h) not in seen:
                    hr_cells[h].append(0.0)
    n_days = {k: sum(1 for d in dates if _sunday_first(d) == k) for k in range(7)}

    def pooled(num: float, den: float, days: int) -> float | None:
        if count:
            return num / days if days else None
        return num / den if den > 0 else None

    weekdays = [
        ProfileBucket(
            key=k,
            label=WEEKDAYS[k],
            value=pooled(wd_num[k], wd_den[k], n_days[k]),
            n=int(wd_den[k]),
            days=len(wd_days[k]),
        )
        for k in range(7)
    ]
    hours = [
        ProfileBucket(
            key=h,
            label=f"{h:02d}:00",
            value=pooled(hr_num[h], hr_den[h], len(dates)),
            n=int(hr_den[h]),
            days=len(hr_cells[h]),
        )
        for h in range(24)
    ]
    day_test = _group_test([wd_days[k] for k in range(7)], "days")
    hour_test = _group_test([hr_cells[h] for h in range(24)], "day × hour cells")
    valued = [b for b in weekdays if b.value is not None]
    best = max(valued, key=lambda b: b.value or 0.0) if valued else None
    worst = min(valued, key=lambda b: b.value or 0.0) if valued else None

    def insight(b: ProfileBucket | None) -> DayInsight | None:
        if b is None:
            return None
        return DayInsight(day=b.key, day_name=b.label, value=b.value, avg_engagement=b.value)

    return SeasonalTrends(
        as_of=window.as_of,
        period=_period(window, spec),
        metric=_metric_info(spec),
        tutor_id=params.tutor_id,
        subject=params.subject,
        day_of_week=weekdays,
        hour_of_day=hours,
        day_of_week_test=day_test,
        hour_of_day_test=hour_test,
        insights=SeasonalInsights(
            best_day=insight(best),
            worst_day=insight(worst),
            variance=(best.value - worst.value)
            if best and worst and best.value is not None and worst.value is not None
            else None,
            days_differ=day_test.significant,
        ),
    )


# --- cohorts ---------------------------------------------------------------------------


def _cohort(
    db: Session,
    params: TrendParams,
    spec: repo.MetricSpec,
    zones: list[str],
    window: Window,
    tutor_pk: int | None,
) -> CohortTrends:
    field = params.cohort_field
    assert field is not None
    cells = _cells(
        db,
        spec,
        zones,
        window,
        tutor_pk,
        params.subject,
        cohort=field,  # validated against COHORT_FIELDS
    )
    by_cohort: dict[str, list[repo.Cell]] = defaultdict(list)
    for c in cells:
        by_cohort[c.cohort or "unknown"].append(c)
    out = []
    for name, rows in by_cohort.items():
        series = _series(spec, window.dates, rows)
        avg = _average(spec, series)
        fit = ts.ols_trend(series.values, alpha=ALPHA)
        out.append(
            CohortSeries(
                cohort=name,
                average=avg.mean,
                ci_low=avg.low,
                ci_high=avg.high,
                sample_size=int(series.num if spec.kind == "count" else series.den),
                trend=_trend_out(fit, spec, avg.mean),
                data=[
                    DataPoint(date=d, value=v, moving_average=m, n=n)
                    for d, v, m, n in zip(
                        series.dates,
                        series.values,
                        ts.moving_average(series.values, params.ma_window),
                        series.n,
                        strict=True,
                    )
                ],
            )
        )
    out.sort(key=lambda c: (c.average is None, -(c.average or 0.0), c.cohort))
    ranked = [c for c in out if c.average is not None]
    return CohortTrends(
        as_of=window.as_of,
        period=_period(window, spec),
        metric=_metric_info(spec),
        cohort_field=field,
        cohorts=out,
        top_performer=ranked[0].cohort if ranked else None,
        bottom_performer=ranked[-1].cohort if ranked else None,
    )
