"""Window edges: calendar days and months in the customer's zone, DST, leap years, rolling windows.

Expected instants are written out by hand in UTC (from the zone's offset on that date), not
recomputed with the code under test.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.quota import Limit, Period, retry_after, window

UTC_ZONE = ZoneInfo("UTC")
NEW_YORK = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")
CHATHAM = ZoneInfo("Pacific/Chatham")
HOUR = dt.timedelta(hours=1)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def per(period: Period) -> Limit:
    return Limit(dimension="requests", period=period, limit=100)


def span(period: Period, now: str, tz: ZoneInfo = UTC_ZONE) -> tuple[str, str]:
    start, end = window(per(period), at(now), tz)
    assert start.tzinfo is dt.UTC and end.tzinfo is dt.UTC
    return start.isoformat(), end.isoformat()


@pytest.mark.parametrize(
    ("period", "now", "expected"),
    [
        ("day", "2024-03-15T12:34:56Z", ("2024-03-15T00:00:00+00:00", "2024-03-16T00:00:00+00:00")),
        ("day", "2024-03-16T00:00:00Z", ("2024-03-16T00:00:00+00:00", "2024-03-17T00:00:00+00:00")),
        ("day", "2024-03-15T23:59:59.999999Z", ("2024-03-15T00:00:00+00:00", "2024-03-16T00:00:00+00:00")),
        ("month", "2024-03-15T12:00:00Z", ("2024-03-01T00:00:00+00:00", "2024-04-01T00:00:00+00:00")),
        ("month", "2024-12-31T23:59:59.999999Z", ("2024-12-01T00:00:00+00:00", "2025-01-01T00:00:00+00:00")),
        ("month", "2025-01-01T00:00:00Z", ("2025-01-01T00:00:00+00:00", "2025-02-01T00:00:00+00:00")),
        ("second", "2024-03-15T12:34:56.789Z", ("2024-03-15T12:34:56+00:00", "2024-03-15T12:34:57+00:00")),
        ("minute", "2024-03-15T12:34:56.789Z", ("2024-03-15T12:34:00+00:00", "2024-03-15T12:35:00+00:00")),
        ("hour", "2024-03-15T12:34:56.789Z", ("2024-03-15T12:00:00+00:00", "2024-03-15T13:00:00+00:00")),
    ],
)
def test_utc_windows(period: Period, now: str, expected: tuple[str, str]) -> None:
    assert span(period, now) == expected


def test_now_in_another_offset_is_the_same_instant() -> None:
    # 01:30 on the 16th in +05:30 is still the 15th in UTC.
    assert span("day", "2024-03-16T01:30:00+05:30") == (
        "2024-03-15T00:00:00+00:00",
        "2024-03-16T00:00:00+00:00",
    )


@pytest.mark.parametrize(
    ("month_start", "days"),
    [
        ("2024-02-10T00:00:00Z", 29),
        ("2023-02-10T00:00:00Z", 28),
        ("2000-02-10T00:00:00Z", 29),
        ("2100-02-10T00:00:00Z", 28),
    ],
)
def test_february_in_leap_and_common_years(month_start: str, days: int) -> None:
    start, end = window(per("month"), at(month_start), UTC_ZONE)
    assert (start.day, end.month, end.day) == (1, 3, 1)
    assert end - start == dt.timedelta(days=days)


def test_new_york_day_and_month_follow_local_midnight() -> None:
    # 23:00 EDT on July 3rd.
    assert span("day", "2024-07-04T03:00:00Z", NEW_YORK) == (
        "2024-07-03T04:00:00+00:00",
        "2024-07-04T04:00:00+00:00",
    )
    # 22:00 EST on December 31st: still December for the customer, January for UTC.
    assert span("month", "2025-01-01T03:00:00Z", NEW_YORK) == (
        "2024-12-01T05:00:00+00:00",
        "2025-01-01T05:00:00+00:00",
    )
    assert span("month", "2025-01-01T05:00:00Z", NEW_YORK) == (
        "2025-01-01T05:00:00+00:00",
        "2025-02-01T05:00:00+00:00",
    )


def test_new_york_dst_days_are_23_and_25_hours() -> None:
    spring = window(per("day"), at("2024-03-10T12:00:00Z"), NEW_YORK)
    assert [t.isoformat() for t in spring] == ["2024-03-10T05:00:00+00:00", "2024-03-11T04:00:00+00:00"]
    assert spring[1] - spring[0] == 23 * HOUR
    autumn = window(per("day"), at("2024-11-03T12:00:00Z"), NEW_YORK)
    assert [t.isoformat() for t in autumn] == ["2024-11-03T04:00:00+00:00", "2024-11-04T05:00:00+00:00"]
    assert autumn[1] - autumn[0] == 25 * HOUR
    # And the months that hold those days are an hour short and an hour long.
    march = window(per("month"), at("2024-03-20T00:00:00Z"), NEW_YORK)
    assert march[1] - march[0] == (31 * 24 - 1) * HOUR
    november = window(per("month"), at("2024-11-20T00:00:00Z"), NEW_YORK)
    assert november[1] - november[0] == (30 * 24 + 1) * HOUR


def test_new_york_repeated_hour_is_two_windows() -> None:
    # 01:30 EDT, then 01:30 EST an hour later: same wall clock, different windows.
    assert span("hour", "2024-11-03T05:30:00Z", NEW_YORK) == (
        "2024-11-03T05:00:00+00:00",
        "2024-11-03T06:00:00+00:00",
    )
    assert span("hour", "2024-11-03T06:30:00Z", NEW_YORK) == (
        "2024-11-03T06:00:00+00:00",
        "2024-11-03T07:00:00+00:00",
    )


def test_kolkata_half_hour_offset() -> None:
    # 01:30 IST on May 2nd.
    assert span("day", "2024-05-01T20:00:00Z", KOLKATA) == (
        "2024-05-01T18:30:00+00:00",
        "2024-05-02T18:30:00+00:00",
    )
    assert span("hour", "2024-05-01T20:00:00Z", KOLKATA) == (
        "2024-05-01T19:30:00+00:00",
        "2024-05-01T20:30:00+00:00",
    )
    # 00:30 IST on February 1st 2024: the customer's February (29 days) has begun.
    feb = window(per("month"), at("2024-01-31T19:00:00Z"), KOLKATA)
    assert [t.isoformat() for t in feb] == ["2024-01-31T18:30:00+00:00", "2024-02-29T18:30:00+00:00"]


def test_chatham_quarter_hour_offset_and_its_dst() -> None:
    # January: +13:45 (daylight time); July: +12:45.
    assert span("day", "2024-01-15T00:00:00Z", CHATHAM) == (
        "2024-01-14T10:15:00+00:00",
        "2024-01-15T10:15:00+00:00",
    )
    assert span("day", "2024-07-15T00:00:00Z", CHATHAM) == (
        "2024-07-14T11:15:00+00:00",
        "2024-07-15T11:15:00+00:00",
    )
    assert span("hour", "2024-07-15T00:00:00Z", CHATHAM) == (
        "2024-07-14T23:15:00+00:00",
        "2024-07-15T00:15:00+00:00",
    )
    assert span("minute", "2024-07-15T00:00:30Z", CHATHAM) == (
        "2024-07-15T00:00:00+00:00",
        "2024-07-15T00:01:00+00:00",
    )
    # Clocks go forward at 02:45 on 2024-09-29 and back at 03:45 on 2024-04-07.
    assert span("day", "2024-09-29T00:00:00Z", CHATHAM) == (
        "2024-09-28T11:15:00+00:00",
        "2024-09-29T10:15:00+00:00",
    )
    assert span("day", "2024-04-06T20:00:00Z", CHATHAM) == (
        "2024-04-06T10:15:00+00:00",
        "2024-04-07T11:15:00+00:00",
    )


def test_rolling_window_is_the_last_n_days_whatever_the_zone() -> None:
    limit = Limit(dimension="gpu_seconds", rolling_days=90, limit=1000)
    now = at("2024-05-30T10:00:00Z")
    for tz in (UTC_ZONE, NEW_YORK, CHATHAM):
        start, end = window(limit, now, tz)
        assert (start.isoformat(), end.isoformat()) == (
            "2024-03-01T10:00:00+00:00",
            "2024-05-30T10:00:00+00:00",
        )
    assert retry_after(limit, now, NEW_YORK) == 90 * 86400


@pytest.mark.parametrize(
    ("period", "now", "tz", "seconds"),
    [
        ("day", "2024-03-15T23:59:59Z", UTC_ZONE, 1.0),
        ("day", "2024-03-15T23:59:59.75Z", UTC_ZONE, 0.25),
        ("day", "2024-03-16T00:00:00Z", UTC_ZONE, 86400.0),
        ("month", "2024-02-29T23:59:59Z", UTC_ZONE, 1.0),
        ("month", "2024-12-31T23:59:59Z", UTC_ZONE, 1.0),
        # 23:59:59 EDT on the 23-hour day, then the first second of the next (24-hour) day.
        ("day", "2024-03-11T03:59:59Z", NEW_YORK, 1.0),
        ("day", "2024-03-10T05:00:00Z", NEW_YORK, 23 * 3600.0),
        ("day", "2024-05-02T18:29:59Z", KOLKATA, 1.0),
        ("minute", "2024-03-15T12:34:59.5Z", UTC_ZONE, 0.5),
    ],
)
def test_retry_after_until_the_window_resets(period: Period, now: str, tz: ZoneInfo, seconds: float) -> None:
    assert retry_after(per(period), at(now), tz) == seconds


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        window(per("day"), dt.datetime(2024, 1, 1), UTC_ZONE)


# Zones with the awkward cases: half- and quarter-hour offsets, southern-hemisphere DST, and
# changes at midnight (Santiago and Havana skip or repeat the hour after 00:00).
ZONES = [UTC_ZONE, NEW_YORK, KOLKATA, CHATHAM] + [
    ZoneInfo(z)
    for z in ("Europe/London", "Australia/Sydney", "America/Santiago", "America/Havana", "Asia/Kathmandu")
]
instants = st.datetimes(
    min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2060, 1, 1), timezones=st.just(dt.UTC)
)


@settings(deadline=None, max_examples=400)
@given(
    now=instants,
    tz=st.sampled_from(ZONES),
    period=st.sampled_from(["second", "minute", "hour", "day", "month"]),
)
def test_windows_contain_now_and_tile_time(now: dt.datetime, tz: ZoneInfo, period: Period) -> None:
    limit = per(period)
    start, end = window(limit, now, tz)
    assert start <= now < end
    assert window(limit, start, tz) == (start, end)  # the start belongs to its own window
    assert window(limit, end, tz)[0] == end  # the next window starts where this one ends
    assert window(limit, start - dt.timedelta(microseconds=1), tz)[1] == start
    if period in ("day", "month"):
        local_start, local_now = start.astimezone(tz), now.astimezone(tz)
        before = (start - dt.timedelta(microseconds=1)).astimezone(tz)
        if period == "day":
            assert local_start.date() == local_now.date() != before.date()
            assert end - start in (23 * HOUR, 24 * HOUR, 25 * HOUR)
        else:
            assert (local_start.year, local_start.month, local_start.day) == (
                local_now.year,
                local_now.month,
                1,
            )
            assert (before.year, before.month) != (local_now.year, local_now.month)


def test_where_usage_is_counted_calendar_windows_by_name_rolling_ones_by_utc_hour() -> None:
    from gateway.quota.windows import counter_window

    now = dt.datetime(2026, 3, 8, 7, 42, 10, tzinfo=dt.UTC)  # 03:42 EDT, the day clocks went forward
    day = Limit(dimension="requests", period="day", limit=1)
    assert counter_window(day, now, NEW_YORK) == (
        "day",
        dt.datetime(2026, 3, 8, 5, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 9, 4, tzinfo=dt.UTC),
        None,
    )
    rolling = Limit(dimension="requests", rolling_days=90, limit=1)
    name, start, end, since = counter_window(rolling, now, NEW_YORK)  # the zone plays no part
    assert name == "rolling:90"
    assert (start, end) == (
        dt.datetime(2026, 3, 8, 7, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 8, 8, tzinfo=dt.UTC),
    )
    assert since == dt.datetime(2025, 12, 8, 7, tzinfo=dt.UTC)  # 90 x 24 h before the hour
    with pytest.raises(ValueError):
        counter_window(rolling, now.replace(tzinfo=None), NEW_YORK)
