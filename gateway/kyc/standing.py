"""Each customer's KYC standing in memory, for the proxy's hot path.

The standing (status, re-verification date, sanctions result) is all a request
needs to be let through or refused; a trigger on ``customers`` notifies every
replica of each change, so an approval or a suspension takes effect everywhere
within a second. Unknown customers and a stale feed fail closed.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import asyncpg

from ..db.notify_cache import NotifyCache
from ..errors import Forbidden, ServiceUnavailable
from .states import Sanctions, Status, denial

CHANNEL = "gateway_customers"

_LOAD = "select id, kyc_status, extract(epoch from expires_at)::float8, sanctions from customers"


class Standing:
    __slots__ = ("denial", "expires_at", "sanctions", "status")

    def __init__(self, status: Status, expires_at: float | None, sanctions: Sanctions) -> None:
        self.status = status
        self.expires_at = expires_at
        self.sanctions = sanctions
        # Decided once per change, not per request. A fresh exception per refusal, though:
        # re-raising one instance would grow its traceback without end.
        refused = denial(status, sanctions)
        self.denial = None if refused is None else (refused.message, refused.code)


class StandingCache(NotifyCache[uuid.UUID, Standing]):
    channel = CHANNEL
    name = "kyc-standing"

    def __init__(self, *args: object, wall_clock: Callable[[], float] = time.time, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._wall_clock = wall_clock

    def check(self, customer_id: uuid.UUID) -> None:
        """Raise the reason this customer may not use compute now; return if it may."""
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
        return {r[0]: Standing(r[1], r[2], r[3]) for r in rows}
