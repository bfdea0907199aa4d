"""Each customer's standing in memory, for the proxy's hot path.

The standing (status, re-verification date, sanctions result) and the entitlement
compiled from the customer's jurisdictions and the policy in force are all a request
needs to be let through or refused; a trigger on ``customers`` notifies every
replica of each change, so an approval, a suspension or a new owner takes effect
everywhere within a second. Unknown customers and a stale feed fail closed.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg
import structlog

from ..db.notify_cache import NotifyCache
from ..errors import Forbidden, ServiceUnavailable
from ..policy.decide import (
    Action,
    CustomerFacts,
    Decision,
    Entitlement,
    RequestFacts,
    compile_entitlement,
)
from ..policy.model import Policy
from .jurisdictions import policy_facts
from .states import Sanctions, Status, denial

CHANNEL = "gateway_customers"

_LOAD = (
    "select id, kyc_status, extract(epoch from expires_at)::float8, sanctions, jurisdictions::text,"
    " kyc_level, time_zone from customers"
)
_UTC = ZoneInfo("UTC")
_MEMO = 256  # decisions remembered per customer: (action, region, origin) combinations in use


_log = structlog.get_logger(__name__)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        # Checked when set; a zone this machine's tzdata lacks must not stop the cache loading.
        _log.warning("unknown_time_zone", zone=name)
        return _UTC


class Standing:
    __slots__ = ("decisions", "denial", "entitlement", "expires_at", "facts", "sanctions", "status", "tz")

    def __init__(
        self,
        status: Status,
        expires_at: float | None,
        sanctions: Sanctions,
        facts: CustomerFacts,
        entitlement: Entitlement | None,
        tz: ZoneInfo = _UTC,
    ) -> None:
        self.status = status
        self.tz = tz
        """Where the customer's days and months begin (its daily and monthly budgets reset)."""
        self.expires_at = expires_at
        self.sanctions = sanctions
        self.facts = facts
        self.entitlement = entitlement
        self.decisions: dict[tuple[str, str, str | None], Decision] = {}
        # Decided once per change, not per request. A fresh exception per refusal, though:
        # re-raising one instance would grow its traceback without end.
        refused = denial(status, sanctions)
        self.denial = None if refused is None else (refused.message, refused.code)


class StandingCache(NotifyCache[uuid.UUID, Standing]):
    channel = CHANNEL
    name = "kyc-standing"

    def __init__(
        self,
        *args: object,
        wall_clock: Callable[[], float] = time.time,
        policy: Callable[[], Policy] | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._wall_clock = wall_clock
        self._policy = policy

    def decide(self, customer_id: uuid.UUID, action: Action, region: str, origin: str | None) -> Decision:
        """The jurisdiction decision for a customer already let through by :meth:`check`."""
        standing = self._entries[customer_id]
        key = (action, region, origin)
        decision = standing.decisions.get(key)
        if decision is None:
            assert standing.entitlement is not None, "decide() needs a policy"
            decision = standing.entitlement.decide(RequestFacts(action, region, origin))
            if len(standing.decisions) >= _MEMO:
                standing.decisions.clear()
            standing.decisions[key] = decision
        return decision

    def recompile(self, policy: Policy) -> None:
        """Entitlements under a new policy, swapped in at once (a reload)."""
        self._entries = {
            cid: Standing(
                s.status, s.expires_at, s.sanctions, s.facts, compile_entitlement(s.facts, policy), s.tz
            )
            for cid, s in self._entries.items()
        }

    def check(self, customer_id: uuid.UUID) -> Standing:
        """Raise the reason this customer may not use compute now; if it may, the standing checked."""
        if not self.fresh:
            raise ServiceUnavailable(
                "customer verification cannot be checked right now; retry shortly", code="kyc_unavailable"
            )
        standing = self._entries.get(customer_id)
        if standing is None:
            raise Forbidden("the customer's identity verification is not complete", code="kyc_pending")
        if standing.denial is not None:
            raise Forbidden(standing.denial[0], code=standing.denial[1])
        if standing.expires_at is not None and standing.expires_at <= self._wall_clock():
            raise Forbidden(
                "the customer's identity verification has expired and must be renewed", code="kyc_expired"
            )
        return standing

    def standing(self, customer_id: uuid.UUID) -> Standing | None:
        return self._entries.get(customer_id)

    def _key(self, payload: str) -> uuid.UUID:
        return uuid.UUID(payload)

    async def _load(
        self, conn: asyncpg.Connection, keys: list[uuid.UUID] | None
    ) -> dict[uuid.UUID, Standing]:
        if keys is None:
            rows = await conn.fetch(_LOAD)
        else:
            rows = await conn.fetch(_LOAD + " where id = any($1::uuid[])", keys)
        policy = self._policy() if self._policy is not None else None
        out = {}
        for r in rows:
            facts = policy_facts(str(r[0]), r[4], r[5])
            entitlement = compile_entitlement(facts, policy) if policy is not None else None
            out[r[0]] = Standing(r[1], r[2], r[3], facts, entitlement, _zone(r[6]))
        return out
