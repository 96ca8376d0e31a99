"""Sending policy, pure: retry backoff, quiet hours, the frequency cap and a rate limiter.

Nothing here touches the database or the network; the outbox asks these
functions when a message may go out and defers it (never drops it) otherwise.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from datetime import time as dtime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MAX_BACKOFF = timedelta(days=1)


def backoff_delay(attempts: int, *, base_seconds: float) -> timedelta:
    """Wait before retry number ``attempts`` (1 = after the first failure): base·2^(attempts−1),
    at most a day."""
    exponent = max(0, attempts - 1)
    seconds = base_seconds * (2 ** min(exponent, 30))
    return min(timedelta(seconds=seconds), MAX_BACKOFF)


def tutor_zone(name: str | None) -> ZoneInfo:
    """The tutor's IANA zone; UTC when it is missing or unknown."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def in_quiet_hours(local_hour: int, *, start: int, end: int) -> bool:
    """Whether ``local_hour`` falls in [start, end) (wrapping midnight); start == end: never."""
    if start == end:
        return False
    if start < end:
        return start <= local_hour < end
    return local_hour >= start or local_hour < end


def quiet_hours_end(now: datetime, *, zone: str | None, start: int, end: int) -> datetime | None:
    """When quiet hours are over, if ``now`` is in the tutor's quiet hours; else None.

    Quiet hours are in the tutor's local time (``zone``): with start 21 and end 8
    nothing goes out from 21:00 to 07:59 local; a message due at 23:00 waits
    until 08:00 the next local morning. The answer is UTC-aware like ``now``.
    """
    tz = tutor_zone(zone)
    local = now.astimezone(tz)
    if not in_quiet_hours(local.hour, start=start, end=end):
        return None
    resume = datetime.combine(local.date(), dtime(hour=end), tzinfo=tz)
    if resume <= local:
        resume = datetime.combine(local.date() + timedelta(days=1), dtime(hour=end), tzinfo=tz)
    return resume.astimezone(now.tzinfo)


def frequency_cap_until(
    now: datetime,
    *,
    recent_sends: Sequence[datetime],
    in_flight: int,
    cap: int,
    window: timedelta,
    recheck: timedelta,
) -> datetime | None:
    """When the tutor may get another message under "at most ``cap`` per ``window``"; None if now.

    ``recent_sends`` are the send times inside the window, newest first. The
    next slot opens when the ``cap``-th newest send leaves the window. Messages
    another worker is sending right now count too; when they are what fills
    the cap, look again after ``recheck``. ``cap`` 0 means no cap.
    """
    if cap <= 0:
        return None
    sends = [t for t in recent_sends if t > now - window]
    if len(sends) + in_flight < cap:
        return None
    if len(sends) >= cap:
        return sends[cap - 1] + window
    return now + recheck


class TokenBucket:
    """Allows ``rate`` sends per second on average, bursts of up to ``capacity``.

    ``acquire`` blocks (sleeps) until a token is free. Thread-safe. ``rate`` 0
    means unlimited. ``monotonic`` and ``sleep`` are injectable for tests.
    """

    def __init__(
        self,
        rate: float,
        *,
        capacity: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = rate
        self.capacity = capacity if capacity is not None else max(1.0, rate)
        self._tokens = self.capacity
        self._monotonic = monotonic
        self._sleep = sleep
        self._updated = monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token; returns the seconds spent waiting."""
        if self.rate <= 0:
            return 0.0
        waited = 0.0
        with self._lock:
            while True:
                now = self._monotonic()
                self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
                self._updated = now
                # The tolerance absorbs float rounding of the refill (0.1 s × 10/s may
                # come out as 0.9999999999999998 tokens).
                if self._tokens >= 1 - 1e-9:
                    self._tokens = max(0.0, self._tokens - 1)
                    return waited
                pause = max((1 - self._tokens) / self.rate, 1e-6)
                self._sleep(pause)
                waited += pause


_BUCKETS: dict[tuple[str, float], TokenBucket] = {}
_BUCKETS_LOCK = threading.Lock()


def bucket_for(transport_name: str, rate: float) -> TokenBucket:
    """The process-wide bucket of a transport (shared by every worker thread of this process)."""
    with _BUCKETS_LOCK:
        key = (transport_name, rate)
        if key not in _BUCKETS:
            _BUCKETS[key] = TokenBucket(rate)
        return _BUCKETS[key]
