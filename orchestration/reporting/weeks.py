"""ISO weeks: the report's unit. Labels look like 2026-W47; a week starts on Monday."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

WEEK_LABEL = re.compile(r"^(\d{4})-W(\d{2})$")


class WeekError(ValueError):
    """A week label that is malformed or names a week that does not exist."""


def week_start(label: str) -> date:
    """Monday of ISO week `label` ('2026-W47'); a clear error for anything else."""
    match = WEEK_LABEL.match(label.strip())
    if not match:
        raise WeekError(f"{label!r} is not an ISO week: write it as YYYY-Www, e.g. 2026-W47")
    year, week = int(match.group(1)), int(match.group(2))
    try:
        return date.fromisocalendar(year, week, 1)
    except ValueError:
        weeks_in_year = date(year, 12, 28).isocalendar().week
        raise WeekError(f"{label} does not exist: {year} has {weeks_in_year} ISO weeks") from None


def week_label(day: date) -> str:
    iso = day.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def last_complete_week(moment: datetime, timezone: str) -> date:
    """Monday of the last ISO week that ended before `moment`, in `timezone`.

    A naive `moment` is taken as UTC. The week ending at `moment` itself counts as complete
    only once its Sunday is over, i.e. from Monday 00:00 local time on.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    local_day = moment.astimezone(ZoneInfo(timezone)).date()
    return monday_of(local_day) - timedelta(days=7)


def last_complete_week_of_data(data_until: datetime, timezone: str) -> date:
    """Monday of the last week the data fully covers, the data running up to `data_until`
    (naive UTC): a week ending on the day of the last record is complete."""
    if data_until.tzinfo is None:
        data_until = data_until.replace(tzinfo=ZoneInfo("UTC"))
    return last_complete_week(data_until + timedelta(days=1), timezone)
