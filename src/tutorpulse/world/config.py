"""Configuration and fixed vocabularies of the synthetic world."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

DEFAULT_TUTORS = 19_500
DEFAULT_DAYS = 180
REFERENCE_TUTORS = 100_000
REFERENCE_DAYS = 365

SUBJECTS: tuple[str, ...] = ("Math", "Science", "English", "History", "Test Prep", "Programming")
GRADE_LEVELS: tuple[str, ...] = ("elementary", "middle_school", "high_school", "college", "adult")
CERTIFICATION_LEVELS: tuple[str, ...] = ("basic", "advanced", "expert")
TUTOR_STATUSES: tuple[str, ...] = ("active", "paused", "churned")
SESSION_STATUSES: tuple[str, ...] = (
    "scheduled",
    "completed",
    "tutor_no_show",
    "student_no_show",
    "cancelled",
    "rescheduled",
)
INITIATORS: tuple[str, ...] = ("tutor", "student")
EVENT_TYPES: tuple[str, ...] = (
    "login",
    "session_scheduled",
    "session_completed",
    "profile_updated",
    "availability_updated",
    "message_sent",
    "training_completed",
    "opportunity_viewed",
)
SCHEDULED_MINUTES: tuple[int, ...] = (30, 60, 90)

# Status codes used internally (index into SESSION_STATUSES).
ST_SCHEDULED, ST_COMPLETED, ST_TUTOR_NO_SHOW, ST_STUDENT_NO_SHOW, ST_CANCELLED, ST_RESCHEDULED = (
    range(6)
)
# Initiator codes: 0 = none, 1 = tutor, 2 = student.
BY_NONE, BY_TUTOR, BY_STUDENT = 0, 1, 2


@dataclass(frozen=True)
class WorldConfig:
    """Everything that determines a generated world; equal configs give identical worlds.

    `now` must be timezone-aware; it is normalised to UTC. History covers
    `[now - days, now)`; sessions with status `scheduled` reach `future_days` past `now`.
    The tuning knobs below are the calibrated defaults (see docs/world.md).
    """

    tutors: int
    days: int
    seed: int
    now: datetime
    effects: bool = True
    future_days: int = 14
    burn_in_days: int = 28
    # Booking demand: new student needs per available tutor per day.
    demand_per_tutor_day: float = 0.0179
    # Ongoing pairings per tutor at the start of the simulation (steady-state stock).
    initial_pairings_per_tutor: float = 1.40
    # Churn: baseline daily hazard of the onset of disengagement (churn follows after a lag).
    baseline_churn_hazard: float = 0.00135
    churn_lag_days: tuple[int, int] = (14, 42)
    poor_first_session_hazard_ratio: float = 3.0
    poor_first_session_window_days: int = 60
    # Share of tutors in the table that joined during the window (rest joined before).
    new_tutor_share: float | None = None
    paused_share: float = 0.025
    anomaly_multiplier: float = 3.0
    trend_slope_per_day: float = -0.008
    replacement_window_days: int = 14

    def __post_init__(self) -> None:
        if self.tutors < 10:
            raise ValueError("tutors must be at least 10")
        if self.days < 14:
            raise ValueError("days must be at least 14")
        if self.now.tzinfo is None or self.now.utcoffset() is None:
            raise ValueError("now must be timezone-aware (UTC)")
        object.__setattr__(self, "now", self.now.astimezone(UTC))

    @property
    def window_start(self) -> datetime:
        return self.now - timedelta(days=self.days)


def default_now() -> datetime:
    """Return today at 00:00 UTC (the default end of history)."""
    today = datetime.now(UTC).date()
    return datetime(today.year, today.month, today.day, tzinfo=UTC)


def parse_now(value: str | None) -> datetime:
    """Parse `--now` (an ISO date or datetime); naive values are taken as UTC.

    Raises ValueError on an unparseable value.
    """
    if value is None or value == "":
        return default_now()
    text = value.strip().replace("Z", "+00:00")
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
