"""Which countries a decision looks at, from facts and owners."""

from __future__ import annotations

import datetime as dt
import uuid

from gateway.kyc.facts import Address, Facts
from gateway.kyc.jurisdictions import derive
from gateway.kyc.models import Owner
from gateway.kyc.ownership import Holding, OwnershipReport
from gateway.policy.decide import Jurisdiction

NOW = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)


def report(*holdings: tuple[uuid.UUID, float]) -> OwnershipReport:
    return OwnershipReport(
        holdings=tuple(Holding(str(i), p, (), False) for i, p in holdings),
        beneficial_owners=(),
        listed_percent=0.0,
        treated_as_listed=False,
        cycles=(),
        warnings=(),
        complete=True,
    )


def test_facts_addresses_and_owners_with_their_share() -> None:
    owner = Owner(uuid.uuid4(), "person", "CN", "x", None, "HK", NOW)
    facts = Facts(
        incorporation_country="DE",
        headquarters_country="CH",
        addresses=(
            Address(line1="a", city="Simferopol", country="UA", region="UA-43"),
            Address(line1="b", city="Kyiv", country="UA", region="Kyiv"),  # not a code: no region
        ),
    )
    got = derive("DE", facts, [owner], report((owner.id, 30.0)))
    assert Jurisdiction("UA", "address", region="UA-43") in got
    assert Jurisdiction("UA", "address") in got
    assert Jurisdiction("CN", "owner", percent=30.0, detail=str(owner.id)) in got
    assert Jurisdiction("HK", "owner", percent=30.0, detail=str(owner.id)) in got
    assert {(j.country, j.source) for j in got} >= {
        ("DE", "account"),
        ("DE", "incorporation"),
        ("CH", "headquarters"),
    }


def test_no_facts_only_the_account_country_and_duplicates_collapse() -> None:
    assert derive("FR", None, [], report()) == [Jurisdiction("FR", "account")]
    same = Facts(addresses=(Address("a", "Paris", "FR"), Address("b", "Lyon", "FR")))
    assert [j.source for j in derive(None, same, [], report())] == ["address"]
