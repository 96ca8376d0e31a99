"""Jinja2 environment, number/date filters and the one page layout's context.

Pages render through ``render(request, "name.html", {...})``; every template
extends ``base.html`` (blocks ``title``, ``heading``, ``content``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from tutorpulse.web.introspect import get_paths

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
DASH = "—"


@dataclass(frozen=True)
class NavItem:
    label: str
    path: str
    area: str
    roles: tuple[str, ...] = ()


# Linked only when the app really serves the path (and the user's role may see it).
NAV: tuple[NavItem, ...] = (
    NavItem("Overview", "/", "Monitor"),
    NavItem("Tutors", "/tutors", "Monitor"),
    NavItem("Activation", "/activation", "Monitor"),
    NavItem("Risk", "/risk", "Monitor"),
    NavItem("Sessions at risk", "/risk/sessions", "Monitor"),
    NavItem("Trends", "/analytics/trends", "Analyse"),
    NavItem("Retention", "/analytics/retention", "Analyse"),
    NavItem("Star performers", "/analytics/performers", "Analyse"),
    NavItem("First sessions", "/analytics/first-sessions", "Analyse"),
    NavItem("Reliability", "/analytics/reliability", "Analyse"),
    NavItem("Alerts", "/alerts", "Act"),
    NavItem("Alert rules", "/alerts/rules", "Act", roles=("admin",)),
    NavItem("Interventions", "/interventions", "Act"),
    NavItem("Outbox", "/email/outbox", "Act"),
    NavItem("Deliverability", "/email/deliverability", "Act"),
    NavItem("Suppressions", "/email/suppressions", "Act"),
    NavItem("Email templates", "/email/templates", "Act"),
    NavItem("Experiments", "/experiments", "Learn"),
    NavItem("Insights", "/insights", "Learn"),
    NavItem("Models", "/models", "Learn"),
    NavItem("Jobs", "/jobs", "Operate", roles=("admin",)),
    NavItem("Audit log", "/audit", "Operate", roles=("admin",)),
)


def fmt_number(value: float | int | None, decimals: int = 0) -> str:
    """Thousands separators and a fixed number of decimals; '—' for missing."""
    if value is None:
        return DASH
    return f"{value:,.{decimals}f}"


def fmt_percent(ratio: float | None, decimals: int = 1) -> str:
    """A ratio (0.123) as a percentage with one decimal ('12.3%'); '—' for missing."""
    if ratio is None:
        return DASH
    return f"{ratio * 100:,.{decimals}f}%"


def display_zone(request: Request) -> ZoneInfo:
    name = request.app.state.settings.timezone_display
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def fmt_datetime(value: datetime | None, zone: ZoneInfo, with_zone: bool = True) -> str:
    if value is None:
        return DASH
    local = value.astimezone(zone)
    text = local.strftime("%Y-%m-%d %H:%M")
    return f"{text} {local.tzname()}" if with_zone else text


def fmt_date(value: date | datetime | None) -> str:
    if value is None:
        return DASH
    return value.strftime("%Y-%m-%d")


def sparkline_points(values: Sequence[float | None], width: int = 120, height: int = 32) -> str:
    """SVG polyline points for a small trend line; gaps (None) are skipped."""
    present = [v for v in values if v is not None]
    if len(values) < 2 or not present:
        return ""
    low, high = min(present), max(present)
    span = (high - low) or 1.0
    step = width / (len(values) - 1)
    points = []
    for i, v in enumerate(values):
        if v is None:
            continue
        y = height - 2 - (v - low) / span * (height - 4)
        points.append(f"{i * step:.1f},{y:.1f}")
    return " ".join(points)


def change_text(change: float | None, unit: str) -> str:
    if change is None:
        return "no earlier data"
    arrow = "▲" if change > 0 else "▼" if change < 0 else "▶"
    suffix = " pp" if unit == "pp" else "%"
    return f"{arrow} {change:+,.1f}{suffix}"


def change_tone(change: float | None, better: str) -> str:
    """'good', 'bad' or 'flat' for a change, given which direction is better."""
    if change is None or abs(change) < 1e-9:
        return "flat"
    return "good" if (change > 0) == (better == "up") else "bad"


templates.env.filters["num"] = fmt_number
templates.env.filters["pct"] = fmt_percent
templates.env.filters["date"] = fmt_date
templates.env.globals["sparkline_points"] = sparkline_points
templates.env.globals["change_text"] = change_text
templates.env.globals["change_tone"] = change_tone


def nav_items(request: Request) -> list[tuple[str, list[NavItem]]]:
    served = get_paths(request.app)
    actor = getattr(request.state, "actor", None)
    role = getattr(actor, "role", None)
    areas: dict[str, list[NavItem]] = {}
    for item in NAV:
        if item.path not in served or (item.roles and role not in item.roles):
            continue
        areas.setdefault(item.area, []).append(item)
    return list(areas.items())


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render a page (or, for HTMX, a fragment) with the layout's common context."""
    zone = display_zone(request)
    ctx: dict[str, Any] = {
        "actor": getattr(request.state, "actor", None),
        "csrf_token": getattr(request.state, "csrf_token", None),
        "nav": nav_items(request),
        "current_path": request.url.path,
        "zone": zone,
        "zone_name": str(zone.key),
        "is_htmx": is_htmx(request),
        "dt": lambda v, with_zone=True: fmt_datetime(v, zone, with_zone),
        "Markup": Markup,
        "day": lambda v: fmt_date(v.astimezone(zone)) if v is not None else DASH,
    }
    ctx.update(context or {})
    return templates.TemplateResponse(request, name, ctx, status_code=status_code, headers=headers)
