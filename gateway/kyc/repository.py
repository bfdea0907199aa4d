"""KYC rows in PostgreSQL. Every query that takes a customer id is scoped to it.

Sealed columns are passed in and out as bytes: encryption is the service's job.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
import msgspec

from ..errors import NotFoundInStore
from ..policy.decide import CustomerFacts
from . import jurisdictions
from .models import CustomerRecord, Edge, Hit, HitExplanation, QueueItem, Transition
from .states import Status

_CUSTOMER = """
select id, name, kind, country, kyc_status, status_changed_at, verified_at, expires_at, sanctions,
       listed_ownership_percent, screened_at, erased_at, created_at, kyc_level
from customers
"""


async def get_customer(
    conn: asyncpg.Connection, customer_id: uuid.UUID, *, lock: bool = False
) -> CustomerRecord:
    row = await conn.fetchrow(_CUSTOMER + " where id = $1" + (" for update" if lock else ""), customer_id)
    if row is None:
        raise NotFoundInStore(f"no customer with id {customer_id}", code="customer_not_found")
    return CustomerRecord(**dict(row))


async def customer_for_subject(conn: asyncpg.Connection, issuer: str, subject: str) -> uuid.UUID | None:
    value: uuid.UUID | None = await conn.fetchval(
        "select id from customers where oidc_issuer = $1 and oidc_subject = $2", issuer, subject
    )
    return value


async def all_customer_ids(conn: asyncpg.Connection) -> list[uuid.UUID]:
    return [r[0] for r in await conn.fetch("select id from customers where erased_at is null order by id")]


async def facts_sealed(conn: asyncpg.Connection, customer_id: uuid.UUID) -> bytes | None:
    value: bytes | None = await conn.fetchval("select facts_sealed from customers where id = $1", customer_id)
    return value


async def store_facts(conn: asyncpg.Connection, customer_id: uuid.UUID, sealed: bytes) -> None:
    await conn.execute("update customers set facts_sealed = $2 where id = $1", customer_id, sealed)


# -- data keys --------------------------------------------------------------------


async def wrapped_key(conn: asyncpg.Connection, customer_id: uuid.UUID) -> tuple[int, bytes] | None:
    row = await conn.fetchrow(
        "select key_version, wrapped from customer_data_keys where customer_id = $1", customer_id
    )
    return None if row is None else (row[0], row[1])


async def insert_wrapped_key(
    conn: asyncpg.Connection, customer_id: uuid.UUID, version: int, wrapped: bytes
) -> tuple[int, bytes]:
    """Store a new data key unless another writer got there first; return the one that won."""
    await conn.execute(
        "insert into customer_data_keys (customer_id, key_version, wrapped) values ($1, $2, $3)"
        " on conflict (customer_id) do nothing",
        customer_id,
        version,
        wrapped,
    )
    found = await wrapped_key(conn, customer_id)
    assert found is not None
    return found


async def all_wrapped_keys(conn: asyncpg.Connection) -> list[tuple[uuid.UUID, int, bytes]]:
    rows = await conn.fetch("select customer_id, key_version, wrapped from customer_data_keys")
    return [(r[0], r[1], r[2]) for r in rows]


async def replace_wrapped_key(
    conn: asyncpg.Connection, customer_id: uuid.UUID, version: int, wrapped: bytes
) -> None:
    await conn.execute(
        "update customer_data_keys set key_version = $2, wrapped = $3 where customer_id = $1",
        customer_id,
        version,
        wrapped,
    )


async def master_key_checks(conn: asyncpg.Connection) -> dict[int, bytes]:
    return {r[0]: r[1] for r in await conn.fetch("select version, check_value from kyc_master_keys")}


async def register_master_key(conn: asyncpg.Connection, version: int, check: bytes) -> None:
    await conn.execute(
        "insert into kyc_master_keys (version, check_value) values ($1, $2) on conflict do nothing",
        version,
        check,
    )


# -- status -----------------------------------------------------------------------


async def set_status(
    conn: asyncpg.Connection,
    customer_id: uuid.UUID,
    from_status: Status,
    to_status: Status,
    *,
    actor: str,
    reason: str,
    verified_at: dt.datetime | None = None,
    expires_at: dt.datetime | None = None,
) -> None:
    """Change the status and record the transition, in the caller's transaction."""
    await conn.execute(
        """
        update customers set kyc_status = $2, status_changed_at = now(),
            verified_at = case when $2 = 'verified' then coalesce($3, verified_at) else verified_at end,
            expires_at = case when $2 = 'verified' then $4 else expires_at end
        where id = $1
        """,
        customer_id,
        to_status,
        verified_at,
        expires_at,
    )
    await record_transition(conn, customer_id, from_status, to_status, actor=actor, reason=reason)


async def record_transition(
    conn: asyncpg.Connection,
    customer_id: uuid.UUID,
    from_status: str,
    to_status: str,
    *,
    actor: str,
    reason: str,
) -> None:
    await conn.execute(
        "insert into kyc_transitions (customer_id, from_status, to_status, actor, reason)"
        " values ($1, $2, $3, $4, $5)",
        customer_id,
        from_status,
        to_status,
        actor,
        reason,
    )


async def transitions(conn: asyncpg.Connection, customer_id: uuid.UUID) -> list[Transition]:
    rows = await conn.fetch(
        "select from_status, to_status, actor, reason, at from kyc_transitions"
        " where customer_id = $1 order by id",
        customer_id,
    )
    return [Transition(**dict(r)) for r in rows]


async def expire_due(conn: asyncpg.Connection, now: dt.datetime, reason: str) -> list[uuid.UUID]:
    """Move every verified customer past its date to expired, once (row locks stop a second replica)."""
    rows = await conn.fetch(
        """
        with expired as (
            update customers set kyc_status = 'expired', status_changed_at = now()
            where kyc_status = 'verified' and expires_at <= $1
            returning id
        )
        insert into kyc_transitions (customer_id, from_status, to_status, actor, reason)
        select id, 'verified', 'expired', 'system:expiry', $2 from expired
        returning customer_id
        """,
        now,
        reason,
    )
    return [r[0] for r in rows]


async def set_screening_result(
    conn: asyncpg.Connection, customer_id: uuid.UUID, sanctions: str, listed_percent: float, screened: bool
) -> None:
    await conn.execute(
        "update customers set sanctions = $2, listed_ownership_percent = $3,"
        " screened_at = case when $4 then now() else screened_at end"
        " where id = $1",
        customer_id,
        sanctions,
        listed_percent,
        screened,
    )


async def set_jurisdictions(conn: asyncpg.Connection, customer_id: uuid.UUID, facts: Sequence[Any]) -> None:
    # Written only when different: an unchanged value would still wake every replica.
    await conn.execute(
        "update customers set jurisdictions = $2::jsonb where id = $1 and jurisdictions <> $2::jsonb",
        customer_id,
        msgspec.json.encode(facts).decode(),
    )


async def policy_facts(conn: asyncpg.Connection, customer_id: uuid.UUID) -> CustomerFacts:
    row = await conn.fetchrow(
        "select jurisdictions::text, kyc_level from customers where id = $1", customer_id
    )
    if row is None:
        raise NotFoundInStore(f"no customer with id {customer_id}", code="customer_not_found")
    return jurisdictions.policy_facts(str(customer_id), row[0], row[1])


async def set_kyc_level(conn: asyncpg.Connection, customer_id: uuid.UUID, level: str) -> None:
    await conn.execute("update customers set kyc_level = $2 where id = $1", customer_id, level)


async def review_queue(conn: asyncpg.Connection) -> list[QueueItem]:
    rows = await conn.fetch(
        """
        select c.id as customer, c.name, c.kind, c.country, c.kyc_status as status,
               c.status_changed_at as since, c.sanctions,
               (select count(*) from screening_hits h where h.customer_id = c.id and h.state = 'open')
                   as open_hits
        from customers c
        where c.kyc_status = 'in_review' or (c.sanctions = 'potential' and c.erased_at is null)
        order by c.status_changed_at
        """
    )
    return [QueueItem(**dict(r)) for r in rows]


# -- owners -------------------------------------------------------------------------


async def insert_owner(
    conn: asyncpg.Connection,
    owner_id: uuid.UUID,
    customer_id: uuid.UUID,
    kind: str,
    country: str | None,
    name_index: bytes,
    sealed: bytes,
) -> None:
    await conn.execute(
        "insert into owners (id, customer_id, kind, country, name_index, sealed)"
        " values ($1, $2, $3, $4, $5, $6)",
        owner_id,
        customer_id,
        kind,
        country,
        name_index,
        sealed,
    )


async def owner_rows(conn: asyncpg.Connection, customer_id: uuid.UUID) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "select id, kind, country, sealed, created_at from owners where customer_id = $1"
        " order by created_at, id",
        customer_id,
    )
    return rows


async def owner_exists(conn: asyncpg.Connection, customer_id: uuid.UUID, owner_id: uuid.UUID) -> str | None:
    """The owner's kind if it is in this customer's graph (never another customer's)."""
    kind: str | None = await conn.fetchval(
        "select kind from owners where id = $1 and customer_id = $2", owner_id, customer_id
    )
    return kind


async def delete_owner(conn: asyncpg.Connection, customer_id: uuid.UUID, owner_id: uuid.UUID) -> bool:
    done = await conn.execute("delete from owners where id = $1 and customer_id = $2", owner_id, customer_id)
    return bool(done != "DELETE 0")


async def insert_edge(
    conn: asyncpg.Connection,
    customer_id: uuid.UUID,
    owner_id: uuid.UUID,
    owned_id: uuid.UUID | None,
    percent: float | None,
    role: str | None,
) -> int:
    edge_id: int = await conn.fetchval(
        """
        insert into ownership_edges (customer_id, owner_id, owned_id, percent, role)
        values ($1, $2, $3, $4, $5) returning id
        """,
        customer_id,
        owner_id,
        owned_id,
        percent,
        role,
    )
    return edge_id


async def edges(conn: asyncpg.Connection, customer_id: uuid.UUID) -> list[Edge]:
    rows = await conn.fetch(
        "select id, owner_id, owned_id, percent, role from ownership_edges where customer_id = $1"
        " order by id",
        customer_id,
    )
    return [Edge(**dict(r)) for r in rows]


# -- screening hits ---------------------------------------------------------------


_HIT = """
select id, subject_type, subject_id, source as list_source, list_name, entry_id as entry, entry_name as name,
       matched_name, score, reasons, state, decided_by, decided_reason, explanation::text
from screening_hits
"""


def _hit(row: asyncpg.Record) -> Hit:
    data = dict(row)
    explanation = data.pop("explanation")
    if explanation is not None:
        data["explanation"] = msgspec.json.decode(explanation, type=HitExplanation)
    return Hit(**data)


async def hits(conn: asyncpg.Connection, customer_id: uuid.UUID) -> list[Hit]:
    rows = await conn.fetch(_HIT + " where customer_id = $1 order by score desc, id", customer_id)
    return [_hit(r) for r in rows]


async def hit(conn: asyncpg.Connection, hit_id: int, customer_id: uuid.UUID | None = None) -> Hit:
    row = await conn.fetchrow(
        _HIT + " where id = $1 and ($2::uuid is null or customer_id = $2)", hit_id, customer_id
    )
    if row is None:
        raise NotFoundInStore(f"no screening hit with id {hit_id}", code="hit_not_found")
    return _hit(row)


async def hit_customer(conn: asyncpg.Connection, hit_id: int) -> uuid.UUID:
    value: uuid.UUID | None = await conn.fetchval(
        "select customer_id from screening_hits where id = $1", hit_id
    )
    if value is None:
        raise NotFoundInStore(f"no screening hit with id {hit_id}", code="hit_not_found")
    return value


async def upsert_hits(conn: asyncpg.Connection, customer_id: uuid.UUID, found: list[dict[str, Any]]) -> None:
    """Record matches; a dismissed or confirmed decision on the same list entry is kept."""
    await conn.executemany(
        """
        insert into screening_hits (customer_id, subject_type, subject_id, source, entry_id, list_id,
                                    entry_name, matched_name, list_name, score, reasons, explanation)
        values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb)
        on conflict (subject_id, source, entry_id) do update set
            list_id = excluded.list_id, entry_name = excluded.entry_name,
            matched_name = excluded.matched_name, list_name = excluded.list_name,
            score = excluded.score, reasons = excluded.reasons, explanation = excluded.explanation,
            updated_at = now(),
            state = case when screening_hits.state = 'cleared' then 'open' else screening_hits.state end
        """,
        [
            (
                customer_id,
                f["subject_type"],
                f["subject_id"],
                f["source"],
                f["entry_id"],
                f["list_id"],
                f["entry_name"],
                f["matched_name"],
                f["list_name"],
                f["score"],
                f["reasons"],
                None if f.get("explanation") is None else msgspec.json.encode(f["explanation"]).decode(),
            )
            for f in found
        ],
    )


async def clear_stale_hits(
    conn: asyncpg.Connection, customer_id: uuid.UUID, keep: set[tuple[uuid.UUID, str, str]]
) -> None:
    """Open hits the current lists no longer produce (entry delisted, owner removed) are cleared."""
    rows = await conn.fetch(
        "select id, subject_id, source, entry_id from screening_hits"
        " where customer_id = $1 and state = 'open'",
        customer_id,
    )
    stale = [r[0] for r in rows if (r[1], r[2], r[3]) not in keep]
    if stale:
        await conn.execute(
            "update screening_hits set state = 'cleared', updated_at = now() where id = any($1::bigint[])",
            stale,
        )


async def decide_hit(conn: asyncpg.Connection, hit_id: int, state: str, actor: str, reason: str) -> None:
    await conn.execute(
        """
        update screening_hits set state = $2, decided_by = $3, decided_reason = $4, decided_at = now(),
            updated_at = now()
        where id = $1
        """,
        hit_id,
        state,
        actor,
        reason,
    )


# -- providers, access ----------------------------------------------------------------


async def record_webhook(
    conn: asyncpg.Connection,
    *,
    provider: str,
    event_id: str,
    customer_id: uuid.UUID | None,
    reference: str,
    provider_status: str,
    outcome: str | None,
    applied: bool,
    note: str,
) -> bool:
    """Record a delivery; False when this event id was already recorded (a replay)."""
    inserted = await conn.fetchval(
        """
        insert into kyc_webhook_events (provider, event_id, customer_id, reference, provider_status,
                                        outcome, applied, note)
        values ($1, $2, $3, $4, $5, $6, $7, $8)
        on conflict (provider, event_id) do nothing
        returning true
        """,
        provider,
        event_id,
        customer_id,
        reference,
        provider_status,
        outcome,
        applied,
        note,
    )
    return bool(inserted)


async def last_event_at(conn: asyncpg.Connection, provider: str, reference: str) -> float | None:
    value: float | None = await conn.fetchval(
        "select last_event_at from kyc_verifications where provider = $1 and reference = $2",
        provider,
        reference,
    )
    return value


async def upsert_verification(
    conn: asyncpg.Connection,
    provider: str,
    reference: str,
    customer_id: uuid.UUID,
    provider_status: str,
    outcome: str | None,
    occurred_at: float | None,
) -> None:
    await conn.execute(
        """
        insert into kyc_verifications
            (provider, reference, customer_id, provider_status, outcome, last_event_at)
        values ($1, $2, $3, $4, $5, $6)
        on conflict (provider, reference) do update set provider_status = excluded.provider_status,
            outcome = excluded.outcome, updated_at = now(),
            last_event_at = greatest(kyc_verifications.last_event_at, excluded.last_event_at)
        where kyc_verifications.customer_id = excluded.customer_id
        """,
        provider,
        reference,
        customer_id,
        provider_status,
        outcome,
        occurred_at,
    )


async def verifications(conn: asyncpg.Connection, customer_id: uuid.UUID) -> list[dict[str, str | None]]:
    rows = await conn.fetch(
        "select provider, reference, provider_status, outcome, updated_at::text from kyc_verifications"
        " where customer_id = $1 order by updated_at",
        customer_id,
    )
    return [dict(r) for r in rows]


async def log_access(
    conn: asyncpg.Connection, customer_id: uuid.UUID, ip: str | None, action: str, subject: str | None
) -> None:
    await conn.execute(
        "insert into customer_access_log (customer_id, ip, action, subject) values ($1, $2::inet, $3, $4)",
        customer_id,
        ip,
        action,
        subject,
    )


async def access_log(conn: asyncpg.Connection, customer_id: uuid.UUID) -> list[dict[str, str | None]]:
    rows = await conn.fetch(
        "select at::text, host(ip) as ip, action, subject from customer_access_log"
        " where customer_id = $1 order by id desc limit 100",
        customer_id,
    )
    return [dict(r) for r in rows]


async def set_payment_fingerprints(
    conn: asyncpg.Connection, customer_id: uuid.UUID, fingerprints: Sequence[str]
) -> None:
    """The customer's payment-instrument fingerprints, replacing those stored (facts were updated)."""
    await conn.execute("delete from payment_fingerprints where customer_id = $1", customer_id)
    await conn.executemany(
        "insert into payment_fingerprints (customer_id, fingerprint) values ($1, $2) on conflict do nothing",
        [(customer_id, f) for f in sorted(set(fingerprints)) if f],
    )


async def erase(conn: asyncpg.Connection, customer_id: uuid.UUID) -> None:
    """Destroy the data key and every personal field; decisions and transitions stay."""
    await conn.execute("delete from customer_data_keys where customer_id = $1", customer_id)
    await conn.execute(
        """
        update customers set facts_sealed = null, name = 'erased-' || id::text, oidc_subject = null,
            oidc_issuer = null, erased_at = now()
        where id = $1
        """,
        customer_id,
    )
    await conn.execute(
        "update owners set sealed = null, name_index = null where customer_id = $1", customer_id
    )
    await conn.execute("update customer_access_log set ip = null where customer_id = $1", customer_id)
    await conn.execute("update customers set jurisdictions = '[]' where id = $1", customer_id)
    await conn.execute("delete from payment_fingerprints where customer_id = $1", customer_id)
