"""Pure platform-level computations: DAU/WAU/MAU, weekly lifecycle, hourly activity.

Inputs are plain frames of (tutor, local day) activity; outputs are frames keyed
by day or week. The refresh job stores them in ``platform_daily`` /
``platform_weekly`` so the metrics API reads a few hundred rows, never the raw data.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd


def window_active_counts(active: pd.DataFrame, days: list[date], window: int) -> pd.Series:
    """Tutors active at least once in the ``window`` days ending on each day of ``days``.

    ``active`` has one row per (tutor_id, day) on which the tutor was active and
    must include the ``window - 1`` days before ``days[0]``. Each active day ``a``
    covers ``[a, a + window - 1]``, cut short at the tutor's next active day so a
    tutor's intervals never overlap; summing them with a difference array gives
    the distinct count per day in O(rows).
    """
    if not days:
        return pd.Series(dtype=np.int64)
    base = min(days).toordinal()
    span = max(days).toordinal() - base + 1
    if active.empty:
        return pd.Series(np.zeros(len(days), dtype=np.int64), index=days)
    frame = active[["tutor_id", "day"]].drop_duplicates()
    ordinal = np.fromiter((d.toordinal() for d in frame["day"]), dtype=np.int64, count=len(frame))
    order = np.lexsort((ordinal, frame["tutor_id"].to_numpy()))
    tutor = frame["tutor_id"].to_numpy()[order]
    ordinal = ordinal[order]
    nxt = np.full(len(ordinal), np.iinfo(np.int64).max, dtype=np.int64)
    same = tutor[1:] == tutor[:-1]
    nxt[:-1] = np.where(same, ordinal[1:], nxt[:-1])
    start = ordinal - base
    stop = np.minimum(ordinal + window, nxt) - base  # exclusive
    start = np.clip(start, 0, span)
    stop = np.clip(stop, 0, span)
    keep = stop > start
    diff = np.zeros(span + 1, dtype=np.int64)
    np.add.at(diff, start[keep], 1)
    np.add.at(diff, stop[keep], -1)
    counts = np.cumsum(diff)[:span]
    return pd.Series([int(counts[d.toordinal() - base]) for d in days], index=days)


def week_start(day: date) -> date:
    """The Monday of ``day``'s ISO week."""
    return day - timedelta(days=day.weekday())


def lifecycle(active: pd.DataFrame, first_active: pd.Series, weeks: list[date]) -> pd.DataFrame:
    """Weekly lifecycle buckets (PostHog's definitions, applied to tutors).

    For week *w*: **new** — first ever active in *w*; **returning** — active in
    *w* and in *w − 1*; **resurrecting** — active in *w*, not in *w − 1*, active
    before; **dormant** — active in *w − 1* but not in *w*. ``active`` must cover
    the week before ``weeks[0]``; ``first_active`` maps tutor id → first active day.
    """
    columns = [
        "active_tutors", "new_tutors", "returning_tutors", "resurrecting_tutors", "dormant_tutors"
    ]  # fmt: skip
    if not weeks:
        return pd.DataFrame(columns=columns)
    frame = active[["tutor_id", "day"]].copy()
    frame["week"] = [week_start(d) for d in frame["day"]]
    by_week: dict[date, set[int]] = {}
    for w, group in frame.groupby("week")["tutor_id"]:
        by_week[w] = {int(t) for t in group.tolist()}  # type: ignore[index]
    first_week = {int(str(t)): week_start(d) for t, d in first_active.dropna().items()}
    rows = []
    for w in weeks:
        now_set = by_week.get(w, set())
        prev_set = by_week.get(w - timedelta(days=7), set())
        new = {t for t in now_set if first_week.get(t) == w}
        returning = now_set & prev_set
        resurrecting = now_set - prev_set - new
        dormant = prev_set - now_set
        rows.append(
            {
                "active_tutors": len(now_set),
                "new_tutors": len(new),
                "returning_tutors": len(returning),
                "resurrecting_tutors": len(resurrecting),
                "dormant_tutors": len(dormant),
            }
        )
    return pd.DataFrame(rows, index=weeks, columns=columns)


def event_day_profile(events: pd.DataFrame) -> dict[date, tuple[dict[str, int], list[int]]]:
    """Per local day: event counts by type and 24 hourly counts.

    ``events`` has columns ``day``, ``hour`` and ``event_type`` (local time).
    """
    out: dict[date, tuple[dict[str, int], list[int]]] = {}
    if events.empty:
        return out
    by_type = events.groupby(["day", "event_type"]).size()
    by_hour = events.groupby(["day", "hour"]).size()
    for day in sorted(set(events["day"])):
        types = {str(k): int(v) for k, v in by_type.loc[day].items()}
        hours = [0] * 24
        for hour, count in by_hour.loc[day].items():
            hours[int(hour)] = int(count)
        out[day] = (types, hours)
    return out


def weekday_hour_matrix(days: list[date], hourly: list[list[int]]) -> list[list[int]]:
    """7×24 activity counts (Monday = 0) from per-day hourly counts."""
    matrix = [[0] * 24 for _ in range(7)]
    for day, hours in zip(days, hourly, strict=True):
        row = matrix[day.weekday()]
        for hour, count in enumerate(hours[:24]):
            row[hour] += int(count)
    return matrix
