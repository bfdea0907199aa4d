"""Reading the ledger."""

from __future__ import annotations

import uuid

import asyncpg

from .events import COLUMNS, UsageEvent

_LIST = f"select {', '.join(COLUMNS)} from usage_events"  # noqa: S608 - column names are ours


async def list_usage(
    conn: asyncpg.Connection, *, limit: int = 50, customer_id: uuid.UUID | None = None
) -> list[UsageEvent]:
    """Newest first; optionally one customer's."""
    rows = await conn.fetch(
        _LIST
        + " where ($2::uuid is null or customer_id = $2) order by occurred_at desc, request_id limit $1",
        limit,
        customer_id,
    )
    return [
        UsageEvent(**{**dict(r), "client_ip": str(r["client_ip"]) if r["client_ip"] is not None else None})
        for r in rows
    ]
