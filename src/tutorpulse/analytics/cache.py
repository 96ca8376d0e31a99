"""In-process cache of analysis results, keyed on parameters and a data-version probe.

A result is reused while (a) the tutor table is unchanged in size and highest id (the
probe: one index look-up and a count) and (b) it is younger than ``ttl_seconds``. New
or edited sessions and events are picked up when the entry expires, so results are at
most ``ttl_seconds`` old; probing those tables would defeat the cache on a live system
that adds rows every few seconds. ``ttl_seconds = 0`` disables caching.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from tutorpulse.analytics import repository as repo

T = TypeVar("T")
MAX_ENTRIES = 64
_lock = threading.Lock()
_entries: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()


def cached(db: Session, key: Hashable, ttl_seconds: int, compute: Callable[[], T]) -> T:
    """``compute()``'s result, reused for the same key, database and data version."""
    if ttl_seconds <= 0:
        return compute()
    bind = db.get_bind()
    full_key = (str(bind.engine.url), key, repo.data_version(db))
    now = time.monotonic()
    with _lock:
        hit = _entries.get(full_key)
        if hit is not None and now - hit[0] < ttl_seconds:
            _entries.move_to_end(full_key)
            return hit[1]
    value = compute()
    with _lock:
        _entries[full_key] = (now, value)
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)
    return value


def clear() -> None:
    with _lock:
        _entries.clear()
