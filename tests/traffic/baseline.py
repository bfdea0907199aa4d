"""A deliberately simple reference detector, to exercise the harness and the benchmark end to end
before the engine is merged (``--detect tests.traffic.baseline:detect``). Not the engine: three
rules over ``call_features``, no linkage graph, no scoring model.

- ring: accounts asking for reasoning in most calls, joined when they share a prompt template
  (``template_fp``) with another such account; components of 5 or more.
- extractor: one account with 10x the median volume, mostly reasoning, often logprobs.
- reseller: one account calling from 30+ networks with 20+ distinct system prompts.
"""

from __future__ import annotations

import datetime as dt
import statistics
import uuid
from typing import Any

import asyncpg

from gateway.detect.findings import Finding

_PER_ACCOUNT = """
select customer_id, count(*) as n, avg(reasoning::int) as cot, avg(logprobs::int) as lp,
       count(distinct network) as nets, count(distinct system_fp) as systems, min(occurred_at) as first
from call_features where occurred_at >= $1 and occurred_at < $2 group by customer_id
"""
_SHARED_TEMPLATES = """
select template_fp, array_agg(distinct customer_id) as accounts
from call_features where occurred_at >= $1 and occurred_at < $2 and template_fp is not null
group by template_fp having count(distinct customer_id) > 1
"""


async def detect(
    conn: asyncpg.Connection, policy: Any, since: dt.datetime, until: dt.datetime, *, now: dt.datetime
) -> list[Finding]:
    accounts = {r["customer_id"]: r for r in await conn.fetch(_PER_ACCOUNT, since, until)}
    if not accounts:
        return []
    median = statistics.median(r["n"] for r in accounts.values())
    out: list[Finding] = []

    def finding(kind: str, members: list[uuid.UUID], reason: str) -> Finding:
        first = min(accounts[m]["first"] for m in members)
        return Finding(kind=kind, members=tuple(sorted(members)), score=0.9, signals={}, reasons=(reason,),  # type: ignore[arg-type]
                       first_seen=first, since=since, until=until)  # fmt: skip

    for cid, r in accounts.items():
        if r["n"] >= 10 * median and r["cot"] >= 0.5 and r["lp"] >= 0.2:
            out.append(finding("extractor", [cid], "volume, reasoning and logprobs"))
        elif r["nets"] >= 30 and r["systems"] >= 20:
            out.append(finding("reseller", [cid], "many networks and system prompts"))
    parent: dict[uuid.UUID, uuid.UUID] = {}

    def root(x: uuid.UUID) -> uuid.UUID:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for row in await conn.fetch(_SHARED_TEMPLATES, since, until):
        eager = [a for a in row["accounts"] if accounts[a]["cot"] >= 0.5]
        for a in eager[1:]:
            parent[root(a)] = root(eager[0])
    groups: dict[uuid.UUID, list[uuid.UUID]] = {}
    for a in list(parent):
        groups.setdefault(root(a), []).append(a)
    out += [finding("ring", g, "shared templates, reasoning") for g in groups.values() if len(g) >= 5]
    return out
