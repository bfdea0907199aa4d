"""One customer's model-API calls per day (UTC), for the charts of its account page."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
import msgspec

__all__ = ["DailyUsage", "daily_usage"]


class DailyUsage(msgspec.Struct, frozen=True):
    day: dt.date
    requests: int
    """Calls recorded that day, refused ones included (as the regulator reports count them)."""
    prompt_tokens: int
    completion_tokens: int

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


_DAILY = """
select (occurred_at at time zone 'UTC')::date as day, count(*) as requests,
       coalesce(sum(prompt_tokens), 0) as prompt_tokens,
       coalesce(sum(completion_tokens), 0) as completion_tokens
from usage_events
where customer_id = $1 and occurred_at >= $2 and occurred_at < $3
group by 1
order by 1
"""


async def daily_usage(
    conn: asyncpg.Connection, customer_id: uuid.UUID, *, first: dt.date, last: dt.date
) -> list[DailyUsage]:
    """The customer's calls and tokens on each UTC day from ``first`` to ``last`` (both included)
    that had any; the days without a call are absent."""
    since = dt.datetime.combine(first, dt.time(), dt.UTC)
    until = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), dt.UTC)
    rows = await conn.fetch(_DAILY, customer_id, since, until)
    return [
        DailyUsage(
            day=r["day"],
            requests=r["requests"],
            prompt_tokens=int(r["prompt_tokens"]),
            completion_tokens=int(r["completion_tokens"]),
        )
        for r in rows
    ]
