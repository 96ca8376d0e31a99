"""An in-process result cache for the trends analytics, keyed on a data-version probe.

An entry is reused while (a) the probe is unchanged — the newest tutor id, the
latest health snapshot time, where the recorded activity starts and the *day*
it ends — and (b) it is younger than the refresh interval
(``TUTORPULSE_ANALYTICS_CACHE_SECONDS``). So new tutors, a new health scoring
run and each new day show at once; other new or edited rows (today's sessions
and events, which a live system adds every few seconds and which would
otherwise defeat any cache) show within the refresh interval.
``ttl_seconds = 0`` disables the cache.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class TrendsCache:
    def __init__(
        self,
        ttl_seconds: float,
        max_entries: int = 256,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[float, Hashable, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_or_compute(self, key: Hashable, version: Hashable, compute: Callable[[], Any]) -> Any:
        """The cached value for ``key`` if fresh and of ``version``, else ``compute()``."""
        if self.ttl_seconds <= 0:
            return compute()
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[1] == version and now - entry[0] < self.ttl_seconds:
                self._entries.move_to_end(key)
                self.hits += 1
                return entry[2]
        value = compute()
        with self._lock:
            self.misses += 1
            self._entries[key] = (now, version, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
