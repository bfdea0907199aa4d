"""Reading the ledger: model-API calls (``usage_events``) and cluster jobs (``compute_events``).

The one place regulator reports and detection read usage from: what a customer called, and what
its jobs computed, over any period.
"""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
import msgspec

from .events import COMPUTE_COLUMNS, USAGE_COLUMNS, ComputeEvent, UsageEvent

_LIST = f"select {', '.join(USAGE_COLUMNS)} from usage_events"  # noqa: S608 - column names are ours
_LIST_COMPUTE = f"select {', '.join(COMPUTE_COLUMNS)} from compute_events"  # noqa: S608 - ours too


async def list_usage(
    conn: asyncpg.Connection, *, limit: int = 50, customer_id: uuid.UUID | None = None
) -> list[UsageEvent]:
    """Newest first; optionally one customer's."""
    rows = await conn.fetch(
        _LIST
        + " where ($2::uuid is null or customer_id = $2) order by occurred_at desc, request_id limit $1",
        limit,
        customer_id,
    )
    return [
        UsageEvent(**{**dict(r), "client_ip": str(r["client_ip"]) if r["client_ip"] is not None else None})
        for r in rows
    ]


async def list_compute(
    conn: asyncpg.Connection, *, limit: int = 50, customer_id: uuid.UUID | None = None
) -> list[ComputeEvent]:
    """Settled cluster jobs, the latest to end first; optionally one customer's."""
    rows = await conn.fetch(
        _LIST_COMPUTE
        + " where ($2::uuid is null or customer_id = $2) order by occurred_at desc, workload_id limit $1",
        limit,
        customer_id,
    )
    return [ComputeEvent(**dict(r)) for r in rows]


class CustomerUsage(msgspec.Struct, frozen=True, kw_only=True):
    """One customer's use of everything the gateway fronts, over a period."""

    customer_id: uuid.UUID
    requests: int
    """Calls recorded (model APIs and cluster APIs, refused ones included)."""
    prompt_tokens: int
    completion_tokens: int
    jobs: int
    """Cluster jobs that ended in the period."""
    gpu_seconds: float
    flop: float
    """What those jobs are counted to have computed (settled FLOP)."""


_SUMMARY = """
with calls as (
    select customer_id, count(*) as requests, coalesce(sum(prompt_tokens), 0) as prompt_tokens,
           coalesce(sum(completion_tokens), 0) as completion_tokens
    from usage_events
    where occurred_at >= $1 and occurred_at < $2 and ($3::uuid is null or customer_id = $3)
    group by customer_id
), jobs as (
    select customer_id, count(*) as jobs, sum(gpu_seconds) as gpu_seconds, sum(flop_settled) as flop
    from compute_events
    where occurred_at >= $1 and occurred_at < $2 and ($3::uuid is null or customer_id = $3)
    group by customer_id
)
select coalesce(calls.customer_id, jobs.customer_id) as customer_id,
       coalesce(calls.requests, 0) as requests, coalesce(calls.prompt_tokens, 0) as prompt_tokens,
       coalesce(calls.completion_tokens, 0) as completion_tokens, coalesce(jobs.jobs, 0) as jobs,
       coalesce(jobs.gpu_seconds, 0) as gpu_seconds, coalesce(jobs.flop, 0) as flop
from calls full join jobs on calls.customer_id = jobs.customer_id
order by customer_id
"""


async def usage_summary(
    conn: asyncpg.Connection,
    *,
    since: dt.datetime,
    until: dt.datetime,
    customer_id: uuid.UUID | None = None,
) -> list[CustomerUsage]:
    """Per customer, its calls and tokens and its jobs' compute in ``[since, until)``."""
    rows = await conn.fetch(_SUMMARY, since, until, customer_id)
    return [
        CustomerUsage(
            customer_id=r["customer_id"],
            requests=r["requests"],
            prompt_tokens=int(r["prompt_tokens"]),
            completion_tokens=int(r["completion_tokens"]),
            jobs=r["jobs"],
            gpu_seconds=float(r["gpu_seconds"]),
            flop=float(r["flop"]),
        )
        for r in rows
    ]


class CustomerTraffic(msgspec.Struct, frozen=True, kw_only=True):
    """One customer's model-API calls over a period, and how many were refused, by error code."""

    customer_id: uuid.UUID
    requests: int
    prompt_tokens: int
    completion_tokens: int
    refused: int
    """Calls that ended with an error code (refused by the gateway, or failed upstream)."""
    refusals: dict[str, int]


_TRAFFIC = """
select customer_id, error_code, count(*) as requests, coalesce(sum(prompt_tokens), 0) as prompt_tokens,
       coalesce(sum(completion_tokens), 0) as completion_tokens
from usage_events
where occurred_at >= $1 and occurred_at < $2
group by customer_id, error_code
order by customer_id, error_code
"""


async def traffic(
    conn: asyncpg.Connection, *, since: dt.datetime, until: dt.datetime
) -> list[CustomerTraffic]:
    """Per customer, its calls, tokens and refusals by code in ``[since, until)``: the operators'
    live view (one grouped scan of the time index; the codes are folded here)."""
    folded: dict[uuid.UUID, CustomerTraffic] = {}
    for r in await conn.fetch(_TRAFFIC, since, until):
        cid = r["customer_id"]
        was = folded.get(cid) or CustomerTraffic(
            customer_id=cid, requests=0, prompt_tokens=0, completion_tokens=0, refused=0, refusals={}
        )
        code = r["error_code"]
        folded[cid] = CustomerTraffic(
            customer_id=cid,
            requests=was.requests + r["requests"],
            prompt_tokens=was.prompt_tokens + int(r["prompt_tokens"]),
            completion_tokens=was.completion_tokens + int(r["completion_tokens"]),
            refused=was.refused + (r["requests"] if code is not None else 0),
            refusals={**was.refusals, code: r["requests"]} if code is not None else was.refusals,
        )
    return list(folded.values())


async def recent_refusals(
    conn: asyncpg.Connection, *, since: dt.datetime, limit: int = 50
) -> list[UsageEvent]:
    """Calls that ended with an error code since ``since``, newest first."""
    rows = await conn.fetch(
        _LIST + " where occurred_at >= $1 and error_code is not null"
        " order by occurred_at desc, request_id limit $2",
        since,
        limit,
    )
    return [
        UsageEvent(**{**dict(r), "client_ip": str(r["client_ip"]) if r["client_ip"] is not None else None})
        for r in rows
    ]
