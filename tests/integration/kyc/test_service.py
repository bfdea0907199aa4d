"""The KYC service against a real PostgreSQL: state machine, owners, screening, webhooks, erasure."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import asyncpg
import pytest

from gateway.db.migrate import migrate
from gateway.errors import BadRequest, Conflict, NotFoundInStore
from gateway.kyc.crypto import KeyringError, parse_keyring
from gateway.kyc.facts import FactsIn
from gateway.kyc.models import LinkIn, OwnerIn
from gateway.kyc.service import KycService
from gateway.kyc.webhooks import ProviderEvent
from gateway.settings import load_settings
from tests.conftest import TEST_KYC_KEYS, kyc_service

FIXTURES = Path(__file__).parents[2] / "fixtures" / "screening"
SIDORENKO = "Ivan Petrovich Sidorenko"


def _name() -> str:
    return f"kyc-{uuid.uuid4().hex[:10]}"


async def _org(kyc: KycService, conn: asyncpg.Connection, country: str = "DE") -> uuid.UUID:
    return (await kyc.create_customer(conn, _name(), "organisation", country)).id


async def test_submit_approve_records_every_transition_with_actor_and_reason(conn) -> None:
    kyc = kyc_service()
    cid = await _org(kyc, conn)
    await kyc.add_owner(conn, cid, OwnerIn(name="Grace Hopper", kind="person", country="US", percent=100))
    assert (await kyc.submit(conn, cid, "cli:alice")).status == "in_review"
    status = await kyc.decide(conn, cid, "approve", "cli:bob", "passport and registry extract checked")
    assert status.status == "verified"
    assert status.expires_at is not None and status.verified_at is not None
    assert status.expires_at - status.verified_at == dt.timedelta(days=365)
    review = await kyc.review(conn, cid)
    assert [(t.from_status, t.to_status, t.actor) for t in review.transitions] == [
        ("pending", "in_review", "cli:alice"),
        ("in_review", "verified", "cli:bob"),
    ]
    assert review.transitions[1].reason.startswith("passport and registry extract checked")


async def test_illegal_transitions_are_refused_with_the_allowed_moves(conn) -> None:
    kyc = kyc_service()
    cid = await _org(kyc, conn)
    with pytest.raises(Conflict) as err:
        await kyc.decide(conn, cid, "approve", "cli:x", "too early")
    assert err.value.code == "illegal_transition"
    assert err.value.message == (
        "a customer in state 'pending' cannot move to 'verified' (allowed: in_review, rejected)"
    )
    with pytest.raises(Conflict) as err:
        await kyc.decide(conn, cid, "reinstate", "cli:x", "not suspended")
    assert err.value.code == "illegal_transition"
    with pytest.raises(BadRequest) as bad:
        await kyc.decide(conn, cid, "reject", "cli:x", "   ")
    assert bad.value.code == "invalid_reason"
    assert (await kyc.status(conn, cid)).status == "pending"  # nothing half-written


async def test_an_organisation_needs_owners_and_a_country_before_submission(conn) -> None:
    kyc = kyc_service()
    cid = (await kyc.create_customer(conn, _name(), "organisation", None)).id
    with pytest.raises(Conflict) as err:
        await kyc.submit(conn, cid, "cli:x")
    assert err.value.message == "the application is incomplete: missing country, beneficial owners"
    with pytest.raises(Conflict) as err:
        await kyc.submit(conn, cid, "customer:x", require_facts=True)
    assert "legal_name" in err.value.message and "email" in err.value.message


async def test_ownership_chain_and_graph_scoping(conn) -> None:
    kyc = kyc_service()
    cid = await _org(kyc, conn)
    other = await _org(kyc, conn)
    holding = await kyc.add_owner(
        conn, cid, OwnerIn(name="Holdco GmbH", kind="organisation", country="DE", percent=80)
    )
    alice = await kyc.add_owner(conn, cid, OwnerIn(name="Alice A", kind="person", percent=50, of=holding))
    bob = await kyc.add_owner(conn, cid, OwnerIn(name="Bob B", kind="person", percent=20))
    await kyc.link_owner(conn, cid, LinkIn(owner=bob, of=holding, percent=50))
    status = await kyc.status(conn, cid)
    # Alice: 50% of 80% = 40%; Bob: 20% + 50% of 80% = 60%.
    assert set(status.beneficial_owners) == {alice, bob}
    review = await kyc.review(conn, cid)
    effective = {h.owner_id: h.effective_percent for h in review.ownership.holdings}
    assert effective[str(alice)] == pytest.approx(40) and effective[str(bob)] == pytest.approx(60)
    # Another customer's owner is invisible here, whatever the id.
    with pytest.raises(NotFoundInStore):
        await kyc.add_owner(conn, other, OwnerIn(name="Mallory", kind="person", percent=10, of=holding))
    with pytest.raises(NotFoundInStore):
        await kyc.remove_owner(conn, other, alice)
    with pytest.raises(BadRequest):  # a person cannot be owned
        await kyc.add_owner(conn, cid, OwnerIn(name="Sub", kind="organisation", percent=10, of=alice))


async def test_ownership_cycle_is_stored_and_analysed_without_hanging(conn) -> None:
    kyc = kyc_service()
    cid = await _org(kyc, conn)
    a = await kyc.add_owner(conn, cid, OwnerIn(name="A Holdings", kind="organisation", percent=60))
    b = await kyc.add_owner(conn, cid, OwnerIn(name="B Holdings", kind="organisation", percent=50, of=a))
    await kyc.link_owner(conn, cid, LinkIn(owner=a, of=b, percent=50))
    await kyc.add_owner(conn, cid, OwnerIn(name="Carol C", kind="person", percent=50, of=b))
    review = await kyc.review(conn, cid)
    assert review.ownership.cycles
    assert all(0 <= h.effective_percent <= 100 for h in review.ownership.holdings)


async def test_personal_data_is_sealed_at_rest_and_erasable_after_retention(conn) -> None:
    kyc = kyc_service()
    cid = (await kyc.create_customer(conn, _name(), "individual", "FR")).id
    await kyc.update_facts(
        conn,
        cid,
        FactsIn(legal_name="Marie Sklodowska", email="marie@example.org", birth_date="1967-11-07"),
    )
    owner = await kyc.add_owner(conn, cid, OwnerIn(name="Pierre Curie", kind="person", percent=10))
    raw = await conn.fetchval("select facts_sealed from customers where id = $1", cid)
    raw_owner = await conn.fetchval("select sealed from owners where id = $1", owner)
    for secret in (b"Sklodowska", b"marie@example.org", b"1967-11-07"):
        assert secret not in raw
    assert b"Curie" not in raw_owner
    assert (await kyc.facts(conn, cid)).email == "marie@example.org"

    with pytest.raises(Conflict) as err:  # still a customer: the relationship has not ended
        await kyc.erase(conn, cid, "cli:dpo")
    assert err.value.code == "retention_period"
    await kyc.decide(conn, cid, "reject", "cli:x", "account closed")
    with pytest.raises(Conflict) as err:
        await kyc.erase(conn, cid, "cli:dpo")
    assert "must be kept until" in err.value.message

    later = KycService(
        kyc.settings, kyc.keyring, clock=lambda: dt.datetime.now(dt.UTC) + dt.timedelta(days=5 * 366)
    )
    await later.erase(conn, cid, "cli:dpo")
    assert await later.facts(conn, cid) is None
    assert (await later.owners(conn, cid))[0].name is None
    review = await later.review(conn, cid)
    assert [t.reason for t in review.transitions][-1] == "personal data erased"
    assert review.transitions[-2].reason == "account closed"  # the audit trail stays
    assert await conn.fetchval("select count(*) from customer_data_keys where customer_id = $1", cid) == 0


async def test_a_different_master_key_for_a_known_version_is_refused(empty_database_url) -> None:
    # A database of its own: re-wrapping touches every customer's key.
    conn = await asyncpg.connect(empty_database_url)
    await migrate(conn)
    await kyc_service().check_keys(conn)  # as the gateway does at start-up
    other = load_settings(None, environ={"GATEWAY_KYC_KEYS": "1:" + "A" * 43})
    kyc = KycService(other, parse_keyring(other.kyc_keys or ""))
    with pytest.raises(KeyringError, match="differs from the one this database was encrypted with"):
        await kyc.check_keys(conn)
    rotated = KycService(other, parse_keyring(TEST_KYC_KEYS + ",2:" + "B" * 43))
    await rotated.check_keys(conn)  # a new version joins
    before = kyc_service()
    cid = (await before.create_customer(conn, _name(), "individual", "FR")).id
    await before.update_facts(conn, cid, FactsIn(legal_name="Rotated Person"))
    assert await conn.fetchval("select key_version from customer_data_keys where customer_id = $1", cid) == 1
    # Old data keys are re-wrapped with version 2; everything stays readable.
    assert await rotated.rewrap_keys(conn) >= 1
    assert (await rotated.facts(conn, cid)).legal_name == "Rotated Person"
    assert await conn.fetchval("select key_version from customer_data_keys where customer_id = $1", cid) == 2
    await conn.close()


async def test_expiry_moves_verified_customers_once(conn) -> None:
    kyc = kyc_service(kyc_reverify_days=1)
    cid = (await kyc.create_customer(conn, _name(), "individual", "FR")).id
    await kyc.submit(conn, cid, "cli:x")
    await kyc.decide(conn, cid, "approve", "cli:x", "ok")
    assert cid not in await kyc.expire_due(conn)
    later = KycService(
        kyc.settings, kyc.keyring, clock=lambda: dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    )
    assert cid in await later.expire_due(conn)
    assert cid not in await later.expire_due(conn)
    assert (await later.status(conn, cid)).status == "expired"
    assert (await later.submit(conn, cid, "cli:x")).status == "in_review"  # re-verification


def _event(cid: uuid.UUID, outcome: str | None, event_id: str, at: float | None = None) -> ProviderEvent:
    return ProviderEvent(
        provider="persona",
        event_id=event_id,
        customer_ref=str(cid),
        reference="inq_1",
        provider_status=f"inquiry.{outcome}",
        outcome=outcome,  # type: ignore[arg-type]
        occurred_at=at,
    )


async def test_provider_events_apply_once_in_order_and_can_revoke(conn) -> None:
    kyc = kyc_service()
    cid = (await kyc.create_customer(conn, _name(), "individual", "FR")).id
    applied, note = await kyc.apply_provider_event(conn, _event(cid, "verified", "evt_1", 100.0))
    assert applied and note == "moved to verified"
    assert (await kyc.apply_provider_event(conn, _event(cid, "verified", "evt_1", 100.0))) == (
        False,
        "duplicate delivery: already processed",
    )
    # An older event arriving late does not undo a newer one.
    applied, note = await kyc.apply_provider_event(conn, _event(cid, "in_review", "evt_0", 50.0))
    assert not applied and "older than the last event" in note
    assert (await kyc.status(conn, cid)).status == "verified"
    # The provider can reject a customer it approved before.
    applied, _ = await kyc.apply_provider_event(conn, _event(cid, "rejected", "evt_2", 200.0))
    assert applied and (await kyc.status(conn, cid)).status == "rejected"
    actors = [t.actor for t in (await kyc.review(conn, cid)).transitions]
    assert actors == ["provider:persona", "provider:persona", "provider:persona"]
    applied, note = await kyc.apply_provider_event(conn, _event(uuid.uuid4(), "verified", "evt_3"))
    assert not applied and note == "unknown customer reference"


async def test_personal_data_never_reaches_the_log(conn) -> None:
    from structlog.testing import capture_logs

    kyc = kyc_service()
    with capture_logs() as logs:
        cid = (await kyc.create_customer(conn, _name(), "individual", "IT")).id
        await kyc.update_facts(
            conn,
            cid,
            FactsIn(legal_name="Rita Levi-Montalcini", email="rita@example.it", phone="+39 06 1234 5678"),
        )
        await kyc.add_owner(
            conn, cid, OwnerIn(name="Primo Levi", kind="person", percent=5, birth_date="1919-07-31")
        )
        await kyc.submit(conn, cid, "cli:x")
        await kyc.decide(conn, cid, "approve", "cli:x", "ok")
        with pytest.raises(BadRequest):
            await kyc.update_facts(conn, cid, FactsIn(email="not-an-email rita@example.it"))
    assert logs, "the decision is logged"
    text = repr(logs)
    for secret in ("Levi", "rita@example.it", "1234 5678", "3906123456", "1919-07-31"):
        assert secret not in text


async def test_jurisdictions_follow_facts_and_owners(conn) -> None:
    import json

    kyc = kyc_service()
    cid = await _org(kyc, conn, "NL")
    await kyc.update_facts(conn, cid, FactsIn(incorporation_country="NL", headquarters_country="SG"))
    owner = await kyc.add_owner(
        conn, cid, OwnerIn(name="Parent Co", kind="organisation", country="CN", percent=40)
    )

    async def stored() -> set[tuple]:
        raw = json.loads(await conn.fetchval("select jurisdictions from customers where id = $1", cid))
        return {(j["country"], j["source"], j.get("percent")) for j in raw}

    assert await stored() == {("NL", "account", None), ("NL", "incorporation", None), ("SG", "headquarters", None),
                              ("CN", "owner", 40.0)}  # fmt: skip
    await kyc.remove_owner(conn, cid, owner)
    assert ("CN", "owner", 40.0) not in await stored()


async def test_jurisdictions_are_backfilled_for_older_customers(conn) -> None:
    kyc = kyc_service()
    cid = await _org(kyc, conn, "JP")
    await conn.execute("update customers set jurisdictions = '[]' where id = $1", cid)
    assert await kyc.backfill_jurisdictions(conn) >= 1
    stored = await conn.fetchval("select jurisdictions::text from customers where id = $1", cid)
    assert '"country":"JP"' in stored.replace(" ", "")
