"""Payout periods: a calendar month (2026-11), an ISO week (2026-W45) or a custom range
(2026-11-01..2026-11-15). Days are the brand's; a period is closed once its last day has ended there."""

import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass

from affiliates.choices import PayoutFrequency

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_WEEK = re.compile(r"^(\d{4})-W(0[1-9]|[1-4]\d|5[0-3])$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")
MAX_CUSTOM_DAYS = 366


class PeriodError(ValueError):
    pass


@dataclass(frozen=True)
class Period:
    key: str
    frequency: str
    start: dt.date
    end: dt.date  # inclusive

    def end_moment(self, tz: str) -> dt.datetime:
        """The first moment after the period in time zone `tz` (an aware datetime)."""
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time.min, tzinfo=zoneinfo.ZoneInfo(tz))

    def closed(self, tz: str, now: dt.datetime) -> bool:
        return self.end_moment(tz) <= now


def month(day: dt.date) -> Period:
    start = day.replace(day=1)
    following = (start + dt.timedelta(days=32)).replace(day=1)
    return Period(f"{start:%Y-%m}", PayoutFrequency.MONTHLY, start, following - dt.timedelta(days=1))


def week(day: dt.date) -> Period:
    year, number, weekday = day.isocalendar()
    start = day - dt.timedelta(days=weekday - 1)
    return Period(f"{year}-W{number:02d}", PayoutFrequency.WEEKLY, start, start + dt.timedelta(days=6))


def custom(start: dt.date, end: dt.date) -> Period:
    if end < start:
        raise PeriodError("A custom period ends on or after the day it starts.")
    if (end - start).days >= MAX_CUSTOM_DAYS:
        raise PeriodError(f"A custom period is at most {MAX_CUSTOM_DAYS} days long.")
    return Period(f"{start.isoformat()}..{end.isoformat()}", PayoutFrequency.CUSTOM, start, end)


def parse(key: str) -> Period:
    """A period from its key; PeriodError says what is wrong."""
    key = (key or "").strip()
    if m := _MONTH.match(key):
        return month(dt.date(int(m[1]), int(m[2]), 1))
    if m := _WEEK.match(key):
        try:
            return week(dt.date.fromisocalendar(int(m[1]), int(m[2]), 1))
        except ValueError:
            raise PeriodError(f"{m[1]} has no ISO week {m[2]}.") from None
    if m := _RANGE.match(key):
        try:
            start, end = dt.date.fromisoformat(m[1]), dt.date.fromisoformat(m[2])
        except ValueError:
            raise PeriodError(f"{key!r} names a day that does not exist.") from None
        return custom(start, end)
    raise PeriodError(f"{key!r} is not a period: give YYYY-MM, YYYY-Www or YYYY-MM-DD..YYYY-MM-DD.")


def last_closed(frequency: str, local_now: dt.datetime) -> Period:
    """The monthly or weekly period that ended most recently before `local_now`."""
    today = local_now.date()
    if frequency == PayoutFrequency.WEEKLY:
        return week(today - dt.timedelta(days=7))
    return month(today.replace(day=1) - dt.timedelta(days=1))
