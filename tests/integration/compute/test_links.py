"""Which customers are linked: a shared owner, a shared payment instrument, a shared address."""

from __future__ import annotations

import uuid

from gateway.compute.records import links
from gateway.kyc.facts import FactsIn, PaymentIn
from gateway.kyc.models import OwnerIn
from tests.conftest import kyc_service


async def test_the_same_card_links_two_accounts_without_storing_the_number(conn) -> None:
    kyc = kyc_service()
    card = "4111 1111 1111 1111"
    a = await kyc.create_customer(conn, f"pay-{uuid.uuid4().hex[:6]}", "individual", "US")
    b = await kyc.create_customer(conn, f"pay-{uuid.uuid4().hex[:6]}", "individual", "FR")
    c = await kyc.create_customer(conn, f"pay-{uuid.uuid4().hex[:6]}", "individual", "FR")
    await kyc.update_facts(conn, a.id, FactsIn(payment_methods=[PaymentIn(method="card", card_number=card)]))
    await kyc.update_facts(
        conn, b.id, FactsIn(payment_methods=[PaymentIn(method="card", card_number=card.replace(" ", ""))])
    )
    await kyc.update_facts(
        conn, c.id, FactsIn(payment_methods=[PaymentIn(method="card", card_number="5555555555554444")])
    )
    found = {(lk.a, lk.b): lk.reason for lk in await links(conn)}
    pair = tuple(sorted((str(a.id), str(b.id))))
    assert "payment instrument" in found[pair]
    assert not any(str(c.id) in p for p in found)
    stored = await conn.fetch("select fingerprint from payment_fingerprints where customer_id = $1", a.id)
    assert len(stored) == 1 and "4111" not in stored[0]["fingerprint"]  # a keyed hash, never the number


async def test_facts_written_before_the_index_are_indexed_by_reindex_payments(conn) -> None:
    kyc = kyc_service()
    card = "4000 0566 5566 5556"
    a = await kyc.create_customer(conn, f"old-{uuid.uuid4().hex[:6]}", "individual", "US")
    b = await kyc.create_customer(conn, f"old-{uuid.uuid4().hex[:6]}", "individual", "US")
    for c in (a, b):
        await kyc.update_facts(
            conn, c.id, FactsIn(payment_methods=[PaymentIn(method="card", card_number=card)])
        )
    pair = tuple(sorted((str(a.id), str(b.id))))
    # As before migration 007: the facts hold the fingerprints, the index does not.
    await conn.execute("delete from payment_fingerprints where customer_id = any($1::uuid[])", [a.id, b.id])
    assert pair not in {(lk.a, lk.b) for lk in await links(conn)}
    assert await kyc.reindex_payments(conn) >= 2
    assert "payment instrument" in {(lk.a, lk.b): lk.reason for lk in await links(conn)}[pair]
    before = await conn.fetch("select * from payment_fingerprints order by customer_id, fingerprint")
    await kyc.reindex_payments(conn)  # again: the same index
    assert await conn.fetch("select * from payment_fingerprints order by customer_id, fingerprint") == before


async def test_a_shared_owner_and_a_shared_public_address_link_accounts(conn) -> None:
    kyc = kyc_service()
    owner = f"Olga {uuid.uuid4().hex[:8].translate(str.maketrans('0123456789', 'abcdefghij'))} Ivanova"
    x = await kyc.create_customer(conn, f"own-{uuid.uuid4().hex[:6]}", "organisation", "US")
    y = await kyc.create_customer(conn, f"own-{uuid.uuid4().hex[:6]}", "organisation", "DE")
    for c in (x, y):
        await kyc.add_owner(conn, c.id, OwnerIn(name=owner, kind="person", percent=50, country="CY"))
    p = await kyc.create_customer(conn, f"ip-{uuid.uuid4().hex[:6]}", "individual", "US")
    q = await kyc.create_customer(conn, f"ip-{uuid.uuid4().hex[:6]}", "individual", "US")
    for c in (p, q):
        await conn.execute(
            "insert into customer_access_log (customer_id, ip, action) values ($1, '203.0.113.77', 'onboarding')",
            c.id,
        )
    found = {(lk.a, lk.b): lk.reason for lk in await links(conn)}
    assert "beneficial owner" in found[tuple(sorted((str(x.id), str(y.id))))]
    assert "203.0.113.77" in found[tuple(sorted((str(p.id), str(q.id))))]
