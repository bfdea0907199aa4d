"""What the KYC service writes to the audit log: every state and due-diligence change, who made it,
and a commitment to the reason (an operator's words may name a person: only their hash is logged)."""

from __future__ import annotations

import datetime as dt
import uuid

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
