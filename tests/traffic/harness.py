"""Run an evaluation: load generated calls through an injected import, run an injected detector as
the continuous runner would (every ``every`` of simulated time, over the policy's window), score.

The two injected pieces are the seams in :mod:`tests.traffic.seams`: ``load_calls(pool, records)``
(the usage import path) and ``detect(conn, policy, since, until, *, now)`` (the engine).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any

import asyncpg

from gateway.detect.findings import Finding
from gateway.policy.model import Policy

from .evaluate import Flag, Planted, Report, evaluate
from .generator import Traffic

LoadCalls = Callable[[asyncpg.Pool, Iterable[dict[str, Any]]], Awaitable[None]]
Detect = Callable[..., Awaitable[list[Finding]]]
"""``detect(conn, policy, since, until, *, now) -> list[Finding]``."""


def planted(traffic: Traffic) -> list[Planted]:
    return [Planted(c.id, c.type, c.members, c.start) for c in traffic.campaigns]


def counted_records(
    traffic: Traffic, active: set[uuid.UUID], skip: set[uuid.UUID] | None = None
) -> Iterator[dict[str, Any]]:
    """The traffic's records, noting each active account on the way; ``skip``: request ids sent elsewhere."""
    for call in traffic.calls():
        active.add(call.customer_id)
        if skip is None or call.request_id not in skip:
            yield call.record()


async def detection_runs(
    pool: asyncpg.Pool,
    detect: Detect,
    policy: Policy,
    start: dt.datetime,
    end: dt.datetime,
    *,
    every: dt.timedelta,
) -> list[Flag]:
    """Every finding at or above the policy's flag cutoff, from runs at ``start + every``, ``+ 2 every``,
    ... up to ``end`` (always including ``end``), each scoring the policy's window before it."""
    window = dt.timedelta(days=policy.detection.window_days)
    cutoff = policy.detection.actions.flag
    flags: list[Flag] = []
    runs = []
    t = start + every
    while t < end:
        runs.append(t)
        t += every
    runs.append(end)
    for until in runs:
        async with pool.acquire() as conn:
            findings = await detect(conn, policy, max(start, until - window), until, now=until)
        flags += [
            Flag(f.kind, frozenset(f.members), until, f.first_seen, f.score)
            for f in findings
            if f.score >= cutoff
        ]
    return flags


async def run_evaluation(
    pool: asyncpg.Pool,
    traffic: Traffic,
    *,
    load_calls: LoadCalls,
    detect: Detect,
    policy: Policy,
    every: dt.timedelta = dt.timedelta(hours=12),
) -> Report:
    """Load the traffic (customers must be seeded), run detection as it would have run, score it."""
    active: set[uuid.UUID] = set()
    await load_calls(pool, counted_records(traffic, active))
    flags = await detection_runs(pool, detect, policy, traffic.start, traffic.end, every=every)
    legit = {c.id for c in traffic.labelled("legit_heavy")}
    days = (traffic.end - traffic.start).total_seconds() / 86_400
    return evaluate(planted(traffic), flags, legit_heavy=legit, active_accounts=len(active), days=days)
