"""Pure helpers of the stored default views: JSON conversion, freshness, list cuts."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import numpy as np

from tutorpulse.analytics import snapshots
from tutorpulse.analytics.trends_service import STORED_VIEWS, TrendParams, stored_key

AT = datetime(2026, 6, 1, tzinfo=UTC)


def test_to_json_makes_numpy_and_non_finite_values_storable() -> None:
    payload = {"n": np.int64(3), "x": np.float64("nan"), "y": [np.float32(1.5), float("inf")],
               "on": date(2026, 6, 1), "at": AT, "ok": True}  # fmt: skip
    out = snapshots.to_json(payload)
    assert out == {"n": 3, "x": None, "y": [1.5, None], "on": "2026-06-01",
                   "at": "2026-06-01T00:00:00+00:00", "ok": True}  # fmt: skip
    json.dumps(out, allow_nan=False)  # strict JSON, as PostgreSQL's json type wants


def test_a_stored_view_is_fresh_for_two_refresh_intervals_and_never_when_disabled() -> None:
    assert snapshots.is_fresh(AT, now=AT + timedelta(seconds=600), refresh_seconds=300)
    assert not snapshots.is_fresh(AT, now=AT + timedelta(seconds=601), refresh_seconds=300)
    assert not snapshots.is_fresh(AT, now=AT, refresh_seconds=0)


def test_cut_lists_cuts_only_the_named_lists_and_leaves_the_stored_payload_alone() -> None:
    stored = {"segments": {"star": {"tutors": [1, 2, 3], "count": 3}}, "other": [1, 2, 3]}
    cut = snapshots.cut_lists(stored, 2, [("segments", "star", "tutors")])
    assert cut == {"segments": {"star": {"tutors": [1, 2], "count": 3}}, "other": [1, 2, 3]}
    assert stored["segments"]["star"]["tutors"] == [1, 2, 3]


def test_trend_views_are_stored_under_their_canonical_parameters() -> None:
    # The API's implicit 30 days and an explicit days=30 are the same view.
    assert stored_key(TrendParams(type="engagement")) == stored_key(
        TrendParams(type="engagement", days=30)
    )
    assert stored_key(TrendParams(type="retention")) == "trends:retention:180:-"
    assert stored_key(TrendParams(type="engagement", metric="rating")) is None
    assert stored_key(TrendParams(type="cohort", cohort_field="joinMonth")) is None
    assert len({stored_key(p) for p in STORED_VIEWS}) == len(STORED_VIEWS)
