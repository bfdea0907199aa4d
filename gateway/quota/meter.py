"""Admission against every limit a request is held to, served from memory.

PostgreSQL holds the truth (:mod:`.store`); a replica serves requests from what it holds:

- **Rates** (per second, minute, hour) are smooth on each replica (GCRA, one float per
  counter) and counted across replicas in the rate's window, like a budget.
- **Budgets and rate windows** are served from **leases**: blocks of the window's remaining
  quota taken from the database, at most ``lease_fraction`` of the limit and at most
  ``lease_share`` of what is left (so the tail of a budget is spread over the replicas that ask
  for it rather than stranded in one). A request takes its estimate out of a lease in memory;
  the database is asked only for the next block. A lease is returned (what it served counted
  as used, the rest back to the pool) after ``lease_ttl / 2``, when its window ends, and on
  shutdown; one that is never returned expires after ``lease_ttl`` and any replica takes it
  back, counted as used.
- **Hard budgets** (FLOP caps) are reserved in the database per request: zero overshoot.

What the bound is: leases are carved out of the budget, so requests admitted across all
replicas never take more *estimates* than the limit. Settlement then charges what a request
really used, which for output tokens is at most the estimate (``max_tokens``) and for input
tokens can exceed it (the prompt estimate is ``bytes / 4``): the only overshoot. The price of
leases is the other way: quota leased to one replica and unused is refused to the others until
it is returned (at most ``lease_ttl / 2``).

The hot path awaits the database only when no lease covers a request (the first request of a
window on this replica, or a block used up) and for hard budgets. With the database down, a
replica serves from the leases it holds, then refuses with 503 ``quota_unavailable``; what
it has served is returned to the database once it is back (and the usage ledger has every
request regardless).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import math
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import asyncpg
import structlog

from ..errors import Forbidden, ServiceUnavailable, TooManyRequests
from . import store
from .gcra import gcra, reset_after
from .headers import ratelimit_headers, served_headers
from .leases import Applied, Charge, Lease, Slot
from .model import COUNTED, Limit, Usage
from .resolve import caps_to_limits, limits_for, plan_limits
from .store import CounterKey, retrying, sort_key
from .windows import counter_window, retry_after

if TYPE_CHECKING:
    from ..identity import Principal
    from ..kyc.standing import Standing, StandingCache
    from ..policy.model import Policy
    from .overrides import OverrideCache

_log = structlog.get_logger("gateway.quota")
_UTC = dt.UTC
_RECHECK_SECONDS = 1.0
"""An exhausted window is asked again this often (others may return leases, or a limit be raised)."""
_DB_BACKOFF_SECONDS = 1.0
"""After a failed database call, refills fail fast for this long instead of each waiting for it."""
_NO_RETRY_BEYOND = 60.0
"""A refusal lasting longer gets ``x-should-retry: false``: SDKs stop retrying instead of backing off."""


def _unpriced() -> Forbidden:
    return Forbidden(
        "a spend limit applies to this customer and what it asks for has no price in the provider's"
        " price table (policies: model_prices, gpu_prices); ask the provider to price it",
        code="unpriced",
    )


class Admission:
    """What one admitted request holds; :meth:`settle` it once, whatever happens to the request."""

    __slots__ = ("charges", "estimate", "meter", "settled")

    def __init__(self, meter: QuotaMeter, charges: list[Charge], estimate: Usage) -> None:
        self.meter = meter
        self.charges = charges
        self.estimate = estimate
        self.settled = False

    def settle(self, actual: Usage) -> None:
        if not self.settled:
            self.settled = True
            self.meter._settle(self, actual)

    def headers(self) -> list[tuple[bytes, bytes]]:
        """Where the caller stands after this request: rate-limit headers for the response."""
        return self.meter._served_headers(self)


class _Plan:
    __slots__ = ("applied", "overrides", "policy", "spends", "standing")

    def __init__(self, standing: Standing, overrides: object, policy: object, applied: list[Applied]) -> None:
        self.standing = standing
        self.overrides = overrides
        self.policy = policy
        self.applied = applied
        self.spends = any(a.limit.dimension == "spend" for a in applied)
        """A spend limit applies: what cannot be priced is refused."""


class QuotaMeter:
    """Every replica's quota engine: admit (reserve), settle, and the leases behind both."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        standings: StandingCache,
        overrides: OverrideCache,
        policy: Callable[[], Policy],
        *,
        replica: str | None = None,
        lease_ttl: float = 30.0,
        lease_fraction: float = 0.1,
        lease_share: float = 0.5,
        db_timeout: float = 2.0,
        wall: Callable[[], float] = time.time,
        mono: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pool = pool
        self._standings = standings
        self._overrides = overrides
        self._policy = policy
        self.replica = replica or f"{uuid.uuid4().hex[:12]}"
        self.lease_ttl = lease_ttl
        self.lease_fraction = lease_fraction
        self.lease_share = lease_share
        self.db_timeout = db_timeout
        self._wall = wall
        self._mono = mono
        self._plans: dict[tuple[uuid.UUID, uuid.UUID, str], _Plan] = {}
        self._tats: dict[tuple[str, str, str, str], float] = {}
        self._slots: dict[tuple[str, str, str, str], Slot] = {}
        self._retired: list[Slot] = []
        self._settles: list[tuple[CounterKey, float, float]] = []
        self._returns: list[tuple[uuid.UUID, float]] = []
        self._wake = asyncio.Event()
        self._db_down_until = -math.inf
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[None]] = set()

    # -- which limits ---------------------------------------------------------------

    def limits(self, principal: Principal) -> list[Applied]:
        """The limits this caller is held to, rebuilt only when its standing, overrides or policy change."""
        return self._plan(principal).applied

    def _plan(self, principal: Principal) -> _Plan:
        standing = self._standings.standing(principal.customer_id)
        if standing is None or standing.entitlement is None:
            # KnowCustomer has let this customer through, so this is a race with a change: fail closed.
            raise ServiceUnavailable(
                "quotas cannot be checked right now; retry shortly", code="quota_unavailable"
            )
        overrides = self._overrides.get(principal.customer_id)
        policy = self._policy()
        key = (principal.customer_id, principal.project_id, principal.key_id)
        plan = self._plans.get(key)
        if (
            plan is None
            or plan.standing is not standing
            or plan.overrides is not overrides
            or plan.policy is not policy
        ):
            entitlement = standing.entitlement
            limits = limits_for(
                {
                    "customer": str(principal.customer_id),
                    "project": str(principal.project_id),
                    "key": principal.key_id,
                },
                caps=caps_to_limits(entitlement.caps, f"policy:{entitlement.rule}.caps"),
                plans=plan_limits(policy, entitlement.tier, standing.facts.kyc_level),
                overrides=overrides,
            )
            if len(self._plans) >= 100_000:
                self._plans.clear()
            plan = self._plans[key] = _Plan(
                standing, overrides, policy, [Applied(lim, sid) for lim, sid in limits]
            )
        return plan

    def _priced_plan(self, principal: Principal, usage: Usage) -> _Plan:
        """The caller's plan; 403 ``unpriced`` if a spend limit applies and ``usage`` has no price."""
        plan = self._plan(principal)
        if plan.spends and math.isnan(usage.spend):
            raise _unpriced()
        return plan

    # -- admission ------------------------------------------------------------------

    async def admit(self, principal: Principal, estimate: Usage) -> Admission:
        """Reserve ``estimate`` against every limit, or raise 429 (which limit, when to retry) or 503."""
        plan = self._priced_plan(principal, estimate)
        applied, tz = plan.applied, plan.standing.tz
        hard: list[Charge] = []
        try:
            for a in applied:
                cost = estimate.get(a.limit.dimension)
                if a.limit.hard and cost > 0:
                    hard.append(await self._reserve_hard(a, cost, tz))
            for _ in range(5):
                charges, refills = self._take(applied, estimate, tz)
                if not refills:
                    return Admission(self, hard + charges, estimate)
                await asyncio.gather(*(self._refill(slot, a, cost) for slot, a, cost in refills))
            # Other requests took each block before this one could: the replica is overrun.
            raise TooManyRequests(
                "quota is being handed out faster than it can be served; retry shortly",
                code="rate_limited",
                headers=[(b"retry-after", b"1"), (b"retry-after-ms", b"200")],
            )
        except BaseException:
            for charge in hard:
                assert charge.key is not None
                self._queue_settle(charge.key, charge.cost, 0.0)
            raise

    async def reserve_in_database(self, principal: Principal, usage: Usage) -> list[tuple[CounterKey, float]]:
        """Reserve ``usage`` on every limit it touches, each in the database: a cluster job's bound.

        Unlike :meth:`admit`, nothing is served from a lease: a job's GPU-seconds and FLOP are
        reserved for as long as it runs (hours), survive restarts in its workload record, and are
        settled by whichever replica sees it end. ``requests`` are left to :meth:`admit`.
        Raises 429 ``budget_exhausted`` (nothing kept reserved) or 503 ``quota_unavailable``.
        """
        plan = self._priced_plan(principal, usage)
        applied, tz = plan.applied, plan.standing.tz
        done: list[Charge] = []
        try:
            for a in applied:
                cost = usage.get(a.limit.dimension)
                if cost > 0 and a.limit.dimension != "requests":
                    done.append(await self._reserve_hard(a, cost, tz))
        except BaseException:
            self.release_in_database([(c.key, c.cost) for c in done if c.key is not None])
            raise
        return [(c.key, c.cost) for c in done if c.key is not None]

    def release_in_database(self, reservations: list[tuple[CounterKey, float]]) -> None:
        """Give back reservations of :meth:`reserve_in_database` that were never used (written soon)."""
        for key, amount in reservations:
            self._queue_settle(key, amount, 0.0)

    def _take(
        self, applied: list[Applied], estimate: Usage, tz: ZoneInfo
    ) -> tuple[list[Charge], list[tuple[Slot, Applied, float]]]:
        """One pass over the limits, all in memory: the charges, or the windows to lease first.

        Each limit is charged as it is checked; if one refuses (raised) or needs a lease first,
        what was charged is undone, so that a request is admitted by every limit or by none.
        """
        mono = self._mono()
        wall = self._wall()
        tats = self._tats
        charges: list[Charge] = []
        rates: list[tuple[tuple[str, str, str, str], float]] = []
        refills: list[tuple[Slot, Applied, float]] = []
        try:
            for a in applied:
                limit = a.limit
                cost = estimate.get(limit.dimension)
                if cost <= 0:
                    continue
                if a.rate_period is not None:
                    tat = tats.get(a.gcra_key, 0.0)
                    ok, new_tat, wait, remaining = gcra(
                        tat, mono, rate=limit.limit, period_seconds=a.rate_period, cost=cost
                    )
                    if not ok:
                        raise self._rate_refusal(a, cost, tat, wait, remaining, mono, wall, tz)
                    rates.append((a.gcra_key, tat))
                    tats[a.gcra_key] = new_tat
                if limit.hard:
                    continue
                slot = self._slot(a, wall, tz)
                if slot.local:
                    charges.append(Charge(a, cost, None, None))  # the GCRA above is all there is
                    continue
                lease = slot.lease_for(cost, mono)
                if lease is None:
                    if slot.exhausted_until > mono or cost > limit.limit:
                        raise self._exhausted(a, slot, wall, tz, never=cost > limit.limit)
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
                current = self._slots.get(charge.applied.slot_key)
                if current is not None and current.refill is None:
                    # Running low: fetch the next block now, so that no request waits for it. Not
                    # for blocks of a few requests: that would take a small budget's last units
                    # ahead of need.
                    self._spawn(self._refill(current, charge.applied, charge.cost))
        return charges, []

    def _undo(self, charges: list[Charge], rates: list[tuple[tuple[str, str, str, str], float]]) -> None:
        for key, tat in reversed(rates):
            self._tats[key] = tat
        for charge in charges:
            if charge.lease is not None:
                charge.lease.available += charge.cost
                charge.lease.inflight -= charge.cost

    def _rate_refusal(
        self,
        a: Applied,
        cost: float,
        tat: float,
        wait: float,
        remaining: float,
        mono: float,
        wall: float,
        tz: ZoneInfo,
    ) -> TooManyRequests:
        slot = self._slot(a, wall, tz)
        last = slot.last
        if slot.lease_for(cost, mono) is None and last is not None and last.remaining < cost:
            # The window is used up across replicas as well: the smooth wait is not enough.
            wait = max(wait, slot.end - wall)
        return self._refusal(a, "rate_limited", remaining, reset_after(tat, mono), wait)

    def _slot(self, a: Applied, wall: float, tz: ZoneInfo) -> Slot:
        slot = self._slots.get(a.slot_key)
        if slot is not None and slot.start <= wall < slot.end:
            return slot
        name, start, end, since = counter_window(a.limit, dt.datetime.fromtimestamp(wall, _UTC), tz)
        key = CounterKey(a.limit.scope, a.scope_id, a.limit.dimension, name, start, end, since)
        if slot is not None:
            self._retired.append(slot)  # its leases are returned by the sweeper
        slot = self._slots[a.slot_key] = Slot(key)
        return slot

    async def _refill(self, slot: Slot, a: Applied, need: float) -> None:
        """One lease call per window at a time; concurrent requests wait for the same one."""
        if slot.refill is not None:
            await asyncio.shield(slot.refill)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        slot.refill = future
        try:
            if self._db_down_until > self._mono():
                raise self._unavailable()
            await self._lease(slot, a, need)
        except ServiceUnavailable:
            if a.rate_period is None:
                future.set_exception(self._unavailable())
                future.exception()  # retrieved: waiters re-raise it, nobody else has to
                raise
            # A rate only bounds speed: until the database is back it holds per replica (GCRA),
            # for the rest of this window. Budgets, which bound totals, fail closed instead.
            slot.local = True
            future.set_result(None)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()
            raise
        else:
            future.set_result(None)
        finally:
            slot.refill = None

    async def _lease(self, slot: Slot, a: Applied, need: float) -> None:
        limit = a.limit
        fraction = 0.5 if a.rate_period is not None else self.lease_fraction
        block = limit.limit * fraction
        want = max(need, math.ceil(block) if limit.dimension in COUNTED else block)
        mono = self._mono()
        # Leases this request cannot use go back in the same call, so the pool has them again.
        # (Not those with requests in flight: what those give back is used from memory.)
        spent = [
            lease
            for lease in slot.leases
            if not lease.closed and lease.available < need and lease.inflight <= 0
        ]
        returns = [self._close(lease) for lease in spent]
        try:
            async with self._pool.acquire(timeout=self.db_timeout) as conn:
                if returns:
                    await retrying(lambda: store.release(conn, returns))
                lease_id, amount, seen = await retrying(
                    lambda: store.lease(
                        conn,
                        slot.key,
                        limit.limit,
                        want=want,
                        need=need,
                        share=self.lease_share,
                        replica=self.replica,
                        ttl=dt.timedelta(seconds=self.lease_ttl),
                    )
                )
        except asyncio.CancelledError:
            self._returns.extend(returns)
            raise
        except Exception as exc:
            self._returns.extend(returns)  # returned by the writer once the database is back
            self._db_down_until = self._mono() + _DB_BACKOFF_SECONDS
            _log.warning("quota_lease_failed", error=type(exc).__name__, window=slot.key.window)
            raise self._unavailable() from None
        slot.leases = [lease for lease in slot.leases if not lease.closed]
        if lease_id is None:
            slot.last = seen
            slot.exhausted_until = self._mono() + _RECHECK_SECONDS
            return
        slot.last = store.Counter(seen.limit, seen.used, seen.reserved, seen.leased + amount)
        slot.exhausted_until = -math.inf
        # Returned well before the database would take it back: half the TTL.
        slot.leases.append(Lease(lease_id, amount, mono + self.lease_ttl / 2))

    async def _reserve_hard(self, a: Applied, cost: float, tz: ZoneInfo) -> Charge:
        wall = self._wall()
        name, start, end, since = counter_window(a.limit, dt.datetime.fromtimestamp(wall, _UTC), tz)
        key = CounterKey(a.limit.scope, a.scope_id, a.limit.dimension, name, start, end, since)
        if self._db_down_until > self._mono():
            raise self._unavailable()
        try:
            async with self._pool.acquire(timeout=self.db_timeout) as conn:
                counted = await retrying(lambda: store.reserve(conn, key, a.limit.limit, cost))
        except Exception as exc:
            self._db_down_until = self._mono() + _DB_BACKOFF_SECONDS
            _log.warning("quota_reserve_failed", error=type(exc).__name__, window=name)
            raise self._unavailable() from None
        if counted is None:
            raise self._exhausted(a, Slot(key), wall, tz, never=cost > a.limit.limit)
        return Charge(a, cost, key, None)

    # -- refusals -------------------------------------------------------------------

    def _refusal(
        self, a: Applied, code: str, remaining: float, reset: float, retry: float
    ) -> TooManyRequests:
        headers = ratelimit_headers(a.limit, remaining, reset, policy_name=a.name, retry_after=retry)
        if retry > _NO_RETRY_BEYOND and math.isfinite(retry):
            headers.append((b"x-should-retry", b"false"))
        what = "rate limit" if code == "rate_limited" else "budget"
        message = f"{what} exceeded: {a.limit.describe()}"
        if math.isfinite(retry):
            message += f"; retry in {max(retry, 0.001):.3g} s"
        return TooManyRequests(message, code=code, headers=headers)

    def _exhausted(
        self, a: Applied, slot: Slot, wall: float, tz: ZoneInfo, *, never: bool = False
    ) -> TooManyRequests:
        limit = a.limit
        now = dt.datetime.fromtimestamp(wall, _UTC)
        reset = retry_after(limit, now, tz) if limit.rolling_days is not None else slot.end - wall
        remaining = 0.0
        retry = reset
        if slot.last is not None:
            remaining = slot.last.remaining
            if slot.last.leased > 0:
                # Part of it is leased to replicas, which return what they do not use within
                # half a lease TTL: worth a retry well before the window resets.
                retry = min(reset, self.lease_ttl / 2)
        if never:
            retry = math.inf  # more than the whole limit: no wait will make it fit
        code = "rate_limited" if a.rate_period is not None else "budget_exhausted"
        return self._refusal(a, code, remaining, reset, retry)

    @staticmethod
    def _unavailable() -> ServiceUnavailable:
        return ServiceUnavailable(
            "quota cannot be checked right now (its database is unreachable); retry shortly",
            code="quota_unavailable",
        )

    def _served_headers(self, admission: Admission) -> list[tuple[bytes, bytes]]:
        """What this replica knows of each limit an admitted request was charged on.

        A rate: its GCRA state here. A leased budget: what the database had unleased at the last
        lease call, plus what this replica's leases still hold (other replicas' leases count as
        spent: the figure errs low). A hard budget's state is in the database only: left out.
        """
        mono = self._mono()
        wall = self._wall()
        states: list[tuple[Limit, str, float, float]] = []
        for charge in admission.charges:
            a = charge.applied
            limit = a.limit
            if a.rate_period is not None:
                ahead = self._tats.get(a.gcra_key, mono) - mono
                remaining = limit.limit * max(0.0, 1.0 - ahead / a.rate_period)
                states.append((limit, a.name, remaining, max(0.0, ahead)))
            elif charge.lease is not None:
                slot = self._slots.get(a.slot_key)
                if slot is None or slot.last is None:
                    continue
                remaining = slot.last.remaining
                for held in slot.leases:
                    if not held.closed:
                        remaining += held.available
                reset = slot.end - wall if limit.rolling_days is None else math.inf
                states.append((limit, a.name, remaining, reset))
        return served_headers(states)

    # -- settlement -----------------------------------------------------------------

    def _settle(self, admission: Admission, actual: Usage) -> None:
        mono = self._mono()
        for charge in admission.charges:
            a = charge.applied
            used = actual.get(a.limit.dimension)
            if a.rate_period is not None and used < charge.cost and a.limit.limit > 0:
                # Give back the part of the rate the request did not use (it moved the TAT on).
                tat = self._tats.get(a.gcra_key)
                if tat is not None:
                    interval = a.rate_period / a.limit.limit
                    self._tats[a.gcra_key] = (
                        max(mono, tat - (charge.cost - used) * interval) if tat > mono else tat
                    )
            lease = charge.lease
            if lease is None:
                if charge.key is not None:  # a hard budget's reservation
                    self._queue_settle(charge.key, charge.cost, used)
            elif not lease.closed:
                lease.inflight -= charge.cost
                lease.consumed += used
                lease.available += charge.cost - used
                if used < charge.cost:
                    slot = self._slots.get(a.slot_key)
                    if slot is not None and slot.exhausted_until > mono:
                        # What this replica holds has grown: pooled, its leases may fit a request
                        # that none of them fits alone, so the next refusal asks the database again.
                        slot.exhausted_until = -math.inf
            else:
                # Returned already, with this request's estimate counted as used: correct it.
                assert charge.key is not None
                if used != charge.cost:
                    self._queue_settle(charge.key, 0.0, used - charge.cost)

    def _queue_settle(self, key: CounterKey, reserved: float, actual: float) -> None:
        self._settles.append((key, reserved, actual))
        self._wake.set()

    def _close(self, lease: Lease) -> tuple[uuid.UUID, float]:
        """Stop serving from a lease; what it returns counts unsettled estimates as used."""
        lease.closed = True
        return lease.id, lease.consumed + lease.inflight

    # -- background -----------------------------------------------------------------

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._write_loop(), name="quota-writer"),
            asyncio.create_task(self._sweep_loop(), name="quota-sweeper"),
        ]

    def _spawn(self, coro: object) -> None:
        async def quietly() -> None:
            with contextlib.suppress(Exception):
                await coro  # type: ignore[misc]

        task = asyncio.get_running_loop().create_task(quietly())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def sweep(self) -> int:
        """Close the leases due back (half their TTL gone, or their window over); queue their return."""
        mono = self._mono()
        wall = self._wall()
        closed = 0
        live: list[Slot] = []
        for slot in [*self._slots.values(), *self._retired]:
            ended = wall >= slot.end
            for lease in slot.leases:
                if not lease.closed and (ended or lease.deadline <= mono):
                    self._returns.append(self._close(lease))
                    closed += 1
            slot.leases = [lease for lease in slot.leases if not lease.closed]
            if slot.leases:
                live.append(slot)
        self._retired = [slot for slot in self._retired if slot.leases]
        for k, slot in list(self._slots.items()):
            if wall >= slot.end and not slot.leases:
                del self._slots[k]
        # An idle rate counter is the same as a fresh one: forget it.
        self._tats = {k: tat for k, tat in self._tats.items() if tat > mono}
        if closed:
            self._wake.set()
        return closed

    async def _sweep_loop(self) -> None:
        period = min(5.0, max(0.2, self.lease_ttl / 8))
        rounds = 0
        while True:
            await asyncio.sleep(period)
            self.sweep()
            rounds += 1
            if rounds % max(1, int(self.lease_ttl / period)) == 0:
                await self._housekeep()

    async def _housekeep(self) -> None:
        """Take back the leases of dead replicas, drop old rate windows. Any replica may."""
        try:
            async with self._pool.acquire(timeout=self.db_timeout) as conn:
                reclaimed = await store.reclaim_expired(conn)
                await store.prune_rate_windows(conn, dt.timedelta(days=1))
            if reclaimed:
                _log.info("quota_leases_reclaimed", leases=reclaimed)
        except Exception as exc:
            _log.warning("quota_housekeeping_failed", error=type(exc).__name__)

    async def flush(self) -> bool:
        """Write queued settlements and lease returns; True when nothing is left queued."""
        settles, self._settles = self._settles, []
        returns, self._returns = self._returns, []
        if not settles and not returns:
            return True
        # Counter rows are locked in one order by every replica (sorted), so that two writers
        # never wait for each other in a cycle.
        ordered = sorted(settles, key=lambda s: (sort_key(s[0]), s[1], s[2]))
        try:
            async with self._pool.acquire(timeout=self.db_timeout) as conn, conn.transaction():
                for key, reserved, actual in ordered:
                    await store.settle(conn, key, reserved, actual)
                await store.release(conn, returns)
        except asyncio.CancelledError:
            self._settles[:0], self._returns[:0] = settles, returns
            raise
        except Exception as exc:
            self._settles[:0], self._returns[:0] = settles, returns
            _log.warning(
                "quota_write_failed", error=type(exc).__name__, queued=len(self._settles) + len(self._returns)
            )
            return False
        return not self._settles and not self._returns

    async def _write_loop(self) -> None:
        backoff = 0.25
        while True:
            await self._wake.wait()
            self._wake.clear()
            if await self.flush():
                backoff = 0.25
                continue
            self._wake.set()  # try again after a pause
            await asyncio.sleep(backoff)
            backoff = min(5.0, backoff * 2)

    async def stop(self, wait: float = 5.0) -> None:
        """Return every lease and write what is queued (after in-flight requests have finished)."""
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._background:
            # Refills in flight finish (each bounded by db_timeout), so that their leases are
            # returned below rather than left to expire.
            await asyncio.wait(self._background, timeout=self.db_timeout * 2)
        for slot in [*self._slots.values(), *self._retired]:
            for lease in slot.leases:
                if not lease.closed:
                    self._returns.append(self._close(lease))
        self._slots.clear()
        self._retired.clear()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while not await self.flush():
            if loop.time() >= deadline:
                _log.warning(
                    "quota_unwritten_at_shutdown",
                    settlements=len(self._settles),
                    leases=len(self._returns),
                    note="unreturned leases are reclaimed as used; the ledger has every request",
                )
                return
            await asyncio.sleep(0.2)


async def settle_reserved(conn: asyncpg.Connection, items: list[tuple[CounterKey, float, float]]) -> None:
    """Settle reservations ``(counter, reserved, actual)`` in the caller's transaction, in the lock
    order every replica uses (sorted), so that two writers never wait for each other in a cycle."""
    for key, reserved, actual in sorted(items, key=lambda s: (sort_key(s[0]), s[1], s[2])):
        await store.settle(conn, key, reserved, actual)
