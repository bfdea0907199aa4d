"""One detection run over a window of the ledger: read the aggregates, link, score.

:func:`detect` is deterministic: the same ledger and window give the same findings in the same
order (sorted reads, a fixed Louvain seed, no clock but the ``now`` it is given).
"""

from __future__ import annotations

import datetime as dt
import math

import asyncpg

from ..policy.model import Policy
from .findings import Finding
from .linkage import cluster
from .queries import Window, read_window
from .score import findings
from .signals import HOUR, cohort

WORK_MEM = "256MB"
"""For the run's own transaction: the per-account aggregates hash in memory instead of spilling."""


async def detect(
    conn: asyncpg.Connection, policy: Policy, since: dt.datetime, until: dt.datetime, *, now: dt.datetime
) -> list[Finding]:
    """Score the accounts active in ``[since, until)`` and their linked clusters; return the findings
    that reach the policy's ``flag`` cutoff (rings, then extractors, then resellers; strongest first).

    The window is clipped at ``now`` (hours not yet lived are not quiet hours). Reads run in one
    read-only repeatable-read transaction when the caller is not already in one, so every aggregate
    comes from the same snapshot.
    """
    until = min(until, now)
    if until <= since:
        return []
    if conn.is_in_transaction():
        window = await read_window(conn, since, until)
    else:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            # JIT compiling the aggregates costs more than it saves on a window's few passes.
            await conn.execute(f"set local work_mem = '{WORK_MEM}'; set local jit = off")
            window = await read_window(conn, since, until)
    return score_window(window, policy, since, until)


def score_window(window: Window, policy: Policy, since: dt.datetime, until: dt.datetime) -> list[Finding]:
    """The pure half of :func:`detect`, for tests and replays of recorded windows."""
    if not window.stats:
        return []
    hours = max(1, math.ceil((until - since) / HOUR))
    clusters = cluster(
        [s.customer_id for s in window.stats],
        {s.customer_id: s.hourly for s in window.stats},
        {s.customer_id: s.calls for s in window.stats},
        {s.customer_id: s.band_calls for s in window.stats},
        window.hard,
        window.postings,
        hours=hours,
        offset=since.astimezone(dt.UTC).hour,
    )
    return findings(
        window.stats,
        clusters,
        since,
        until,
        cutoff=policy.detection.actions.flag,
        base=cohort(window.stats),
    )
