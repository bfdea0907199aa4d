"""Admission in memory: a request's estimate taken out of GCRA state and leases, and settled back.

Nothing here awaits: a pass over a caller's limits either charges every one of them or none
(:meth:`LocalQuota.take`), and says which windows need a lease from the database first
(:mod:`.leasing`). What a settled request did not use goes back to the lease it came from;
what must reach the database is queued for the :mod:`.writer`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import TooManyRequests
from .gcra import gcra
from .leases import Applied, Charge, Slot
from .refusals import admitted_headers, exhausted, rate_refusal
from .store import CounterKey
from .windows import counter_window

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from .leasing import Leasing
    from .model import Usage
    from .writer import Writer

_UTC = dt.UTC

_Key = tuple[str, str, str, str]
"""A counter of one caller's limit: (scope, scope id, dimension, window) (:class:`Applied`)."""


class Admission:
    """What one admitted request holds; :meth:`settle` it once, whatever happens to the request."""

    __slots__ = ("charges", "estimate", "quota", "settled")

    def __init__(self, quota: LocalQuota, charges: list[Charge], estimate: Usage) -> None:
        self.quota = quota
        self.charges = charges
        self.estimate = estimate
        self.settled = False

    def settle(self, actual: Usage) -> None:
        if not self.settled:
            self.settled = True
            self.quota.settle(self, actual)

    def headers(self) -> list[tuple[bytes, bytes]]:
        """Where the caller stands after this request: rate-limit headers for the response."""
        return self.quota.headers(self)


class LocalQuota:
    """This replica's share of every quota, in memory: GCRA state per rate, leased windows per budget."""

    __slots__ = ("_leasing", "_mono", "_wall", "_writer", "lease_ttl", "retired", "slots", "tats")

    def __init__(
        self,
        leasing: Leasing,
        writer: Writer,
        *,
        lease_ttl: float,
        wall: Callable[[], float],
        mono: Callable[[], float],
    ) -> None:
        self._leasing = leasing
        self._writer = writer
        self.lease_ttl = lease_ttl
        self._wall = wall
        self._mono = mono
        self.tats: dict[_Key, float] = {}
        """Each rate's GCRA theoretical arrival time (monotonic clock)."""
        self.slots: dict[_Key, Slot] = {}
        """Each counter's current window."""
        self.retired: list[Slot] = []
        """Windows replaced by the next one, until the sweeper has returned their leases."""

    def slot(self, a: Applied, wall: float, tz: ZoneInfo) -> Slot:
        """The counter's window at ``wall``; a window that has ended is retired for a new one."""
        slot = self.slots.get(a.slot_key)
        if slot is not None and slot.start <= wall < slot.end:
            return slot
        name, start, end, since = counter_window(a.limit, dt.datetime.fromtimestamp(wall, _UTC), tz)
        key = CounterKey(a.limit.scope, a.scope_id, a.limit.dimension, name, start, end, since)
        if slot is not None:
            self.retired.append(slot)  # its leases are returned by the sweeper
        slot = self.slots[a.slot_key] = Slot(key)
        return slot

    def take(
        self, applied: list[Applied], estimate: Usage, tz: ZoneInfo
    ) -> tuple[list[Charge], list[tuple[Slot, Applied, float]]]:
        """One pass over the limits, all in memory: the charges, or the windows to lease first.

        Each limit is charged as it is checked; if one refuses (raised) or needs a lease first,
        what was charged is undone, so that a request is admitted by every limit or by none.
        """
        mono = self._mono()
        wall = self._wall()
        tats = self.tats
        slots = self.slots
        charges: list[Charge] = []
        rates: list[tuple[_Key, float]] = []
        refills: list[tuple[Slot, Applied, float]] = []
        try:
            for a in applied:
                limit = a.limit
                cost: float = getattr(estimate, limit.dimension)  # estimate.get(), without the call
                if cost <= 0:
                    continue
                if a.rate_period is not None:
                    tat = tats.get(a.gcra_key, 0.0)
                    ok, new_tat, wait, remaining = gcra(
                        tat, mono, rate=limit.limit, period_seconds=a.rate_period, cost=cost
                    )
                    if not ok:
                        slot = self.slot(a, wall, tz)
                        raise rate_refusal(a, slot, cost, tat, wait, remaining, mono, wall)
                    rates.append((a.gcra_key, tat))
                    tats[a.gcra_key] = new_tat
                if limit.hard:
                    continue
                held = slots.get(a.slot_key)
                # self.slot()'s own first check, without the call; else the window is due for a new one
                slot = held if held is not None and held.start <= wall < held.end else self.slot(a, wall, tz)
                if slot.local:
                    charges.append(Charge(a, cost, None, None))  # the GCRA above is all there is
                    continue
                lease = slot.lease_for(cost, mono)
                if lease is None:
                    if slot.exhausted_until > mono or cost > limit.limit:
                        raise exhausted(a, slot, wall, tz, self.lease_ttl, never=cost > limit.limit)
                    refills.append((slot, a, cost))
                    continue
                lease.available -= cost
                lease.inflight += cost
                charges.append(Charge(a, cost, slot.key, lease))
        except TooManyRequests:
            self._undo(charges, rates)
            raise
        if refills:
            self._undo(charges, rates)
            return [], refills
        for charge in charges:
            lease = charge.lease
            if lease is not None and lease.available < lease.amount / 4 and lease.amount >= 8 * charge.cost:
                current = self.slots.get(charge.applied.slot_key)
                if current is not None and current.refill is None:
                    # Running low: fetch the next block now, so that no request waits for it. Not
                    # for blocks of a few requests: that would take a small budget's last units
                    # ahead of need.
                    self._leasing.spawn(self._leasing.refill(current, charge.applied, charge.cost))
        return charges, []

    def _undo(self, charges: list[Charge], rates: list[tuple[_Key, float]]) -> None:
        for key, tat in reversed(rates):
            self.tats[key] = tat
        for charge in charges:
            if charge.lease is not None:
                charge.lease.available += charge.cost
                charge.lease.inflight -= charge.cost

    def settle(self, admission: Admission, actual: Usage) -> None:
        """Charge what the request used instead of its estimate (call :meth:`Admission.settle`)."""
        mono = self._mono()
        for charge in admission.charges:
            a = charge.applied
            used: float = getattr(actual, a.limit.dimension)
            if a.rate_period is not None and used < charge.cost and a.limit.limit > 0:
                # Give back the part of the rate the request did not use (it moved the TAT on).
                tat = self.tats.get(a.gcra_key)
                if tat is not None:
                    interval = a.rate_period / a.limit.limit
                    self.tats[a.gcra_key] = (
                        max(mono, tat - (charge.cost - used) * interval) if tat > mono else tat
                    )
            lease = charge.lease
            if lease is None:
                if charge.key is not None:  # a hard budget's reservation
                    self._writer.settle(charge.key, charge.cost, used)
            elif not lease.closed:
                lease.inflight -= charge.cost
                lease.consumed += used
                lease.available += charge.cost - used
                if used < charge.cost:
                    slot = self.slots.get(a.slot_key)
                    if slot is not None and slot.exhausted_until > mono:
                        # What this replica holds has grown: pooled, its leases may fit a request
                        # that none of them fits alone, so the next refusal asks the database again.
                        slot.exhausted_until = -math.inf
            else:
                # Returned already, with this request's estimate counted as used: correct it.
                assert charge.key is not None
                if used != charge.cost:
                    self._writer.settle(charge.key, 0.0, used - charge.cost)

    def headers(self, admission: Admission) -> list[tuple[bytes, bytes]]:
        return admitted_headers(admission.charges, self.tats, self.slots, self._mono(), self._wall())

    def sweep(self) -> int:
        """Close the leases due back (half their TTL gone, or their window over); queue their return."""
        mono = self._mono()
        wall = self._wall()
        returns = self._writer.returns
        closed = 0
        for slot in [*self.slots.values(), *self.retired]:
            ended = wall >= slot.end
            for lease in slot.leases:
                if not lease.closed and (ended or lease.deadline <= mono):
                    returns.append(lease.close())
                    closed += 1
            slot.leases = [lease for lease in slot.leases if not lease.closed]
        self.retired = [slot for slot in self.retired if slot.leases]
        for k, slot in list(self.slots.items()):
            if wall >= slot.end and not slot.leases:
                del self.slots[k]
        # An idle rate counter is the same as a fresh one: forget it.
        self.tats = {k: tat for k, tat in self.tats.items() if tat > mono}
        if closed:
            self._writer.wake.set()
        return closed

    def close_all(self) -> None:
        """Close every lease and queue its return (shutdown): nothing is served from memory after."""
        for slot in [*self.slots.values(), *self.retired]:
            for lease in slot.leases:
                if not lease.closed:
                    self._writer.returns.append(lease.close())
        self.slots.clear()
        self.retired.clear()
