"""Stored analytics results: the default view of each endpoint, computed by a job."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Float, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from tutorpulse.core.db import Base, UTCDateTime

__all__ = ["AnalyticsSnapshot", "HeatmapCube", "TrendCube"]


class AnalyticsSnapshot(Base):
    """One endpoint view's JSON result as of ``computed_at`` (written by ``analytics.warm``).

    Plain ``JSON`` (not JSONB) on PostgreSQL: the payload is only ever read whole, and
    JSON keeps the key order the API returns.
    """

    __tablename__ = "analytics_snapshot"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    payload: Mapped[Any] = mapped_column(JSON, nullable=False)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    compute_seconds: Mapped[float] = mapped_column(Float, nullable=False, default=0)


class TrendCube(Base):
    """One cell of the trend metrics' aggregates, as of the last ``analytics.warm``.

    ``field`` is ``''`` for the hour grain — cells by (local day, local hour, session
    subject) — or the cohort field of the cohort grain — cells by (local day, session
    subject, cohort value). Event cells have no subject. Each trend metric reads one to
    three of the counters (``trends_cube.COLUMNS``). The whole table is replaced
    in one transaction; ``analytics_snapshot['trends:cube']`` says when and what it covers.
    """

    __tablename__ = "trend_cube"
    __table_args__ = (Index("ix_trend_cube_field_source_day", "field", "source", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(8), nullable=False)
    field: Mapped[str] = mapped_column(String(20), nullable=False)
    day: Mapped[date] = mapped_column(Date, nullable=False)
    hour: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    subject: Mapped[str | None] = mapped_column(String(64), nullable=True)
    cohort: Mapped[str | None] = mapped_column(String(64), nullable=True)
    eng_sum: Mapped[float | None] = mapped_column(Float)
    eng_n: Mapped[float | None] = mapped_column(Float)
    eng_sq: Mapped[float | None] = mapped_column(Float)
    emp_sum: Mapped[float | None] = mapped_column(Float)
    emp_n: Mapped[float | None] = mapped_column(Float)
    emp_sq: Mapped[float | None] = mapped_column(Float)
    clar_sum: Mapped[float | None] = mapped_column(Float)
    clar_n: Mapped[float | None] = mapped_column(Float)
    clar_sq: Mapped[float | None] = mapped_column(Float)
    sat_sum: Mapped[float | None] = mapped_column(Float)
    sat_n: Mapped[float | None] = mapped_column(Float)
    sat_sq: Mapped[float | None] = mapped_column(Float)
    rat_sum: Mapped[float | None] = mapped_column(Float)
    rat_n: Mapped[float | None] = mapped_column(Float)
    rat_sq: Mapped[float | None] = mapped_column(Float)
    done_n: Mapped[float | None] = mapped_column(Float)
    due_n: Mapped[float | None] = mapped_column(Float)
    tutor_ns_n: Mapped[float | None] = mapped_column(Float)
    student_ns_n: Mapped[float | None] = mapped_column(Float)
    tutor_rs_n: Mapped[float | None] = mapped_column(Float)
    tech_hit_n: Mapped[float | None] = mapped_column(Float)
    tech_base_n: Mapped[float | None] = mapped_column(Float)
    login_n: Mapped[float | None] = mapped_column(Float)
    event_n: Mapped[float | None] = mapped_column(Float)


class HeatmapCube(Base):
    """Sums behind ``/api/analytics/heatmap`` per UTC hour and tutor-local (weekday, hour),
    as of the last ``analytics.warm``: for each metric type the sum of its value and
    the number of sessions it is defined on (``repository.HEATMAP_VALUES``).
    ``analytics_snapshot['heatmap:cube']`` records the span of whole UTC hours held."""

    __tablename__ = "heatmap_cube"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    utc_hour: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    weekday: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    hour: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    engagement_sum: Mapped[float | None] = mapped_column(Float)
    engagement_n: Mapped[float | None] = mapped_column(Float)
    quality_sum: Mapped[float | None] = mapped_column(Float)
    quality_n: Mapped[float | None] = mapped_column(Float)
    technical_sum: Mapped[float | None] = mapped_column(Float)
    technical_n: Mapped[float | None] = mapped_column(Float)
    no_show_sum: Mapped[float | None] = mapped_column(Float)
    no_show_n: Mapped[float | None] = mapped_column(Float)
