"""Crontab lines for digest schedules, parsed by APScheduler.

APScheduler 3 counts weekdays from Monday = 0, while every crontab admins
have met counts Sunday = 0 (and 7). Weekday numbers are turned into names
here, so `0 8 * * 1` means Monday as an admin expects.
"""

from __future__ import annotations

import datetime as dt

from apscheduler.triggers.cron import CronTrigger

DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
FORMAT_HINT = 'five fields: minute hour day month weekday, e.g. "0 8 * * mon" for 8am every Monday'


class CronError(ValueError):
    """A schedule line that is not a valid crontab."""


def _weekday_numbers(part: str) -> list[int] | None:
    """The weekday numbers (0-6, Sunday first) one comma part stands for, or None if it uses names."""
    body, _, step_text = part.partition("/")
    step = 1
    if step_text:
        if not step_text.isdigit() or int(step_text) == 0:
            raise CronError(f"bad step '/{step_text}' in weekday; {FORMAT_HINT}")
        step = int(step_text)
    if body == "*":
        start, end = 0, 6
    elif "-" in body:
        first, _, last = body.partition("-")
        if not (first.isdigit() and last.isdigit()):
            return None
        start, end = int(first), int(last)
    elif body.isdigit():
        start = end = int(body)
        if step_text:
            end = 6
    else:
        return None
    if not (0 <= start <= 7 and 0 <= end <= 7) or start > end:
        raise CronError(f"weekday '{part}' must use 0-7 (0 and 7 are Sunday) or names like mon-fri")
    return sorted({n % 7 for n in range(start, end + 1, step)})


def _translate_weekdays(field: str) -> str:
    if field == "*":
        return field
    parts = []
    for part in field.split(","):
        numbers = _weekday_numbers(part.lower())
        parts.append(part.lower() if numbers is None else ",".join(DAY_NAMES[n] for n in numbers))
    return ",".join(parts)


def parse_crontab(expr: str, timezone: dt.tzinfo | str | None = None) -> CronTrigger:
    """A CronTrigger for a standard 5-field crontab line; raises CronError with a fix."""
    fields = expr.split()
    if len(fields) != 5:
        raise CronError(f"'{expr}' has {len(fields)} field(s); a schedule needs {FORMAT_HINT}")
    minute, hour, day, month, weekday = fields
    try:
        return CronTrigger(
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=_translate_weekdays(weekday),
            timezone=timezone,
        )
    except CronError:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise CronError(f"'{expr}' is not a valid schedule ({exc}); use {FORMAT_HINT}") from None


# Windows to look back in for the last fire time: an hourly schedule needs
# minutes, a yearly one a year. Stepping forward from the window's first fire
# time is then bounded (at most ~60 steps for "every minute" in an hour).
_LOOKBACK = (
    dt.timedelta(hours=1),
    dt.timedelta(days=1),
    dt.timedelta(days=8),
    dt.timedelta(days=32),
    dt.timedelta(days=367),
    dt.timedelta(days=366 * 5),
)


def last_fire_before(trigger: CronTrigger, moment: dt.datetime, *, inclusive: bool = True) -> dt.datetime | None:
    """The schedule's latest fire time at or before `moment` (before it, if not inclusive)."""
    for window in _LOOKBACK:
        fire = trigger.get_next_fire_time(None, moment - window)
        if fire is None or fire > moment or (fire == moment and not inclusive):
            continue
        while True:
            following = trigger.get_next_fire_time(fire, fire + dt.timedelta(microseconds=1))
            if following is None or following > moment or (following == moment and not inclusive):
                return fire
            fire = following
    return None
