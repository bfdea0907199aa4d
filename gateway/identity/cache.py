"""API keys in memory, kept current by PostgreSQL LISTEN/NOTIFY.

The hot path never queries the database: a key is checked against this cache.
If the change feed has been down longer than the configured staleness, lookups
fail closed (503) rather than trust a possibly revoked key.
"""

from __future__ import annotations

import hmac

import asyncpg

from ..db.notify_cache import NotifyCache
from ..errors import ServiceUnavailable, Unauthorized
from .keys import parse_key
from .principal import Principal
from .repository import KeyRow, load_key_rows

CHANNEL = "gateway_api_keys"


class RevokedKey(Unauthorized):
    """401 ``revoked_api_key``. The key is genuine, so the refusal has a customer to be
    recorded under (``principal``): the ledger shows who still uses a revoked key."""

    code = "revoked_api_key"

    def __init__(self, principal: Principal) -> None:
        super().__init__("the API key has been revoked")
        self.principal: Principal | None = principal


class IdentityUnavailable(ServiceUnavailable):
    """503 ``identity_unavailable``: the change feed is too stale to trust a key (it may have been
    revoked since). ``principal`` is the key's owner as last known when the key matches one the
    cache holds: the refusal is recorded under it, though the call is not served."""

    code = "identity_unavailable"

    def __init__(self, principal: Principal | None) -> None:
        super().__init__("API keys cannot be checked right now; retry shortly")
        self.principal = principal


class _Entry:
    __slots__ = ("hash", "principal", "revoked")

    def __init__(self, row: KeyRow) -> None:
        self.hash = row.secret_hash
        self.principal = Principal(row.customer_id, row.project_id, row.id)
        self.revoked = row.revoked


class KeyCache(NotifyCache[str, _Entry]):
    channel = CHANNEL
    name = "key-cache"

    def authenticate(self, presented: str | None) -> Principal:
        """The principal for a presented key, or an :class:`Unauthorized` saying why not."""
        if not presented:
            raise Unauthorized(
                "no API key: send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'",
                code="missing_api_key",
            )
        parsed = parse_key(presented)
        if parsed is None:
            raise Unauthorized("the API key is malformed", code="invalid_api_key")
        entry = self._entries.get(parsed.id)
        genuine = entry is not None and hmac.compare_digest(entry.hash, parsed.hash)
        if not self.fresh:
            raise IdentityUnavailable(entry.principal if entry is not None and genuine else None)
        if entry is None or not genuine:
            raise Unauthorized("the API key is not valid", code="invalid_api_key")
        if entry.revoked:
            raise RevokedKey(entry.principal)
        return entry.principal

    def _key(self, payload: str) -> str:
        return payload

    async def _load(self, conn: asyncpg.Connection, keys: list[str] | None) -> dict[str, _Entry]:
        return {row.id: _Entry(row) for row in await load_key_rows(conn, keys)}
