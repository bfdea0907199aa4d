"""What training-scale flags are computed from, read from the database.

- **Compute records**: every cluster job (workload) submitted in the window, with what it
  computed (ended) or is expected to compute (queued or running: bound x utilisation).
- **Links** between customers that may be one actor: a beneficial owner with the same keyed
  name index (the same normalised name and country, compared without decrypting either), the
  same payment instrument (its keyed fingerprint), and an onboarding or administration call
  from the same IP address.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING

import asyncpg
import msgspec

from .flags import ComputeRecord, Flag, Link

if TYPE_CHECKING:
    from ..policy.model import Policy


async def compute_records(conn: asyncpg.Connection, since: dt.datetime) -> list[ComputeRecord]:
    rows = await conn.fetch(
        """
        select cluster || ':' || coalesce(job_id, id::text) as job, customer_id::text as customer, state,
               extract(epoch from submitted_at)::float8 as submitted_at,
               extract(epoch from ended_at)::float8 as ended_at, flop_settled, flop_expected, bio
        from workloads
        where state in ('submitting', 'queued', 'running', 'ended') and (ended_at is null or ended_at > $1)
        """,
        since,
    )
    return [
        ComputeRecord(
            job=r["job"],
            customer=r["customer"],
            state="queued" if r["state"] == "submitting" else r["state"],
            submitted_at=r["submitted_at"],
            ended_at=r["ended_at"],
            flop_settled=r["flop_settled"] if r["state"] == "ended" else 0.0,
            flop_expected=r["flop_expected"] if r["state"] != "ended" else 0.0,
            bio=r["bio"],
        )
        for r in rows
    ]


async def links(conn: asyncpg.Connection) -> list[Link]:
    """Pairs of customers that share a beneficial owner or an access IP address."""
    found: list[Link] = []
    owners = await conn.fetch(
        """
        select distinct least(a.customer_id, b.customer_id)::text as x,
                        greatest(a.customer_id, b.customer_id)::text as y
        from owners a join owners b
          on a.name_index = b.name_index and a.customer_id <> b.customer_id
        where a.name_index is not null
        """
    )
    found += [
        Link(a=r["x"], b=r["y"], reason="a beneficial owner with the same name and country") for r in owners
    ]
    ips = await conn.fetch(
        """
        select distinct least(a.customer_id, b.customer_id)::text as x,
                        greatest(a.customer_id, b.customer_id)::text as y, host(a.ip) as ip
        from customer_access_log a join customer_access_log b
          on a.ip = b.ip and a.customer_id <> b.customer_id
        where a.ip is not null and not (a.ip << inet '127.0.0.0/8' or a.ip << inet '::1/128')
        """
    )
    found += [Link(a=r["x"], b=r["y"], reason=f"accessed from the same address {r['ip']}") for r in ips]
    payments = await conn.fetch(
        """
        select distinct least(a.customer_id, b.customer_id)::text as x,
                        greatest(a.customer_id, b.customer_id)::text as y
        from payment_fingerprints a join payment_fingerprints b
          on a.fingerprint = b.fingerprint and a.customer_id <> b.customer_id
        """
    )
    found += [
        Link(a=r["x"], b=r["y"], reason="the same payment instrument (keyed fingerprint)") for r in payments
    ]
    return found


async def customers_with_compute(conn: asyncpg.Connection) -> list[str]:
    return [str(r[0]) for r in await conn.fetch("select distinct customer_id from workloads")]


async def gpu_seconds(conn: asyncpg.Connection, customer_id: uuid.UUID, since: dt.datetime) -> float:
    value = await conn.fetchval(
        "select coalesce(sum(gpu_seconds_settled), 0) from workloads where customer_id = $1"
        " and state = 'ended' and ended_at > $2",
        customer_id,
        since,
    )
    return float(value)


async def group_compute(
    conn: asyncpg.Connection, customer_id: uuid.UUID, since: dt.datetime, *, lock: bool = False
) -> tuple[list[str], float, float]:
    """The customer's linked group, and its compute in the window: ``(group, all, biological)``.

    Settled compute of ended jobs plus expected compute of the others (being submitted, queued,
    running), as flags count it. ``lock``: first take the group's transaction-scoped advisory lock
    (keyed by its smallest customer id), so that concurrent submissions of one group are decided
    one after the other.
    """
    from .flags import linked_groups

    found = await links(conn)
    me = str(customer_id)
    group = sorted(linked_groups({me}, found).get(me, frozenset({me})))
    if lock:
        await conn.execute(
            "select pg_advisory_xact_lock(hashtextextended('training-group:' || $1, 0))", group[0]
        )
    row = await conn.fetchrow(
        """
        select coalesce(sum(case when state = 'ended' then flop_settled else flop_expected end), 0),
               coalesce(sum(case when state = 'ended' then flop_settled else flop_expected end)
                        filter (where bio), 0)
        from workloads
        where customer_id = any($1::uuid[]) and state in ('submitting', 'queued', 'running', 'ended')
          and (ended_at is null or ended_at > $2)
        """,
        group,
        since,
    )
    return group, float(row[0]), float(row[1])


class Accounting(msgspec.Struct, frozen=True):
    """One accounting pass: what was counted, how customers are linked, and the flags raised."""

    since: dt.datetime
    records: list[ComputeRecord]
    links: list[Link]
    groups: dict[str, frozenset[str]]
    flags: list[Flag]


async def accounting_pass(
    conn: asyncpg.Connection, policy: Policy, *, now: float, customers: Iterable[str] = ()
) -> Accounting:
    """Read the window's compute and the links, group the customers, evaluate every threshold.

    What ``gateway compute flags`` and ``compute show`` print, and what the benchmark times.
    ``customers`` adds customers with no compute of their own (so that they get a group too).
    """
    from .flags import evaluate, linked_groups

    window_days = policy.compute.window_days
    since = dt.datetime.fromtimestamp(now - window_days * 86400, dt.UTC)
    records = await compute_records(conn, since)
    found = await links(conn)
    groups = linked_groups({*(await customers_with_compute(conn)), *customers}, found)
    flags = evaluate(
        records,
        groups,
        found,
        policy.thresholds.training,
        now=now,
        window_days=window_days,
        utilisation=policy.compute.utilisation,
    )
    return Accounting(since=since, records=records, links=found, groups=groups, flags=flags)
