"""What the KYC service writes to the audit log: every state and due-diligence change, who made it,
and a commitment to the reason (an operator's words may name a person: only their hash is logged)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg

from ..audit import log
from ..audit.entry import commitment, entry


async def status_changed(
    conn: asyncpg.Connection,
    customer_id: uuid.UUID,
    old: str,
    new: str,
    *,
    actor: str,
    reason: str,
    at: dt.datetime,
) -> None:
    data = {"from": old, "to": new, "reason": commitment(reason)}
    await log.append(
        conn, [entry("kyc.status_changed", actor=actor, at=at, subject=f"customer:{customer_id}", data=data)]
    )


async def level_changed(
    conn: asyncpg.Connection, customer_id: uuid.UUID, level: str, *, actor: str, reason: str, at: dt.datetime
) -> None:
    data = {"level": level, "reason": commitment(reason)}
    await log.append(
        conn, [entry("kyc.level_changed", actor=actor, at=at, subject=f"customer:{customer_id}", data=data)]
    )


async def hit_decided(
    conn: asyncpg.Connection,
    customer_id: uuid.UUID,
    hit_id: int,
    state: str,
    *,
    actor: str,
    reason: str,
    at: dt.datetime,
) -> None:
    """A screening hit confirmed or dismissed (the listed name stays out: the hit's id says which)."""
    data = {"hit": hit_id, "state": state, "reason": commitment(reason)}
    await log.append(
        conn,
        [entry("screening.hit_decided", actor=actor, at=at, subject=f"customer:{customer_id}", data=data)],
    )


async def screened(
    conn: asyncpg.Connection, customer_id: uuid.UUID, found: Sequence[Mapping[str, Any]]
) -> None:
    """A screening run: how many matches, on which lists, and a commitment to each list entry
    matched (the entries' names, and which of the customer's people matched, stay out)."""
    data = {
        "hits": len(found),
        "sources": sorted({str(f["source"]) for f in found}),
        "entries": sorted(commitment(f"{f['source']}:{f['entry_id']}") for f in found),
    }
    at = dt.datetime.now(dt.UTC)
    await log.append(
        conn,
        [entry("screening.screened", actor="gateway", at=at, subject=f"customer:{customer_id}", data=data)],
    )
