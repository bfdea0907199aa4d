"""What a replica holds in memory for its quotas: the limits a caller has, leases and windows.

Plain state, no I/O: :mod:`.admission` decides with it, :mod:`.leasing` fills it from the database.
"""

from __future__ import annotations

import asyncio
import math
import uuid

from . import store
from .model import RATE_PERIOD_SECONDS, Limit
from .store import CounterKey


class Applied:
    """One limit as it applies to one caller: which counter, under which name."""

    __slots__ = ("gcra_key", "limit", "name", "rate_period", "scope_id", "slot_key")

    def __init__(self, limit: Limit, scope_id: str) -> None:
        self.limit = limit
        self.scope_id = scope_id
        window = limit.period if limit.period is not None else f"rolling:{limit.rolling_days}"
        self.name = f"{limit.scope}-{limit.dimension}-{window.replace(':', '')}"
        """The ``RateLimit-Policy`` name, e.g. ``key-requests-second``, ``customer-flop-month``."""
        self.rate_period = RATE_PERIOD_SECONDS.get(limit.period) if limit.period is not None else None
        self.slot_key = (limit.scope, scope_id, limit.dimension, window)
        self.gcra_key = self.slot_key


class Lease:
    """A block of one window's quota, held in this replica's memory."""

    __slots__ = ("amount", "available", "closed", "consumed", "deadline", "id", "inflight")

    def __init__(self, lease_id: uuid.UUID, amount: float, deadline: float) -> None:
        self.id = lease_id
        self.amount = amount
        self.available = amount
        self.inflight = 0.0
        """Estimates of requests not settled yet."""
        self.consumed = 0.0
        """What settled requests actually used."""
        self.deadline = deadline
        self.closed = False

    def close(self) -> tuple[uuid.UUID, float]:
        """Stop serving from this lease; what it returns counts unsettled estimates as used."""
        self.closed = True
        return self.id, self.consumed + self.inflight


class Slot:
    """This replica's view of one counter window: its leases, and whether it is exhausted."""

    __slots__ = ("end", "exhausted_until", "key", "last", "leases", "local", "refill", "start")

    def __init__(self, key: CounterKey) -> None:
        self.key = key
        self.start = key.window_start.timestamp()
        self.end = key.window_end.timestamp()
        self.leases: list[Lease] = []
        self.exhausted_until = -math.inf
        self.last: store.Counter | None = None
        """The counter as the last lease call saw it (for the headers of a refusal)."""
        self.refill: asyncio.Future[None] | None = None
        self.local = False
        """A rate window held per replica only, because the database could not be reached."""

    def lease_for(self, cost: float, mono: float) -> Lease | None:
        for lease in self.leases:
            if not lease.closed and lease.available >= cost and lease.deadline > mono:
                return lease
        return None


class Charge:
    __slots__ = ("applied", "cost", "key", "lease")

    def __init__(self, applied: Applied, cost: float, key: CounterKey | None, lease: Lease | None) -> None:
        self.applied = applied
        self.cost = cost
        self.key = key
        """The counter charged: a lease's window, or the window of a hard reservation."""
        self.lease = lease
        """None for a hard budget (reserved in the database) or a rate without a stored window."""
