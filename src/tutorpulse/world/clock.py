"""Time helpers: integer epoch seconds/days, IANA offsets by day, local-to-UTC conversion.

All simulation times are int64 seconds since the Unix epoch (UTC) and days are
int days since the epoch, so everything stays vectorised.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

DAY = 86_400
HOUR = 3_600
MINUTE = 60

# (IANA name, region) — regions drive student/tutor matching.
# Regions: 0 Americas, 1 Europe/Africa, 2 Asia-Pacific, 3 South Asia, 4 South-East Asia.
TIMEZONES: tuple[tuple[str, int], ...] = (
    ("America/New_York", 0),
    ("America/Chicago", 0),
    ("America/Denver", 0),
    ("America/Phoenix", 0),
    ("America/Los_Angeles", 0),
    ("America/Toronto", 0),
    ("Pacific/Honolulu", 0),
    ("Europe/London", 1),
    ("Europe/Berlin", 1),
    ("Africa/Lagos", 1),
    ("Asia/Kolkata", 3),
    ("Asia/Manila", 4),
    ("Asia/Singapore", 2),
    ("Australia/Sydney", 2),
)
TZ_NAMES: tuple[str, ...] = tuple(name for name, _ in TIMEZONES)
TZ_REGION = np.array([region for _, region in TIMEZONES], dtype=np.int8)

# Mixes (same order as TIMEZONES); students are mostly North American.
TUTOR_TZ_WEIGHTS = np.array(
    [0.26, 0.14, 0.05, 0.02, 0.11, 0.03, 0.005, 0.07, 0.03, 0.02, 0.14, 0.06, 0.015, 0.05]
)
STUDENT_TZ_WEIGHTS = np.array(
    [0.34, 0.19, 0.06, 0.03, 0.15, 0.04, 0.01, 0.06, 0.02, 0.005, 0.01, 0.005, 0.01, 0.05]
)


@dataclass(frozen=True)
class OffsetTable:
    """UTC offsets (seconds, at local noon) of every zone for a contiguous range of days."""

    first_day: int
    offsets: npt.NDArray[np.int32]  # shape (n_tz, n_days)

    def offset(self, tz: npt.NDArray[np.integer], day: npt.NDArray[np.integer]) -> npt.NDArray:
        idx = np.clip(day - self.first_day, 0, self.offsets.shape[1] - 1)
        return self.offsets[tz, idx]

    def local_to_utc(
        self,
        tz: npt.NDArray[np.integer],
        local_day: npt.NDArray[np.integer],
        local_seconds: npt.NDArray[np.integer],
    ) -> npt.NDArray[np.int64]:
        """Return UTC epoch seconds of a local wall time (day index + seconds after midnight)."""
        off = self.offset(tz, local_day).astype(np.int64)
        return local_day.astype(np.int64) * DAY + local_seconds.astype(np.int64) - off

    def utc_to_local_day(
        self, tz: npt.NDArray[np.integer], utc_seconds: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Return (local day index, local seconds after midnight) of UTC epoch seconds."""
        approx = utc_seconds + self.offset(tz, utc_seconds // DAY).astype(np.int64)
        # Second pass: the offset of the local day itself (differs across a DST change).
        local = utc_seconds + self.offset(tz, approx // DAY).astype(np.int64)
        return local // DAY, local % DAY


def build_offset_table(first_day: int, last_day: int) -> OffsetTable:
    """Compute each zone's UTC offset at local noon for days `first_day..last_day` inclusive."""
    n_days = last_day - first_day + 1
    table = np.zeros((len(TZ_NAMES), n_days), dtype=np.int32)
    epoch = datetime(1970, 1, 1)
    for k, name in enumerate(TZ_NAMES):
        zone = ZoneInfo(name)
        for j in range(n_days):
            local_noon = (epoch + timedelta(days=first_day + j, hours=12)).replace(tzinfo=zone)
            delta = local_noon.utcoffset()
            table[k, j] = int(delta.total_seconds()) if delta is not None else 0
    return OffsetTable(first_day=first_day, offsets=table)


def epoch_day(moment: datetime) -> int:
    """Return the UTC day index (days since 1970-01-01) containing `moment`."""
    return int(moment.astimezone(UTC).timestamp() // DAY)


def epoch_seconds(moment: datetime) -> int:
    return int(moment.astimezone(UTC).timestamp())


def day_to_date_str(day: int) -> str:
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=day)).date().isoformat()


def seconds_to_iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat()


def civil_from_days(
    days: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Vectorised proleptic-Gregorian (year, month, day) from epoch days (H. Hinnant)."""
    z = days + 719_468
    era = np.floor_divide(z, 146_097)
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = np.where(mp < 10, mp + 3, mp - 9)
    y = y + (m <= 2)
    return y, m, d


def day_of_week(days: npt.NDArray[np.integer]) -> npt.NDArray[np.int64]:
    """Monday=0 … Sunday=6 for epoch days (1970-01-01 was a Thursday)."""
    return (days.astype(np.int64) + 3) % 7


def day_of_year_fraction(days: npt.NDArray[np.integer]) -> npt.NDArray[np.float64]:
    """Approximate position in the year, 0..1 from 1 January."""
    y, _, _ = civil_from_days(days.astype(np.int64))
    jan1 = days_from_civil(y, np.ones_like(y), np.ones_like(y))
    return (days - jan1) / 365.25


def days_from_civil(
    y: npt.NDArray[np.int64], m: npt.NDArray[np.int64], d: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    y = y - (m <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    mp = np.where(m > 2, m - 3, m + 9)
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468
