"""Render an email template to subject, HTML and text.

Jinja2 with ``StrictUndefined``: a variable the template uses but nobody
supplied is an error (``Invalid`` naming it), never an empty string or a
literal placeholder in a sent mail. Optional variables of a template are set
to None unless given, and the templates test them with ``is not none``. The
HTML part gets the shared stylesheet inlined into ``style`` attributes by
``css_inline`` (mail clients drop ``<style>`` blocks); the text part is written
by hand, not derived from the HTML. The footer carries the postal address and
an unsubscribe link.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import css_inline
from jinja2 import Environment, FileSystemLoader, StrictUndefined, UndefinedError, select_autoescape

from tutorpulse.core.errors import ErrorDetail, Invalid, NotFound
from tutorpulse.email.catalog import EmailTemplate, get_template, template_names

TEMPLATES_DIR = Path(__file__).parent / "templates"
_UNDEFINED_NAME = re.compile(r"'([^']+)' is undefined")

_METRIC_LABELS = {
    "low_rating": "average student rating",
    "poor_engagement": "average engagement score",
    "low_empathy": "average empathy score",
    "clarity_issues": "average clarity score",
}
_QUALITY_TIPS = {
    "low_rating": (
        "Agree on a goal with the student at the start of each session.",
        "Check understanding often and adjust your pace.",
        "End with a summary and a concrete next step.",
        "Ask for feedback: what helped, what would help more.",
    ),
    "poor_engagement": (
        "Ask open questions and let the student explain their reasoning.",
        "Use the whiteboard or screen sharing for worked examples.",
        "Break long explanations into short steps with a question after each.",
        "Connect the material to the student's own interests or goals.",
    ),
    "low_empathy": (
        "Acknowledge when a topic is hard before moving on.",
        "Praise effort and progress, not only right answers.",
        "Ask how the student feels about the material and their workload.",
        "Give the student time to think before stepping in.",
    ),
    "clarity_issues": (
        "Start from what the student already knows.",
        "Use one worked example before the general rule.",
        "Avoid jargon, or define it when you first use it.",
        "Ask the student to explain the idea back in their own words.",
    ),
}


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str
    text: str


@dataclass(frozen=True)
class Footer:
    unsubscribe_url: str
    postal_address: str = ""


def _num(value: float | int | None, decimals: int = 0) -> str:
    if value is None:
        raise ValueError("num: a value is required")
    return f"{value:,.{decimals}f}"


def _pct(ratio: float | None, decimals: int = 0) -> str:
    if ratio is None:
        raise ValueError("pct: a value is required")
    return f"{ratio * 100:.{decimals}f}%"


def _plural(word: str, count: int | float | None, plural: str | None = None) -> str:
    return word if count == 1 else (plural or f"{word}s")


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        keep_trailing_newline=False,
        trim_blocks=False,
        auto_reload=False,
    )
    env.filters["num"] = _num
    env.filters["pct"] = _pct
    env.filters["plural"] = _plural
    env.globals["metric_label"] = lambda kind: _METRIC_LABELS[kind]
    env.globals["quality_tips"] = lambda kind: _QUALITY_TIPS[kind]
    return env


@lru_cache(maxsize=1)
def _css() -> str:
    return (TEMPLATES_DIR / "_style.css").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _inliner() -> css_inline.CSSInliner:
    # keep_style_tags=False: the <style> block goes once its rules are in style="".
    return css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)


def get_template_or_raise(key: str) -> EmailTemplate:
    """The catalog entry for ``key`` (or an original preview name); raises NotFound."""
    template = get_template(key)
    if template is None:
        raise NotFound(
            f"Unknown email template {key!r}",
            [ErrorDetail("template", "one of " + ", ".join(template_names()))],
        )
    return template


def missing_variables(template: EmailTemplate, variables: Mapping[str, Any]) -> list[str]:
    """Required variables of ``template`` that are absent or None in ``variables``."""
    return [name for name in template.required if variables.get(name) is None]


def _missing_error(template: EmailTemplate, names: list[str]) -> Invalid:
    return Invalid(
        f"Template {template.key} is missing variable(s): {', '.join(names)}",
        [ErrorDetail(name, "is required") for name in names],
    )


def render_email(
    template_key: str, variables: Mapping[str, Any], *, footer: Footer | None = None
) -> RenderedEmail:
    """Subject, inlined HTML and text of ``template_key`` with ``variables``.

    Raises ``NotFound`` for an unknown template and ``Invalid`` naming every
    missing required variable (or the first undefined one a template uses).
    """
    template = get_template_or_raise(template_key)
    missing = missing_variables(template, variables)
    if missing:
        raise _missing_error(template, missing)
    context: dict[str, Any] = dict.fromkeys(template.optional)
    context.update(variables)
    context["footer"] = footer or Footer(unsubscribe_url="#unsubscribe")
    context["css"] = _css()
    env = _environment()
    try:
        subject = env.get_template(f"{template.key}.subject.txt").render(context)
        html = env.get_template(f"{template.key}.html").render(context)
        text = env.get_template(f"{template.key}.txt").render(context)
    except UndefinedError as exc:
        match = _UNDEFINED_NAME.search(str(exc))
        raise _missing_error(template, [match.group(1) if match else str(exc)]) from exc
    subject = " ".join(subject.split())
    if not subject:
        raise Invalid.field("subject", f"template {template.key} rendered an empty subject")
    return RenderedEmail(subject=subject, html=_inliner().inline(html), text=_tidy_text(text))


def _tidy_text(text: str) -> str:
    # At most one blank line in a row, no trailing spaces; ends with a newline.
    lines = [line.rstrip() for line in text.strip().splitlines()]
    out: list[str] = []
    for line in lines:
        if not line and out and not out[-1]:
            continue
        out.append(line)
    return "\n".join(out) + "\n"
