"""Alert rules as data: loading, validation, vectorised evaluation and message rendering.

Pure module: plain data and pandas in, plain data out; no database.
A rule fires for a tutor when ``metric op threshold`` and every guard hold. An open
alert is *clear* once the rule would no longer fire even with ``resolve_threshold``
in place of ``threshold`` (the hysteresis band); a missing metric neither fires nor
clears.
"""

from __future__ import annotations

import math
import string
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
import yaml

from tutorpulse.alerts.models import SEVERITY_RANK

CATEGORIES = ("churn", "engagement", "quality", "reliability", "technical")
OPS = (">", ">=", "<", "<=", "==")
FORMATS = ("", "int", "num", "pct", "p")
MISSING = "—"

# Health columns a rule may read (TutorHealth) and the derived inputs evaluate.py adds.
HEALTH_METRICS = (
    "sessions_7d", "sessions_30d", "sessions_total", "avg_rating_7d", "avg_rating_30d",
    "avg_engagement", "avg_empathy", "avg_clarity", "avg_satisfaction",
    "first_session_count", "first_session_avg_rating", "poor_first_session_flag",
    "recommendation_rate", "technical_issue_rate", "days_since_last_login",
    "current_login_streak", "longest_login_streak", "logins_7d", "logins_30d",
    "active_days_7d", "active_days_30d", "completion_rate_30d", "tutor_no_show_rate_30d",
    "reschedule_rate_tutor_30d", "reschedule_rate_student_30d", "avg_late_minutes_30d",
    "churn_probability",
)  # fmt: skip
DERIVED_METRICS = (
    "days_since_last_session", "engagement_slope", "engagement_slope_p", "engagement_slope_n",
    "upcoming_first_sessions", "noshow_high_sessions", "noshow_probability_max", "login_ratio",
    "logins_14d", "logins_baseline", "logins_expected_14d",
)  # fmt: skip
NUMERIC_METRICS = frozenset(HEALTH_METRICS + DERIVED_METRICS)
# Text values a message may quote (never compared).
TEXT_FIELDS = frozenset(
    {"churn_risk_level", "last_session_on", "next_first_session_at", "tutor", "threshold"}
)


class RuleError(ValueError):
    """A rule definition is invalid; ``field`` names the offending setting."""

    def __init__(self, rule: str, field_name: str, message: str) -> None:
        super().__init__(f"rule {rule}: {field_name}: {message}")
        self.rule = rule
        self.field = field_name
        self.reason = message


@dataclass(frozen=True)
class Guard:
    metric: str
    op: str
    value: float


@dataclass(frozen=True)
class Rule:
    key: str
    severity: str
    category: str
    base_priority: int
    cooldown_hours: int
    resolve_after_hours: int
    metric: str
    op: str
    threshold: float
    resolve_threshold: float
    title: str
    message: str
    guards: tuple[Guard, ...] = ()
    enabled: bool = True

    @property
    def severity_rank(self) -> int:
        return SEVERITY_RANK[self.severity]

    def params(self) -> dict[str, Any]:
        """The JSON stored in ``alert_rule.params``."""
        return {
            "metric": self.metric,
            "op": self.op,
            "threshold": self.threshold,
            "resolve_threshold": self.resolve_threshold,
            "title": self.title,
            "message": self.message,
            "guards": [{"metric": g.metric, "op": g.op, "value": g.value} for g in self.guards],
        }


@dataclass
class Evaluation:
    """Per-tutor outcome of one rule (Series indexed like the input frame)."""

    fires: pd.Series
    clear: pd.Series
    value: pd.Series
    extra: dict[str, Any] = field(default_factory=dict)


def _number(rule: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RuleError(rule, name, "must be a number")
    if not math.isfinite(float(value)):
        raise RuleError(rule, name, "must be finite")
    return float(value)


def _integer(rule: str, name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RuleError(rule, name, "must be a whole number")
    if not low <= value <= high:
        raise RuleError(rule, name, f"must be between {low} and {high}")
    return value


def check_template(rule: str, template: str) -> None:
    """Raise ``RuleError`` unless every ``{name:format}`` placeholder is known."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise RuleError(rule, "message", f"bad template: {exc}") from exc
    for _text, name, spec, _conv in parts:
        if name is None:
            continue
        if name not in NUMERIC_METRICS and name not in TEXT_FIELDS:
            raise RuleError(rule, "message", f"unknown placeholder {{{name}}}")
        if (spec or "") not in FORMATS:
            raise RuleError(rule, "message", f"unknown format {spec!r} (use {FORMATS[1:]})")


def build_rule(key: str, data: dict[str, Any]) -> Rule:
    """A validated ``Rule`` from a YAML/DB mapping; raises ``RuleError`` naming the field."""
    if not isinstance(data, dict):
        raise RuleError(key, "rule", "must be a mapping")
    severity = data.get("severity")
    if severity not in SEVERITY_RANK:
        raise RuleError(key, "severity", f"must be one of {sorted(SEVERITY_RANK)}")
    category = data.get("category")
    if category not in CATEGORIES:
        raise RuleError(key, "category", f"must be one of {list(CATEGORIES)}")
    metric = data.get("metric")
    if metric not in NUMERIC_METRICS:
        raise RuleError(key, "metric", f"unknown metric {metric!r}")
    op = data.get("op")
    if op not in OPS:
        raise RuleError(key, "op", f"must be one of {list(OPS)}")
    guards = []
    for i, g in enumerate(data.get("guards") or []):
        if not isinstance(g, dict) or g.get("metric") not in NUMERIC_METRICS:
            raise RuleError(key, f"guards[{i}].metric", "unknown metric")
        if g.get("op") not in OPS:
            raise RuleError(key, f"guards[{i}].op", f"must be one of {list(OPS)}")
        guards.append(
            Guard(g["metric"], g["op"], _number(key, f"guards[{i}].value", g.get("value")))
        )
    title = data.get("title")
    message = data.get("message")
    if not isinstance(title, str) or not 0 < len(title) <= 200:
        raise RuleError(key, "title", "must be 1-200 characters")
    if not isinstance(message, str) or not 0 < len(message) <= 1000:
        raise RuleError(key, "message", "must be 1-1000 characters")
    check_template(key, message)
    threshold = _number(key, "threshold", data.get("threshold"))
    resolve = _number(key, "resolve_threshold", data.get("resolve_threshold", threshold))
    # The band must be on the "safe" side of the threshold or the alert could never clear.
    if op in (">", ">=") and resolve > threshold:
        raise RuleError(key, "resolve_threshold", "must be at most the threshold for > rules")
    if op in ("<", "<=") and resolve < threshold:
        raise RuleError(key, "resolve_threshold", "must be at least the threshold for < rules")
    if op == "==" and resolve != threshold:
        raise RuleError(key, "resolve_threshold", "must equal the threshold for == rules")
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise RuleError(key, "enabled", "must be true or false")
    return Rule(
        key=key,
        severity=severity,
        category=category,
        base_priority=_integer(key, "base_priority", data.get("base_priority"), 0, 100),
        cooldown_hours=_integer(key, "cooldown_hours", data.get("cooldown_hours"), 0, 24 * 365),
        resolve_after_hours=_integer(
            key, "resolve_after_hours", data.get("resolve_after_hours", 0), 0, 24 * 90
        ),
        metric=metric,
        op=op,
        threshold=threshold,
        resolve_threshold=resolve,
        title=title,
        message=message,
        guards=tuple(guards),
        enabled=enabled,
    )


def load_default_rules() -> list[Rule]:
    """The shipped defaults (default_rules.yaml), validated."""
    text = resources.files("tutorpulse.alerts").joinpath("default_rules.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    return [build_rule(key, value) for key, value in data["rules"].items()]


def _compare(values: pd.Series, op: str, threshold: float) -> pd.Series:
    v = pd.to_numeric(values, errors="coerce").astype(float)
    out: Any
    if op == ">":
        out = v > threshold
    elif op == ">=":
        out = v >= threshold
    elif op == "<":
        out = v < threshold
    elif op == "<=":
        out = v <= threshold
    else:
        out = np.isclose(v, threshold)
    return pd.Series(np.asarray(out) & v.notna().to_numpy(), index=values.index)


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame.columns:
        return frame[name]
    return pd.Series(np.nan, index=frame.index)


def evaluate_rule(rule: Rule, frame: pd.DataFrame) -> Evaluation:
    """Which tutors (rows of ``frame``) fire, which are clear, and the metric values."""
    value = pd.to_numeric(_column(frame, rule.metric), errors="coerce").astype(float)
    guard = pd.Series(True, index=frame.index)
    for g in rule.guards:
        guard &= _compare(_column(frame, g.metric), g.op, g.value)
    fires = _compare(value, rule.op, rule.threshold) & guard
    still = _compare(value, rule.op, rule.resolve_threshold) & guard
    clear = value.notna() & ~still
    return Evaluation(fires=fires, clear=clear, value=value)


def _format(value: Any, spec: str) -> str:
    if value is None or value is pd.NaT:
        return MISSING
    if isinstance(value, float) and math.isnan(value):
        return MISSING
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool | np.bool_):
        value = int(value)
    if spec == "int":
        return str(round(float(value)))
    if spec == "num":
        return f"{float(value):.2f}"
    if spec == "pct":
        return f"{float(value) * 100:.1f}%"
    if spec == "p":
        return f"{float(value):.3g}"
    return str(value)


def render_message(template: str, values: dict[str, Any]) -> str:
    """Fill ``template``: a zero shows as 0, a missing value as "—", never "null"."""
    out = []
    for text, name, spec, _conv in string.Formatter().parse(template):
        out.append(text)
        if name is not None:
            out.append(_format(values.get(name), spec or ""))
    return "".join(out)


def priority(rule: Rule, value: float | None) -> float:
    """Priority 0-100: base × (0.8 + 0.2 × excess), excess = distance past the threshold
    in units of the hysteresis band (or of the threshold when there is no band), capped at 1."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or rule.op == "==":
        return float(rule.base_priority)
    scale = abs(rule.threshold - rule.resolve_threshold) or abs(rule.threshold) or 1.0
    excess = min(1.0, abs(float(value) - rule.threshold) / scale)
    return round(min(100.0, rule.base_priority * (0.8 + 0.2 * excess)), 1)


def tutor_priority(priorities: list[float]) -> float:
    """A tutor's priority: the highest alert's, plus 0.2 × each of the next four, capped at 100."""
    ranked = sorted(priorities, reverse=True)
    if not ranked:
        return 0.0
    return round(min(100.0, ranked[0] + 0.2 * sum(ranked[1:5])), 1)
