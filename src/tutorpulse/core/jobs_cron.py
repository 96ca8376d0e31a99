"""Standard five-field cron expressions (UTC) turned into APScheduler triggers.

APScheduler 3's ``CronTrigger.from_crontab`` numbers weekdays from Monday = 0,
so the crontab ``0 2 * * 1`` ("Mondays at 02:00") would fire on Tuesdays. Here
the day-of-week field is read with crontab's meaning (0 or 7 = Sunday, names
allowed) and handed to APScheduler as weekday names, which it cannot misread.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


class CronSyntaxError(ValueError):
    """The expression is not a cron schedule this scheduler can follow."""


def _weekday(token: str) -> int:
    token = token.strip().lower()
    if token in WEEKDAYS:
        return WEEKDAYS.index(token)
    if not token.isdigit() or not 0 <= int(token) <= 7:
        raise CronSyntaxError(f"day-of-week {token!r} is not 0-7 or sun-sat")
    return int(token) % 7


def _weekdays(field: str) -> set[int]:
    days: set[int] = set()
    for part in field.split(","):
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) < 1:
                raise CronSyntaxError(f"day-of-week step {step_text!r} is not a positive number")
            step = int(step_text)
        if base == "*":
            first, last = 0, 6
        elif "-" in base:
            low, _, high = base.partition("-")
            first, last = _weekday(low), _weekday(high)
            if high.strip() == "7":
                last = 7
            if first > last:
                raise CronSyntaxError(f"day-of-week range {base!r} runs backwards")
        else:
            first = _weekday(base)
            last = 6 if step_text else first
        days.update(day % 7 for day in range(first, last + 1, step))
    return days


def parse_cron(expression: str) -> CronTrigger:
    """Return the UTC trigger for ``expression``; raises ``CronSyntaxError`` with the reason."""
    text = " ".join(expression.split())
    text = MACROS.get(text.lower(), text)
    fields = text.split(" ")
    if len(fields) != 5:
        raise CronSyntaxError(
            f"{expression!r} must have five fields (minute hour day month weekday) or be a macro"
            " such as @daily"
        )
    minute, hour, day, month, weekday = fields
    if day not in ("*", "?") and weekday not in ("*", "?"):
        # crontab runs when *either* field matches; APScheduler needs both. Refuse the
        # ambiguity instead of silently running on fewer days than the author meant.
        raise CronSyntaxError(
            f"{expression!r} restricts both day-of-month and day-of-week; restrict only one"
        )
    day = "*" if day == "?" else day
    days = _weekdays("*" if weekday == "?" else weekday)
    day_of_week = "*" if len(days) == 7 else ",".join(WEEKDAYS[d] for d in sorted(days))
    try:
        return CronTrigger(
            minute=minute, hour=hour, day=day, month=month, day_of_week=day_of_week, timezone=UTC
        )
    except ValueError as exc:
        raise CronSyntaxError(f"{expression!r}: {exc}") from exc


def validate_cron(expression: str) -> str:
    """Return ``expression`` with its spacing normalised when valid; raises ``CronSyntaxError``."""
    parse_cron(expression)
    return " ".join(expression.split())


def next_fire_time(expression: str, after: datetime) -> datetime | None:
    """The first time strictly after ``after`` that ``expression`` fires (UTC), or None."""
    trigger = parse_cron(expression)
    # Fire times are whole seconds, so "strictly after" is "at or after the next second".
    start = after.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=1)
    fire = trigger.get_next_fire_time(None, start)
    return fire.astimezone(UTC) if fire is not None else None
