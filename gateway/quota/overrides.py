"""Per-customer quota overrides set by operators (``gateway quota set``, the admin API).

Every override belongs to one customer; a project or key scope names one of that
customer's projects or keys, checked here, so no customer's limit can be set on
another's key.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo

import asyncpg
import msgspec

from ..audit import log
from ..audit.entry import decimal, entry
from ..db.notify_cache import NotifyCache
from ..errors import BadRequest, NotFoundInStore
from .model import DIMENSIONS, PERIODS, SCOPES, Limit


class Override(msgspec.Struct, frozen=True):
    id: int
    customer_id: uuid.UUID
    scope: str
    scope_id: str
    dimension: str
    period: str | None
    rolling_days: int | None
    limit: float
    hard: bool
    created_by: str

    def as_limit(self) -> Limit:
        """The override as a :class:`Limit` named ``override:<id>`` (the CHECKs keep the values valid)."""
        return Limit(
            dimension=self.dimension,  # type: ignore[arg-type]
            period=self.period,  # type: ignore[arg-type]
            rolling_days=self.rolling_days,
            limit=self.limit,
            scope=self.scope,  # type: ignore[arg-type]
            hard=self.hard,
            source=f"override:{self.id}",
        )


_COLUMNS = 'id, customer_id, scope, scope_id, dimension, period, rolling_days, "limit", hard, created_by'


async def _scope_id(conn: asyncpg.Connection, customer_id: uuid.UUID, scope: str, name: str | None) -> str:
    if scope == "customer":
        return str(customer_id)
    if name is None:
        raise BadRequest(f"a {scope} scope needs the {scope}'s name or id", code="invalid_quota")
    if scope == "project":
        found = await conn.fetchval(
            "select id::text from projects where customer_id = $1 and (name = $2 or id::text = $2)",
            customer_id,
            name,
        )
    else:
        found = await conn.fetchval(
            "select id from api_keys where customer_id = $1 and id = $2", customer_id, name
        )
    if found is None:
        raise NotFoundInStore(f"this customer has no {scope} {name!r}", code=f"{scope}_not_found")
    return str(found)


async def set_override(
    conn: asyncpg.Connection,
    customer_id: uuid.UUID,
    *,
    dimension: str,
    limit: float,
    period: str | None = None,
    rolling_days: int | None = None,
    scope: str = "customer",
    scope_name: str | None = None,
    hard: bool = False,
    actor: str,
) -> Override:
    """Create or replace the override for this (scope, dimension, window)."""
    if dimension not in DIMENSIONS:
        raise BadRequest(f"dimension must be one of {', '.join(DIMENSIONS)}", code="invalid_quota")
    if scope not in SCOPES:
        raise BadRequest(f"scope must be one of {', '.join(SCOPES)}", code="invalid_quota")
    if (period is None) == (rolling_days is None):
        raise BadRequest("give a period or a number of rolling days, not both", code="invalid_quota")
    if period is not None and period not in PERIODS:
        raise BadRequest(f"period must be one of {', '.join(PERIODS)}", code="invalid_quota")
    if rolling_days is not None and not 1 <= rolling_days <= 3660:
        raise BadRequest("rolling days must be between 1 and 3660", code="invalid_quota")
    if not limit >= 0 or limit == float("inf"):
        raise BadRequest("the limit must be a finite number >= 0", code="invalid_quota")
    scope_id = await _scope_id(conn, customer_id, scope, scope_name)
    async with conn.transaction():
        row = await _upsert(
            conn, customer_id, scope, scope_id, dimension, period, rolling_days, limit, hard, actor
        )
        window = period if period is not None else f"rolling:{rolling_days}"
        data = {"scope": scope, "scope_id": scope_id, "dimension": dimension, "window": window,
                "limit": decimal(limit), "hard": hard}  # fmt: skip
        now = dt.datetime.now(dt.UTC)
        await log.append(
            conn,
            [entry("quota.override_set", actor=actor, at=now, subject=f"customer:{customer_id}", data=data)],
        )
    return Override(**dict(row))


async def _upsert(
    conn: asyncpg.Connection,
    customer_id: uuid.UUID,
    scope: str,
    scope_id: str,
    dimension: str,
    period: str | None,
    rolling_days: int | None,
    limit: float,
    hard: bool,
    actor: str,
) -> asyncpg.Record:
    row = await conn.fetchrow(
        f"""
        insert into quota_overrides
            (customer_id, scope, scope_id, dimension, period, rolling_days, "limit", hard, created_by)
        values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        on conflict (customer_id, scope, scope_id, dimension, period, rolling_days) do update
            set "limit" = excluded."limit", hard = excluded.hard, created_by = excluded.created_by,
                created_at = now()
        returning {_COLUMNS}
        """,  # noqa: S608 - _COLUMNS is a constant
        customer_id,
        scope,
        scope_id,
        dimension,
        period,
        rolling_days,
        limit,
        hard,
        actor,
    )
    assert row is not None
    return row


async def list_overrides(conn: asyncpg.Connection, customer_id: uuid.UUID) -> list[Override]:
    rows = await conn.fetch(
        f"select {_COLUMNS} from quota_overrides where customer_id = $1 order by scope, dimension, id",  # noqa: S608
        customer_id,
    )
    return [Override(**dict(r)) for r in rows]


async def delete_override(
    conn: asyncpg.Connection, customer_id: uuid.UUID, override_id: int, *, actor: str = "gateway"
) -> bool:
    async with conn.transaction():
        done = await conn.execute(
            "delete from quota_overrides where id = $1 and customer_id = $2", override_id, customer_id
        )
        if done == "DELETE 0":
            return False
        now = dt.datetime.now(dt.UTC)
        data = {"override": override_id}
        await log.append(
            conn,
            [
                entry(
                    "quota.override_removed",
                    actor=actor,
                    at=now,
                    subject=f"customer:{customer_id}",
                    data=data,
                )
            ],
        )
    return True


# Zone files that name the host's own setting, not a place: replicas could disagree on them.
_HOST_ZONES = frozenset({"localtime", "posixrules"})


def _check_time_zone(zone: str) -> str:
    """The IANA name ``zone`` as ZoneInfo loads it; a 400 ``invalid_time_zone`` otherwise.

    IANA names are relative paths under the zoneinfo folder (``America/New_York``), so a
    ``/`` between parts is allowed but an absolute path, a backslash, an empty part or a
    part starting with ``.`` (``..``, hidden files) is refused before any file is opened.
    """
    parts = zone.split("/")
    if (
        not zone
        or "\\" in zone
        or "\x00" in zone
        or any(not part or part.startswith(".") for part in parts)
        or zone in _HOST_ZONES
    ):
        raise BadRequest(f"{zone!r} is not an IANA time zone name", code="invalid_time_zone")
    try:
        loaded = zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise BadRequest(
            f"unknown time zone {zone!r}: use an IANA name such as 'Europe/Berlin' or 'UTC'",
            code="invalid_time_zone",
        ) from None
    return loaded.key


async def set_time_zone(conn: asyncpg.Connection, customer_id: uuid.UUID, zone: str) -> str:
    """Set the zone whose midnight starts the customer's daily and monthly budgets; the name stored."""
    name = _check_time_zone(zone)
    stored = await conn.fetchval(
        "update customers set time_zone = $2 where id = $1 returning time_zone", customer_id, name
    )
    if stored is None:
        raise NotFoundInStore(f"no customer with id {customer_id}", code="customer_not_found")
    return str(stored)


async def time_zone(conn: asyncpg.Connection, customer_id: uuid.UUID) -> str:
    stored = await conn.fetchval("select time_zone from customers where id = $1", customer_id)
    if stored is None:
        raise NotFoundInStore(f"no customer with id {customer_id}", code="customer_not_found")
    return str(stored)


OVERRIDES_CHANNEL = "gateway_quota_overrides"
Scoped = tuple[Limit, str]
"""A limit and the id of the customer, project or key it counts against."""


class OverrideCache(NotifyCache[uuid.UUID, tuple[Scoped, ...]]):
    """Every customer's overrides in memory, kept current by a trigger on ``quota_overrides``."""

    channel = OVERRIDES_CHANNEL
    name = "quota-overrides"

    def get(self, customer_id: uuid.UUID) -> tuple[Scoped, ...]:
        return self._entries.get(customer_id, ())

    def _key(self, payload: str) -> uuid.UUID:
        return uuid.UUID(payload)

    async def _load(
        self, conn: asyncpg.Connection, keys: list[uuid.UUID] | None
    ) -> dict[uuid.UUID, tuple[Scoped, ...]]:
        query = f"select {_COLUMNS} from quota_overrides"  # noqa: S608 - _COLUMNS is a constant
        rows = await (
            conn.fetch(query) if keys is None else conn.fetch(query + " where customer_id = any($1)", keys)
        )
        grouped: dict[uuid.UUID, list[Scoped]] = {}
        for r in rows:
            o = Override(**dict(r))
            grouped.setdefault(o.customer_id, []).append((o.as_limit(), o.scope_id))
        return {cid: tuple(items) for cid, items in grouped.items()}
