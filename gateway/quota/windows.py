"""Where a limit's window starts and ends: calendar-aligned in the customer's time zone.

A daily budget resets at the customer's midnight, not at UTC midnight, and a monthly one on the
first of the customer's month. Time zones make this more than arithmetic: a day is 23 or 25 hours
long on the days clocks change, a month is 28 to 31 days (plus or minus that hour), and offsets are
not whole hours (``Asia/Kolkata`` +05:30, ``Pacific/Chatham`` +12:45). So windows are computed on
the local calendar and converted to UTC instants; the storage side keys its counters by the
returned ``start`` and never has to know about time zones.

Rate periods (second, minute, hour) are fixed lengths aligned on the local clock (an hourly window
in Kolkata starts at :30 UTC). A rolling budget is the last N x 24 hours, whatever the time zone.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from .model import RATE_PERIOD_SECONDS, Limit

UTC = dt.UTC
_DAY = dt.timedelta(days=1)
_HOUR = dt.timedelta(hours=1)


def _local_day_start(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    """The first instant of the local date ``day``, in UTC.

    Local midnight with ``fold=0`` is that instant in every case current tzdata has: an ambiguous
    midnight (clocks set back to 00:00) takes its first occurrence, and a midnight skipped by a
    spring-forward change takes the offset from before the change, which lands on the change itself
    (clocks jump from 00:00 to 01:00: the day starts at 01:00, 23 h long).
    """
    return dt.datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)


def _require_aware(now: dt.datetime) -> None:
    # A naive datetime would be read as the machine's local time: different on every replica.
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("`now` must be an aware datetime (e.g. datetime.now(UTC))")


def window(limit: Limit, now: dt.datetime, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """``(start, end)``, aware UTC datetimes, of the window of ``limit`` that ``now`` falls in.

    Calendar and rate periods: ``start <= now < end``; consecutive windows tile time (the end of
    one is the start of the next). ``rolling_days``: ``(now - N days, now]``, i.e. usage at instants
    ``t`` with ``start < t <= end``.
    """
    _require_aware(now)
    if limit.rolling_days is not None:
        end = now.astimezone(UTC)
        return end - limit.rolling_days * _DAY, end
    period = limit.period
    local = now.astimezone(tz)
    if period == "day":
        start_date = local.date()
        return _local_day_start(start_date, tz), _local_day_start(start_date + _DAY, tz)
    if period == "month":
        first = local.date().replace(day=1)
        following = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
        return _local_day_start(first, tz), _local_day_start(following, tz)
    if period is None:  # unreachable: Limit checks that one of period and rolling_days is set
        raise ValueError("a limit needs exactly one of `period` and `rolling_days`")
    # Rate periods: truncate the local wall clock, then take the offset in force at `now` back off.
    # Every offset in use today is a whole number of minutes, so second and minute windows are the same in
    # every zone; hour windows follow the local clock (:30 UTC in Kolkata, :15 in Chatham). Where a
    # change moves the clock by half an hour (Australia/Lord_Howe), the two hour windows around it
    # overlap by 30 minutes: harmless for a rate limit, which never keys stored counters by window.
    offset = local.utcoffset() or dt.timedelta(0)
    wall = local.replace(tzinfo=None, microsecond=0)
    if period == "minute":
        wall = wall.replace(second=0)
    elif period == "hour":
        wall = wall.replace(minute=0, second=0)
    start = (wall - offset).replace(tzinfo=UTC)
    return start, start + dt.timedelta(seconds=RATE_PERIOD_SECONDS[period])


def retry_after(limit: Limit, now: dt.datetime, tz: ZoneInfo) -> float:
    """Seconds from ``now`` until the window resets (what a refused budget's ``Retry-After`` says).

    For a rolling budget nothing resets at once: this is the window length, after which everything
    counted now has left the window (an upper bound; the storage side, which knows when the usage
    happened, can tell the earliest moment enough of it expires).
    """
    start, end = window(limit, now, tz)
    if limit.rolling_days is not None:
        return (end - start).total_seconds()
    return (end - now).total_seconds()


def counter_window(
    limit: Limit, now: dt.datetime, tz: ZoneInfo
) -> tuple[str, dt.datetime, dt.datetime, dt.datetime | None]:
    """Where usage at ``now`` is counted: ``(window name, start, end, since)``.

    A calendar or rate window is counted in one row, keyed by its start. A rolling window moves
    every instant, so it is counted in UTC hours: usage goes into the hour ``now`` falls in, and the
    budget sums the hours from ``since`` (that hour's start minus N days) to it. That covers
    ``(now - N days, now]`` plus at most the hour before it: a rolling budget may count up to one
    hour of usage too many, never too few.
    """
    if limit.rolling_days is not None:
        _require_aware(now)
        hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        return f"rolling:{limit.rolling_days}", hour, hour + _HOUR, hour - limit.rolling_days * _DAY
    start, end = window(limit, now, tz)
    assert limit.period is not None
    return limit.period, start, end, None
