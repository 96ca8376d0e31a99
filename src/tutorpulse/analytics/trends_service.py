"""``/api/analytics/trends``: engagement series, seasonality, cohorts and retention.

Validates the parameters (each failure names its field), finds the window of
complete local days, reads aggregates through ``trends_repository`` and turns
them into evidence with ``timeseries`` / ``survival``. Never commits.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime

from sqlalchemy.orm import Session

from tutorpulse.analytics import snapshot_repository, snapshots
from tutorpulse.analytics import timeseries as ts
from tutorpulse.analytics import trends_breakdowns as breakdowns
from tutorpulse.analytics import trends_cube as cube
from tutorpulse.analytics import trends_repository as repo
from tutorpulse.analytics import trends_series as tss
from tutorpulse.analytics.trends_cache import TrendsCache
from tutorpulse.analytics.trends_metrics import METRICS, MetricSpec
from tutorpulse.analytics.trends_retention import (
    BASE_VERSION,
    MATRIX_PERIODS,
    MAX_BASE_DAYS,
    RetentionBase,
    base_key,
    data_end,
    from_base,
    retention,
    retention_base,
)
from tutorpulse.analytics.trends_schemas import (
    AnomalyMethod,
    AnomalyOut,
    CohortTrends,
    DataPoint,
    EngagementTrends,
    RetentionTrends,
    SeasonalTrends,
    SeriesSummary,
    TrendsResponse,
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


def validate(params: TrendParams) -> MetricSpec:
    """Check every parameter; raises ``Invalid`` naming the first bad field."""
    if params.type not in TYPES:
        raise Invalid.field("type", f"must be one of {', '.join(TYPES)}")
    if params.days is not None and not 1 <= params.days <= MAX_DAYS:
        raise Invalid.field("days", f"must be between 1 and {MAX_DAYS}")
    if not 1 <= params.ma_window <= MAX_MA_WINDOW:
        raise Invalid.field("maWindow", f"must be between 1 and {MAX_MA_WINDOW}")
    if not (0 < params.anomaly_threshold <= 20) or math.isnan(params.anomaly_threshold):
        raise Invalid.field("anomalyThreshold", "must be above 0 and at most 20")
    spec = METRICS.get(params.metric)
    if spec is None:
        raise Invalid.field("metric", f"must be one of {', '.join(METRICS)}")
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


# The views the API (no parameters but type; cohorts by primarySubject, the pages'
# default) and the Trends page (90 days) ask for by default. The ``analytics.warm`` job
# stores them; requests for them are served from the stored result while it is fresh
# (``snapshots``). Other engagement/seasonal/cohort views come from the trend cube,
# other retention horizons (the Retention page's) from the stored retention bases.
RETENTION_HORIZONS = (90, 180, 365)
STORED_VIEWS: tuple[TrendParams, ...] = (
    *(
        TrendParams(type=t, days=d, cohort_field="primarySubject" if t == "cohort" else None)
        for d in (DEFAULT_DAYS, 90)
        for t in ("engagement", "seasonal", "cohort")
    ),
    TrendParams(type="retention", days=DEFAULT_RETENTION_DAYS),
)
_RESPONSES: dict[str, type[TrendsResponse]] = {
    "engagement": EngagementTrends,
    "seasonal": SeasonalTrends,
    "cohort": CohortTrends,
    "retention": RetentionTrends,
}


def stored_key(params: TrendParams) -> str | None:
    """The snapshot key of ``params`` if it is one of ``STORED_VIEWS``, else None."""
    canonical = replace(params, days=params.window_days)
    if canonical not in STORED_VIEWS:
        return None
    key = f"trends:{params.type}:{params.window_days}:{params.cohort_field or '-'}"
    return key if params.matrix_period == "week" else f"{key}:{params.matrix_period}"


def encode(result: TrendsResponse) -> dict[str, object]:
    """The JSON the API sends for ``result`` (what a snapshot stores)."""
    return result.model_dump(mode="json", by_alias=True)


def decode(payload: dict[str, object]) -> TrendsResponse:
    return _RESPONSES[str(payload["analysisType"])].model_validate(payload)


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

    With a ``cache``, the default views (``STORED_VIEWS``) are served from the results
    ``analytics.warm`` stored, while those are at most two refresh intervals old;
    other all-tutor views of up to ``CUBE_DAYS`` days are computed from the stored
    trend cube on the same terms (``trends_cube``: the window that ended when it was
    built); other results are reused within the refresh interval; with a
    ``session_factory`` too, an expired result is served while a background
    thread recomputes it in a session of its own (read-only, never committed).

    Raises ``Invalid`` (400) for a bad parameter and ``NotFound`` for an unknown tutor.
    """
    spec = validate(params)
    if cache is not None and (key := stored_key(params)) is not None:
        hit = snapshots.served(
            db, key, now=now, refresh_seconds=int(cache.ttl_seconds), decode=decode
        )
        if hit is not None:
            return hit
    if (
        cache is not None
        and params.type == "retention"
        and (served := _from_stored_base(db, params, now, inactivity_days, cache)) is not None
    ):
        return served
    if (
        cache is not None
        and params.tutor_id is None
        and params.type != "retention"
        and params.window_days <= cube.CUBE_DAYS
        and (info := cube.fresh(db, now=now, refresh_seconds=int(cache.ttl_seconds))) is not None
    ):
        window = replace(
            tss.complete_days(info.bounds, info.zones, params.window_days, now=info.now),
            from_cube=True,
        )
        if info.covers(window.first_day, window.last_day):
            result: TrendsResponse = cache.get_or_compute(
                ("cube", *asdict(params).items()),
                info.now,
                lambda: _analyse(db, params, spec, info.zones, window, None),
            )
            return result
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
        window = tss.complete_days(bounds, zones, params.window_days, now=now)
        return _analyse(session, params, spec, zones, window, tutor_pk)

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
    computed: TrendsResponse = cache.get_or_compute(
        tuple(asdict(params).items()), version, lambda: compute_with(db), refresh
    )
    return computed


def base_view(
    settings_inactivity_days: int, now: datetime, matrix_period: str
) -> Callable[[Session], dict[str, object]]:
    """``analytics.warm``'s view storing the retention base of ``matrix_period`` (default
    cohort start, ``MAX_BASE_DAYS`` of periods)."""

    def view(db: Session) -> dict[str, object]:
        params = TrendParams(type="retention", days=MAX_BASE_DAYS, matrix_period=matrix_period)
        base = retention_base(
            db, params=params, bounds=repo.data_bounds(db, now=now), now=now,
            inactivity_days=settings_inactivity_days,
            periods=math.ceil(MAX_BASE_DAYS / MATRIX_PERIODS[matrix_period]),
        )  # fmt: skip
        return base.to_json() if isinstance(base, RetentionBase) else {"empty": True}

    return view


def _from_stored_base(
    db: Session, params: TrendParams, now: datetime, inactivity_days: int, cache: TrendsCache
) -> TrendsResponse | None:
    """A retention view with any horizon up to ``MAX_BASE_DAYS`` and the default cohort
    start or a later one, from the base ``analytics.warm`` stored while it is fresh."""
    start = params.cohort_start_date
    if params.window_days > MAX_BASE_DAYS:
        return None
    key = base_key(params.matrix_period)
    at = snapshot_repository.computed_at(db, key)
    if at is None or not snapshots.is_fresh(at, now=now, refresh_seconds=int(cache.ttl_seconds)):
        return None

    def compute() -> TrendsResponse:
        found = snapshot_repository.load(db, key)  # ~2 MB of JSON at 100k tutors
        if found is None or found[1].get("version") != BASE_VERSION:
            raise _NoBase  # none, empty, or stored in an older layout
        base = RetentionBase.from_json(found[1])
        if base.inactivity_days != inactivity_days or (start is not None and start < base.start):
            raise _NoBase
        if start is not None and not (base.elapsed <= (base.end.date() - start).days).any():
            raise _NoBase  # nobody joined since: the raw path gives the empty view
        return from_base(base, params)

    try:
        result: TrendsResponse = cache.get_or_compute(
            ("retention-base", *asdict(params).items()), at, compute
        )
    except _NoBase:
        return None
    return result


class _NoBase(Exception):
    """The stored retention base is empty or was built with other settings."""


def _analyse(
    db: Session,
    params: TrendParams,
    spec: MetricSpec,
    zones: list[str],
    window: tss.Window,
    tutor_pk: int | None,
) -> TrendsResponse:
    if params.type == "engagement":
        return _engagement(db, params, spec, zones, window, tutor_pk)
    if params.type == "seasonal":
        return breakdowns.seasonal(db, params, spec, zones, window, tutor_pk)
    return breakdowns.cohort(db, params, spec, zones, window, tutor_pk)


# --- engagement ------------------------------------------------------------------------


def _engagement(
    db: Session,
    params: TrendParams,
    spec: repo.MetricSpec,
    zones: list[str],
    window: tss.Window,
    tutor_pk: int | None,
) -> EngagementTrends:
    series = tss.build_series(
        spec, window.dates, tss.read_cells(db, spec, zones, window, tutor_pk, params.subject)
    )
    ma = ts.moving_average(series.values, params.ma_window)
    avg = tss.pooled_average(spec, series)
    fit = ts.ols_trend(series.values, alpha=ALPHA)
    found = ts.detect_anomalies(series.values, threshold=params.anomaly_threshold)
    present = [v for v in series.values if v is not None]
    return EngagementTrends(
        as_of=window.as_of,
        period=tss.period_of(window, spec),
        metric=tss.metric_info(spec),
        tutor_id=params.tutor_id,
        subject=params.subject,
        data=[
            DataPoint(date=d, value=v, moving_average=m, n=n, expected=e)
            for d, v, m, n, e in zip(
                series.dates, series.values, ma, series.n, found.fitted, strict=True
            )
        ],
        trend=tss.trend_stats(fit, spec, avg.mean),
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
