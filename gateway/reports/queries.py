"""What the report builders need, read from the ledger, the KYC tables and the compute records.

Reads only: reports never change what they describe. The ledger's two tables are aggregated in
PostgreSQL, one pass each over the period (``usage_events_time``, ``compute_events_time``), per
customer, so that the rows that cross the wire are a few per customer whatever the period's
size; the jurisdiction's customers are picked from them afterwards (:mod:`.usage`). Measured
quantities are summed as ``numeric``: exact, hence the same digits whatever the plan's order.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Protocol

import asyncpg

from ..compute.flags import Flag, evaluate, linked_groups
from ..compute.records import compute_records, customers_with_compute, links
from ..kyc import repository as kyc_repo
from ..kyc.facts import Facts
from ..kyc.models import Owner
from ..kyc.screen import assess
from ..policy.model import Policy
from .model import ReportError
from .training import IdentityFacts, WorkloadRow
from .usage import ComputeRow, CustomerRow, HitRow, UsageRow


class KycReader(Protocol):
    """What opens a customer's sealed facts and owners (:class:`gateway.kyc.service.KycService`)."""

    async def facts(self, conn: asyncpg.Connection, customer_id: uuid.UUID) -> Facts | None: ...

    async def owners(self, conn: asyncpg.Connection, customer_id: uuid.UUID) -> list[Owner]: ...


async def customers(conn: asyncpg.Connection, until: dt.datetime) -> list[CustomerRow]:
    """Every customer created before ``until``."""
    rows = await conn.fetch(
        "select id::text, country, kyc_status, kyc_level, jurisdictions::text from customers"
        " where created_at < $1 order by id",
        until,
    )
    return [CustomerRow(r[0], r[1], r[2], r[3], r[4]) for r in rows]


_USAGE = """
select customer_id::text,
       case when status in (403, 429) then coalesce(error_code, 'http_' || status) end as refusal_code,
       count(*) as requests, coalesce(sum(prompt_tokens), 0) as prompt_tokens,
       coalesce(sum(completion_tokens), 0) as completion_tokens
from usage_events
where occurred_at >= $1 and occurred_at < $2
group by 1, 2
"""


async def usage(conn: asyncpg.Connection, since: dt.datetime, until: dt.datetime) -> list[UsageRow]:
    """Calls and tokens per customer and refusal code (403/429 only) in ``[since, until)``."""
    rows = await conn.fetch(_USAGE, since, until)
    return [UsageRow(r[0], r[1], r[2], int(r[3]), int(r[4])) for r in rows]


_COMPUTE = """
select customer_id::text, count(*), coalesce(sum(gpu_seconds::numeric), 0),
       coalesce(sum(flop_settled::numeric), 0)
from compute_events
where occurred_at >= $1 and occurred_at < $2
group by 1
"""


async def compute(conn: asyncpg.Connection, since: dt.datetime, until: dt.datetime) -> list[ComputeRow]:
    """Jobs that ended in ``[since, until)`` per customer: count, GPU-seconds and settled FLOP."""
    rows = await conn.fetch(_COMPUTE, since, until)
    return [ComputeRow(r[0], r[1], r[2], r[3]) for r in rows]


_HITS = """
select customer_id::text, state,
       count(*) filter (where created_at >= $1 and created_at < $2) as raised,
       count(*) filter (where decided_at >= $1 and decided_at < $2 and state in ('confirmed', 'dismissed'))
           as decided
from screening_hits
where (created_at >= $1 and created_at < $2) or (decided_at >= $1 and decided_at < $2)
group by 1, 2
"""


async def hits(conn: asyncpg.Connection, since: dt.datetime, until: dt.datetime) -> list[HitRow]:
    """Screening hits raised in the period (by their state now) and decided in it (by decision)."""
    rows = await conn.fetch(_HITS, since, until)
    return [HitRow(r[0], r[1], r[2], r[3]) for r in rows]


async def flags_at(
    conn: asyncpg.Connection, policy: Policy, at: dt.datetime, customers: Iterable[str] = ()
) -> list[Flag]:
    """The training-scale flags as an accounting pass at ``at`` raises them, from the jobs submitted
    before ``at`` (a job that has ended since counts with what it settled)."""
    window_days = policy.compute.window_days
    since = at - dt.timedelta(days=window_days)
    cutoff = at.timestamp()
    records = [r for r in await compute_records(conn, since) if r.submitted_at < cutoff]
    found = await links(conn)
    groups = linked_groups({*(await customers_with_compute(conn)), *customers}, found)
    return evaluate(
        records,
        groups,
        found,
        policy.thresholds.training,
        now=cutoff,
        window_days=window_days,
        utilisation=policy.compute.utilisation,
    )


_WORKLOADS = """
select id::text, cluster, job_id, customer_id::text, state, accelerator, gpus, time_limit_seconds,
       peak_flops_per_gpu, utilisation, gpu_seconds_settled, flop_bound, flop_expected, flop_settled, bio,
       submitted_at, started_at, ended_at
from workloads
where customer_id = any($1::uuid[]) and state in ('submitting', 'queued', 'running', 'ended')
order by submitted_at, id
"""


async def workloads(conn: asyncpg.Connection, customer_ids: Iterable[str]) -> list[WorkloadRow]:
    """The customers' cluster jobs (any time: the flag's job list picks those it counted)."""
    rows = await conn.fetch(_WORKLOADS, sorted(customer_ids))
    return [
        WorkloadRow(**{**dict(r), "state": "queued" if r["state"] == "submitting" else r["state"]})
        for r in rows
    ]


async def identity(conn: asyncpg.Connection, kyc: KycReader, customer_id: str) -> IdentityFacts:
    """One customer's KYC record, opened with the service's keys, and its ownership analysis."""
    cid = uuid.UUID(customer_id)
    row = await conn.fetchrow(
        "select id::text, name, kind, country, kyc_status, verified_at from customers where id = $1", cid
    )
    if row is None:
        raise ReportError(f"no customer with id {customer_id}")
    owners = await kyc.owners(conn, cid)
    report = assess(cid, owners, await kyc_repo.edges(conn, cid), await kyc_repo.hits(conn, cid)).report
    return IdentityFacts(
        id=row[0],
        name=row[1],
        kind=row[2],
        country=row[3],
        kyc_status=row[4],
        verified_at=row[5],
        facts=await kyc.facts(conn, cid),
        owners=owners,
        ownership=report,
    )
