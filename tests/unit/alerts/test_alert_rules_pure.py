"""Pure rule machinery: validation, rendering, priority, and the vectorised trend vs scipy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tutorpulse.alerts import inputs
from tutorpulse.alerts.rules import (
    RuleError,
    build_rule,
    load_default_rules,
    priority,
    render_message,
    tutor_priority,
)


def test_defaults_are_the_twelve_rules() -> None:
    rules = {r.key: r for r in load_default_rules()}
    assert len(rules) == 12
    assert rules["churn_risk_high"].severity == "critical"
    assert rules["no_sessions_14d"].threshold == 14
    assert {r.severity for r in rules.values()} == {"critical", "high", "medium", "low"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"severity": "urgent"}, "severity"),
        ({"metric": "nope"}, "metric"),
        ({"op": "~"}, "op"),
        ({"threshold": "high"}, "threshold"),
        ({"resolve_threshold": 0.9}, "resolve_threshold"),
        ({"base_priority": 101}, "base_priority"),
        ({"message": "Hello {unknown}"}, "message"),
        ({"message": "Hello {churn_probability:xx}"}, "message"),
    ],
)
def test_invalid_rules_name_the_field(change: dict[str, object], field: str) -> None:
    base = load_default_rules()[0]
    data = {**base.params(), "severity": base.severity, "category": base.category,
            "base_priority": 100, "cooldown_hours": 48, "resolve_after_hours": 0}  # fmt: skip
    with pytest.raises(RuleError) as err:
        build_rule("r", {**data, **change})
    assert err.value.field == field


def test_render_zero_missing_and_formats() -> None:
    text = render_message(
        "{a:int} {b:num} {c:pct} {d} {e:int}",
        {"a": 0, "b": 0.0, "c": 0.125, "d": None, "e": float("nan")},
    )
    assert text == "0 0.00 12.5% — —"


def test_priority_formula() -> None:
    rule = next(r for r in load_default_rules() if r.key == "churn_risk_high")
    assert (rule.threshold, rule.resolve_threshold) == (0.4, 0.3)
    assert priority(rule, 0.4) == 80.0  # at the threshold: 0.8 × base
    assert priority(rule, 0.45) == 90.0  # half a band past it
    assert priority(rule, 0.95) == 100.0  # capped
    assert priority(rule, None) == 100.0
    assert tutor_priority([70, 50, 50]) == 90.0
    assert tutor_priority([95, 90, 90]) == 100.0


def test_vectorised_trend_matches_linregress() -> None:
    rng = np.random.default_rng(3)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    rows = []
    expected = {}
    for tutor in range(1, 6):
        y = 8 - 0.2 * tutor * np.arange(10) + rng.normal(0, 0.8, 10)
        rows += [(tutor, start + timedelta(days=i), float(v)) for i, v in enumerate(y)]
        expected[tutor] = stats.linregress(np.arange(10), y)
    frame = pd.DataFrame(rows, columns=["tutor_id", "scheduled_start", "engagement_score"])
    got = inputs.engagement_trend(frame, last_n=10, min_n=6)
    for tutor, ref in expected.items():
        assert got.loc[tutor, "engagement_slope"] == pytest.approx(ref.slope)
        assert got.loc[tutor, "engagement_slope_p"] == pytest.approx(ref.pvalue)
        assert got.loc[tutor, "engagement_slope_n"] == 10
    few = inputs.engagement_trend(frame[frame["tutor_id"] == 1].head(5), last_n=10, min_n=6)
    assert few.empty


def test_stored_evidence_renders_the_same_message_again() -> None:
    """update-messages re-renders from the evidence: timestamps (stored as ISO text)
    must come back as the same words, not as raw ISO strings."""
    from datetime import UTC, datetime

    from tutorpulse.alerts.generate import _evidence, revive
    from tutorpulse.alerts.rules import load_default_rules, render_message

    rule = next(r for r in load_default_rules() if r.key == "first_session_scheduled")
    values = {
        "upcoming_first_sessions": 2,
        "next_first_session_at": pd.Timestamp(datetime(2026, 11, 27, 5, 0, tzinfo=UTC)),
        "threshold": rule.threshold,
    }
    first = render_message(rule.message, values)
    assert "2026-11-27 05:00 UTC" in first
    stored = _evidence(rule, values)["values"]
    assert stored["next_first_session_at"] == "2026-11-27T05:00:00+00:00"
    again = render_message(rule.message, {**revive(stored), "threshold": rule.threshold})
    assert again == first
    assert revive({"note": "2026-11-27Tnot a time"}) == {"note": "2026-11-27Tnot a time"}
