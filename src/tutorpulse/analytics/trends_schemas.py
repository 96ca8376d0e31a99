"""JSON shapes of ``GET /api/analytics/trends`` (camelCase through aliases).

The original's field names are kept (``analysisType``, ``period``, ``data[{date,
value, movingAverage}]``, ``trend{direction, slope, confidence, summary}``,
``anomalies``, ``summary{dataPoints, avgValue, …}``, ``insights{bestDay, worstDay,
variance}``, ``topPerformer``/``bottomPerformer``, ``summary{initialSize,
currentRetention, dataPoints}``); the evidence behind each number is added.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


def camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


class ApiModel(BaseModel):
    model_config = ConfigDict(alias_generator=camel, populate_by_name=True)


TrendType = Literal["engagement", "seasonal", "cohort", "retention"]


class MetricInfo(ApiModel):
    key: str
    label: str
    unit: str
    kind: Literal["mean", "rate", "count"] = Field(
        description="mean: average of per-session values; rate: share of sessions; "
        "count: rows per day."
    )


class Period(ApiModel):
    days: int
    metric_type: str | None = None
    first_day: date | None = None
    last_day: date | None = None
    calendar: str = "tutor local date"


class TrendStats(ApiModel):
    direction: str
    slope: float | None = Field(description="Change per day (metric units).")
    slope_ci_low: float | None
    slope_ci_high: float | None
    p_value: float | None
    intercept: float | None
    r_squared: float | None
    confidence: float | None = Field(description="R² of the fit (the original's field).")
    n_observations: int
    hac_lags: int
    method: str
    summary: str


class DataPoint(ApiModel):
    date: date
    value: float | None
    moving_average: float | None
    n: int = Field(description="Values behind the day's figure (sessions, ratings or rows).")
    expected: float | None = None


class AnomalyOut(ApiModel):
    date: date
    value: float
    expected: float
    expected_low: float
    expected_high: float
    score: float
    severity: Literal["high", "medium"]
    direction: Literal["above", "below"]


class AnomalyMethod(ApiModel):
    method: str
    threshold: float
    scale: float | None


class SeriesSummary(ApiModel):
    data_points: int
    avg_value: float | None
    avg_ci_low: float | None
    avg_ci_high: float | None
    min_value: float | None
    max_value: float | None
    trend: str
    anomaly_count: int
    sample_size: int


class EngagementTrends(ApiModel):
    analysis_type: Literal["engagement"] = "engagement"
    as_of: datetime | None
    period: Period
    metric: MetricInfo
    tutor_id: str | None
    subject: str | None
    data: list[DataPoint]
    trend: TrendStats
    anomalies: list[AnomalyOut]
    anomaly_method: AnomalyMethod
    summary: SeriesSummary


class ProfileBucket(ApiModel):
    key: int
    label: str
    value: float | None
    n: int
    days: int


class GroupTest(ApiModel):
    groups: int
    n: int
    unit: str
    kruskal_h: float | None
    p_value: float | None
    epsilon_squared: float | None
    anova_f: float | None
    anova_p: float | None
    eta_squared: float | None
    significant: bool | None


class DayInsight(ApiModel):
    day: int
    day_name: str
    value: float | None
    avg_engagement: float | None = Field(description="Same as value (the original's name).")


class SeasonalInsights(ApiModel):
    best_day: DayInsight | None
    worst_day: DayInsight | None
    variance: float | None = Field(description="Best minus worst day (the original's name).")
    days_differ: bool | None


class SeasonalTrends(ApiModel):
    analysis_type: Literal["seasonal"] = "seasonal"
    as_of: datetime | None
    period: Period
    metric: MetricInfo
    tutor_id: str | None
    subject: str | None
    day_of_week: list[ProfileBucket]
    hour_of_day: list[ProfileBucket]
    day_of_week_test: GroupTest
    hour_of_day_test: GroupTest
    insights: SeasonalInsights


class CohortSeries(ApiModel):
    cohort: str
    average: float | None
    ci_low: float | None
    ci_high: float | None
    sample_size: int
    trend: TrendStats
    data: list[DataPoint]


class CohortTrends(ApiModel):
    analysis_type: Literal["cohort"] = "cohort"
    as_of: datetime | None
    period: Period
    metric: MetricInfo
    cohort_field: str
    cohorts: list[CohortSeries]
    top_performer: str | None
    bottom_performer: str | None


class SurvivalPoint(ApiModel):
    day: float
    survival: float
    ci_low: float | None
    ci_high: float | None
    at_risk: int


class SurvivalAtDay(ApiModel):
    day: int
    survival: float | None
    ci_low: float | None
    ci_high: float | None


class SurvivalCurve(ApiModel):
    cohort: str
    size: int
    lost: int
    censored: int
    survival_at: list[SurvivalAtDay]
    median_days: float | None
    median_ci_low: float | None
    median_ci_high: float | None
    curve: list[SurvivalPoint]


class LogRankOut(ApiModel):
    statistic: float | None
    p_value: float | None
    degrees_of_freedom: int
    groups: int


class MatrixRowOut(ApiModel):
    cohort: str
    size: int
    cells: list[float | None] = Field(
        description="Share of the cohort's tutors active in each period, among those whose "
        "period has fully elapsed; null where none has (after the data ends)."
    )
    active: list[int]
    eligible: list[int]


class RetentionMatrix(ApiModel):
    period_days: int
    periods: int
    rows: list[MatrixRowOut]


class RetentionSummary(ApiModel):
    initial_size: int
    current_retention: float | None = Field(
        description="Kaplan–Meier survival of all cohorts at the horizon (days)."
    )
    data_points: int


class RetentionTrends(ApiModel):
    analysis_type: Literal["retention"] = "retention"
    as_of: datetime | None
    cohort_start_date: date | None
    horizon_days: int
    definition: str
    overall: SurvivalCurve | None
    cohorts: list[SurvivalCurve]
    log_rank: LogRankOut
    matrix: RetentionMatrix
    summary: RetentionSummary


TrendsResponse = EngagementTrends | SeasonalTrends | CohortTrends | RetentionTrends
