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

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

log = logging.getLogger(__name__)


class TrendsCache:
    """Results by key; ``refresh`` lets an expired entry be served while it is recomputed.

    With ``background=True`` and a ``refresh`` callable, a request that finds its
    entry older than the refresh interval (same version) gets the old value at
    once and one daemon thread recomputes it (stale-while-revalidate): a result
    is then at most one interval plus one computation old, and only the very
    first request for a key, or one after the version changed, waits.
    """

    def __init__(
        self,
        ttl_seconds: float,
        max_entries: int = 256,
        clock: Callable[[], float] = time.monotonic,
        background: bool = True,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self.background = background
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[float, Hashable, Any]] = OrderedDict()
        self._refreshing: set[Hashable] = set()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.stale_hits = 0

    def _store(self, key: Hashable, at: float, version: Hashable, value: Any) -> None:
        with self._lock:
            self._entries[key] = (at, version, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def _refresh(self, key: Hashable, version: Hashable, refresh: Callable[[], Any]) -> None:
        try:
            at = self._clock()
            self._store(key, at, version, refresh())
        except Exception:  # the stale value stays; the next request tries again
            log.exception("background refresh of an analytics result failed")
        finally:
            with self._lock:
                self._refreshing.discard(key)

    def get_or_compute(
        self,
        key: Hashable,
        version: Hashable,
        compute: Callable[[], Any],
        refresh: Callable[[], Any] | None = None,
    ) -> Any:
        """The cached value for ``key`` if fresh and of ``version``, else ``compute()``.

        ``refresh`` recomputes without the caller's database session (it opens its
        own); when given, an expired entry of the same version is served stale
        while a background thread refreshes it.
        """
        if self.ttl_seconds <= 0:
            return compute()
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[1] == version:
                if now - entry[0] < self.ttl_seconds:
                    self._entries.move_to_end(key)
                    self.hits += 1
                    return entry[2]
                if self.background and refresh is not None:
                    self.stale_hits += 1
                    if key not in self._refreshing:
                        self._refreshing.add(key)
                        threading.Thread(
                            target=self._refresh,
                            args=(key, version, refresh),
                            name="analytics-refresh",
                            daemon=True,
                        ).start()
                    return entry[2]
        value = compute()
        self.misses += 1
        self._store(key, now, version, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
