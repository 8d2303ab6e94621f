"""Business hours: is a schedule open at a given instant, in the schedule's own time zone."""
from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway.ivr.model import Schedule

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def is_open(schedule: Schedule, now: dt.datetime) -> bool:
    """`now` must be time zone aware; it is converted to the schedule's zone first."""
    if now.tzinfo is None:
        raise ValueError("business hours need an aware datetime (a clock returning UTC is fine)")
    local = now.astimezone(ZoneInfo(schedule.timezone))
    if local.date() in schedule.holidays:
        return False
    t = local.time().replace(tzinfo=None)
    return any(start <= t < end for start, end in schedule.weekly.get(local.weekday(), ()))


def next_open(schedules, after: dt.datetime, *, step: dt.timedelta = dt.timedelta(minutes=15),
              horizon: dt.timedelta = dt.timedelta(days=31)) -> dt.datetime | None:
    """The first moment from `after` on (in `step`s) when every schedule is open; None when
    there is none within `horizon`."""
    schedules = list(schedules)
    moment = after
    while moment <= after + horizon:
        if all(is_open(schedule, moment) for schedule in schedules):
            return moment
        moment += step
    return None


def parse_days(spec: str) -> list[int]:
    """'mon-fri' -> [0..4]; 'sat,sun' -> [5, 6]; 'wed' -> [2]."""
    days: list[int] = []
    for part in str(spec).lower().split(","):
        part = part.strip()
        if "-" in part:
            first, last = (p.strip() for p in part.split("-", 1))
            if first not in WEEKDAYS or last not in WEEKDAYS:
                raise ValueError(f"{spec!r} is not a day range like mon-fri")
            a, b = WEEKDAYS.index(first), WEEKDAYS.index(last)
            if a > b:
                raise ValueError(f"{spec!r} runs backwards")
            days.extend(range(a, b + 1))
        elif part in WEEKDAYS:
            days.append(WEEKDAYS.index(part))
        else:
            raise ValueError(f"{part!r} is not a weekday ({', '.join(WEEKDAYS)})")
    return days


def parse_ranges(spec) -> tuple[tuple[dt.time, dt.time], ...]:
    """'09:00-18:00', a list of those, or 'closed'. '24:00' stands for the end of the day."""
    if spec in ("closed", None, False):
        return ()
    items = spec if isinstance(spec, list) else [spec]
    out = []
    for item in items:
        m = _RANGE.match(str(item))
        if not m:
            raise ValueError(f"{item!r} is not a time range like \"09:00-18:00\" (quote it) or closed")
        h1, m1, h2, m2 = map(int, m.groups())
        start = _time(h1, m1, item)
        end = dt.time.max if (h2, m2) == (24, 0) else _time(h2, m2, item)
        if end <= start:
            raise ValueError(f"{item!r} ends before it starts")
        out.append((start, end))
    return tuple(out)


def _time(hour: int, minute: int, item) -> dt.time:
    try:
        return dt.time(hour, minute)
    except ValueError:
        raise ValueError(f"{item!r} has an impossible time") from None


def check_timezone(name: str) -> None:
    try:
        ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (e.g. Europe/Istanbul)") from None
