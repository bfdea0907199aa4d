"""Seeding generated customers: the rows the KYC service would write, in a fresh migrated database."""

from __future__ import annotations

import collections
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from gateway.compute.records import links
from gateway.db.migrate import migrate
from gateway.identity.keys import hash_key, parse_key
from gateway.identity.repository import load_key_rows
from gateway.kyc.facts import AddressIn, FactsIn, PaymentIn
from gateway.kyc.models import OwnerIn
from tests.conftest import kyc_service, make_database
from tests.traffic.generator import Config, Traffic, generate
from tests.traffic.seed import seed_customers, stored_fingerprints

NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def traffic() -> Traffic:
    return generate(Config.small(seed=5))


@pytest.fixture(scope="module")
def own_database_url(admin_url: str) -> Iterator[str]:
    """Links are read over every customer: a database no other test fills."""
    url, drop = make_database(admin_url)
    yield url
    drop()


@pytest.fixture(scope="module")
async def seeded(own_database_url: str, traffic: Traffic) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(own_database_url)
    await migrate(conn)
    await seed_customers(conn, traffic.customers, kyc_service(), now=NOW)
    yield conn
    await conn.close()


async def test_every_customer_is_verified_with_its_project_keys_and_fingerprints(seeded, traffic) -> None:
    counts = await seeded.fetchrow(
        "select count(*) filter (where kyc_status = 'verified') as verified, count(*) as all,"
        " count(*) filter (where jurisdictions <> '[]') as derived from customers"
    )
    assert counts["verified"] == counts["all"] == len(traffic.customers) == counts["derived"]
    prints = await stored_fingerprints(seeded)
    assert set(prints) == {c.id for c in traffic.customers}
    rows = {r.id: r for r in await load_key_rows(seeded)}
    for c in traffic.customers[::7]:
        for k in c.keys:
            parsed = parse_key(k.secret)
            assert parsed is not None and parsed.id == k.id
            assert rows[k.id].secret_hash == hash_key(k.secret) and rows[k.id].customer_id == c.id
    transitions = await seeded.fetchval("select count(*) from kyc_transitions where to_status = 'verified'")
    assert transitions == len(traffic.customers)


async def test_facts_and_owners_open_with_the_service_and_keep_no_instrument_in_clear(
    seeded, traffic
) -> None:
    kyc = kyc_service()
    org = next(c for c in traffic.customers if c.kind == "organisation")
    facts = await kyc.facts(seeded, org.id)
    assert facts is not None and facts.legal_name == org.name
    assert [o.name for o in await kyc.owners(seeded, org.id)] == list(org.owners)
    assert (await kyc.status(seeded, org.id)).status == "verified"
    stored = {fp for fps in (await stored_fingerprints(seeded)).values() for fp in fps}
    assert not stored & {fp for c in traffic.customers for fp in c.payment_fingerprints}


async def test_bulk_rows_equal_what_the_service_writes_for_the_same_facts(seeded, traffic) -> None:
    """A customer onboarded through the KYC service with a seeded customer's card and owner gets the
    same payment fingerprint and owner name index: the bulk path links exactly as the service would."""
    kyc = kyc_service()
    source = next(c for c in traffic.customers if c.kind == "organisation" and c.owners)
    twin = await kyc.create_customer(seeded, f"twin-{uuid.uuid4().hex[:8]}", "organisation", source.country)
    await kyc.update_facts(
        seeded,
        twin.id,
        FactsIn(
            addresses=[AddressIn(line1="2 Side Street", city="Capital", country=source.country)],
            payment_methods=[PaymentIn(method="card", fingerprint=source.payment_fingerprints[0])],
        ),
    )
    await kyc.add_owner(
        seeded, twin.id, OwnerIn(name=source.owners[0], kind="person", percent=100, country=source.country)
    )
    prints = await stored_fingerprints(seeded)
    assert prints[twin.id] == prints[source.id]
    index = "select name_index from owners where customer_id = $1"
    assert await seeded.fetchval(index, twin.id) == await seeded.fetchval(index, source.id)
    pairs = {(lk.a, lk.b) for lk in await links(seeded)}
    assert tuple(sorted((str(twin.id), str(source.id)))) in pairs


async def test_the_linked_ring_is_linked_by_payment_and_the_unlinked_ring_is_not(seeded, traffic) -> None:
    found = collections.Counter()
    members = {c.id: c.label for c in traffic.customers}
    for lk in await links(seeded):
        a, b = members.get(uuid.UUID(lk.a)), members.get(uuid.UUID(lk.b))
        found[(a, b) if a == b else "mixed"] += 1
    assert found[("ring_linked", "ring_linked")] >= 3
    assert found[("ring_unlinked", "ring_unlinked")] == 0
    assert found[("ordinary", "ordinary")] >= 3  # the parent company and its subsidiaries, the couples
