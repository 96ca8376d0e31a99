"""Breakdowns of a trend metric: weekday/hour profiles with tests, and per-cohort trends."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from tutorpulse.analytics import timeseries as ts
from tutorpulse.analytics import trends_repository as repo
from tutorpulse.analytics.common import parse_day
from tutorpulse.analytics.trends_schemas import (
    CohortSeries,
    CohortTrends,
    DataPoint,
    DayInsight,
    GroupTest,
    ProfileBucket,
    SeasonalInsights,
    SeasonalTrends,
)
from tutorpulse.analytics.trends_series import (
    ALPHA,
    Window,
    build_series,
    metric_info,
    period_of,
    pooled_average,
    read_cells,
    trend_stats,
)

if TYPE_CHECKING:
    from tutorpulse.analytics.trends_service import TrendParams

WEEKDAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


# --- seasonal --------------------------------------------------------------------------


def _sunday_first(d: date) -> int:
    return (d.weekday() + 1) % 7


# Rank tests see values rounded to this many decimals: a day's mean summed in another
# order (the trend cube adds per-subject sums) differs in the last bits, which would
# break ties between equal values and change the ranks.
TEST_DECIMALS = 9


def _group_test(groups: list[list[float]], unit: str) -> GroupTest:
    groups = [[round(v, TEST_DECIMALS) for v in g] for g in groups]
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


def seasonal(
    db: Session,
    params: TrendParams,
    spec: repo.MetricSpec,
    zones: list[str],
    window: Window,
    tutor_pk: int | None,
) -> SeasonalTrends:
    cells = read_cells(db, spec, zones, window, tutor_pk, params.subject, by_hour=True)
    dates = window.dates
    series = build_series(spec, dates, cells)
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
        period=period_of(window, spec),
        metric=metric_info(spec),
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


def cohort(
    db: Session,
    params: TrendParams,
    spec: repo.MetricSpec,
    zones: list[str],
    window: Window,
    tutor_pk: int | None,
) -> CohortTrends:
    field = params.cohort_field
    assert field is not None
    cells = read_cells(
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
        series = build_series(spec, window.dates, rows)
        avg = pooled_average(spec, series)
        fit = ts.ols_trend(series.values, alpha=ALPHA)
        out.append(
            CohortSeries(
                cohort=name,
                average=avg.mean,
                ci_low=avg.low,
                ci_high=avg.high,
                sample_size=int(series.num if spec.kind == "count" else series.den),
                trend=trend_stats(fit, spec, avg.mean),
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
        period=period_of(window, spec),
        metric=metric_info(spec),
        cohort_field=field,
        cohorts=out,
        top_performer=ranked[0].cohort if ranked else None,
        bottom_performer=ranked[-1].cohort if ranked else None,
    )
