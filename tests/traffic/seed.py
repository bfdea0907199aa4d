"""Put generated customers into a migrated database as verified KYC customers, in bulk.

The rows are the ones the KYC service writes for a customer taken through facts, owners, submit and
approve (``gateway/kyc/service.py``), computed the same way: each customer's data key wrapped by the
master key, its facts validated by ``validate_facts`` (so payment fingerprints are the service's keyed
HMAC of the processor fingerprint) and sealed, owners with the service's blind ``name_index`` and
sealed PII, an ownership edge, the status transitions to ``verified``. The jurisdictions are derived
by the service itself (``backfill_jurisdictions``). Not written: the audit-log entries of each
decision and key creation (thousands of them say nothing to detection) and screening runs.

API keys are real: ``api_keys.secret_hash`` is the SHA-256 of each generated key's secret, so any
seeded customer can call through the gateway.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
import msgspec

from gateway.identity.keys import hash_key
from gateway.kyc.crypto import Keyring, seal
from gateway.kyc.facts import AddressIn, FactsIn, PaymentIn, validate_facts
from gateway.kyc.models import OwnerFacts
from gateway.kyc.owner_input import fold
from gateway.kyc.service import KycService

from .model import Customer
from .synthetic import project_id

SEED_ACTOR = "traffic-seed"
_encode = msgspec.json.encode
_OWNER_NAMESPACE = uuid.UUID("6f1d3c1e-5b0a-4c7e-9a51-3d2f0e9b7a10")


@dataclass(frozen=True)
class Seeded:
    customers: int
    owners: int
    keys: int
    fingerprints: int


async def seed_customers(
    conn: asyncpg.Connection,
    customers: Sequence[Customer],
    kyc: KycService,
    *,
    now: dt.datetime,
    jurisdictions: bool = True,
) -> Seeded:
    """Insert ``customers`` verified, with their facts, owners, payment fingerprints, one project and
    their keys, in one transaction. With ``jurisdictions``, the service derives each one's
    jurisdictions afterwards (a few ms per customer: what the gateway's policy stage needs)."""
    keyring: Keyring = kyc.keyring
    await kyc.check_keys(conn)
    expires = now + dt.timedelta(days=kyc.settings.kyc_reverify_days)
    rows, data_keys, owners, edges, prints, projects, keys, transitions = [], [], [], [], [], [], [], []
    for c in customers:
        dek, version, wrapped = keyring.wrap_new(str(c.id))
        data_keys.append((c.id, version, wrapped))
        facts = validate_facts(
            c.kind,
            _facts_in(c),
            fingerprint_key=keyring.index_key,
            today=now.date(),
        )
        sealed = seal(dek, _encode(facts), f"customer:{c.id}")
        rows.append((c.id, c.name, c.kind, c.country, "verified", now, now, expires, sealed, now))
        prints += [(c.id, p.fingerprint) for p in facts.payment_methods if p.fingerprint]
        for name in c.owners:
            owner_id = uuid.uuid5(_OWNER_NAMESPACE, f"{c.id}/{name}")
            index = keyring.blind_index("owner", f"{fold(name)}|{c.country}")
            pii = seal(dek, _encode(OwnerFacts(name=name)), f"owner:{owner_id}")
            owners.append((owner_id, c.id, "person", c.country, index, pii, now))
            edges.append((c.id, owner_id, None, 100.0 / len(c.owners), None, now))
        project = project_id(c)
        projects.append((project, c.id, c.project, now))
        keys += [(k.id, c.id, project, None, hash_key(k.secret), now) for k in c.keys]
        transitions += [
            (c.id, "pending", "in_review", SEED_ACTOR, "submitted", now),
            (c.id, "in_review", "verified", SEED_ACTOR, "verified for the traffic evaluation", now),
        ]
    async with conn.transaction():
        await conn.copy_records_to_table(
            "customers",
            records=rows,
            columns=["id", "name", "kind", "country", "kyc_status", "status_changed_at", "verified_at",
                     "expires_at", "facts_sealed", "created_at"],
        )  # fmt: skip
        await conn.copy_records_to_table(
            "customer_data_keys", records=data_keys, columns=["customer_id", "key_version", "wrapped"]
        )
        await conn.copy_records_to_table(
            "owners",
            records=owners,
            columns=["id", "customer_id", "kind", "country", "name_index", "sealed", "created_at"],
        )
        await conn.copy_records_to_table(
            "ownership_edges",
            records=edges,
            columns=["customer_id", "owner_id", "owned_id", "percent", "role", "created_at"],
        )
        await conn.copy_records_to_table(
            "payment_fingerprints", records=prints, columns=["customer_id", "fingerprint"]
        )
        await conn.copy_records_to_table(
            "projects", records=projects, columns=["id", "customer_id", "name", "created_at"]
        )
        await conn.copy_records_to_table(
            "api_keys",
            records=keys,
            columns=["id", "customer_id", "project_id", "name", "secret_hash", "created_at"],
        )
        await conn.copy_records_to_table(
            "kyc_transitions",
            records=transitions,
            columns=["customer_id", "from_status", "to_status", "actor", "reason", "at"],
        )
    if jurisdictions:
        await kyc.backfill_jurisdictions(conn)
    return Seeded(len(rows), len(owners), len(keys), len(prints))


def _facts_in(c: Customer) -> FactsIn:
    """What the customer submitted: a name, an address in its country, its payment instruments."""
    return FactsIn(
        legal_name=c.name,
        addresses=[AddressIn(line1="1 Main Street", city="Capital", country=c.country)],
        payment_methods=[PaymentIn(method="card", fingerprint=fp) for fp in c.payment_fingerprints],
    )


async def stored_fingerprints(conn: asyncpg.Connection) -> dict[uuid.UUID, set[str]]:
    """Each customer's payment fingerprints as stored (for checks)."""
    out: dict[uuid.UUID, set[str]] = {}
    for r in await conn.fetch("select customer_id, fingerprint from payment_fingerprints"):
        out.setdefault(r[0], set()).add(r[1])
    return out
