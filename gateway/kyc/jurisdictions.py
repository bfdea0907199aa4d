"""The countries a jurisdiction decision looks at, derived from a customer's facts and owners.

Stored in plain form beside the sealed facts (``customers.jurisdictions``) so that every
replica can compile the customer's entitlement without the master key; erasure clears it.
Pure: the service calls it whenever facts or owners change.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import msgspec
import pycountry

from ..policy.decide import CustomerFacts, Jurisdiction, Source
from .facts import Facts
from .models import Owner
from .ownership import OwnershipReport

_decode = msgspec.json.Decoder(tuple[Jurisdiction, ...]).decode


def policy_facts(customer_id: str, stored: str | bytes, kyc_level: str) -> CustomerFacts:
    """What a policy decision knows of a customer, from its stored jurisdictions and level."""
    return CustomerFacts(customer_id, _decode(stored), kyc_level)  # type: ignore[arg-type]


_SUBDIVISION = re.compile(r"^[A-Z]{2}-[A-Z0-9]{1,3}$")


def _region(value: str | None, country: str) -> str | None:
    """An address's region when it is written as an ISO 3166-2 code of that country (e.g. UA-43)."""
    if value is None:
        return None
    code = value.strip().upper()
    known = pycountry.subdivisions.get(code=code)  # type: ignore[no-untyped-call]
    if _SUBDIVISION.match(code) and code.startswith(country + "-") and known is not None:
        return code
    return None


def derive(
    country: str | None, facts: Facts | None, owners: Sequence[Owner], report: OwnershipReport
) -> list[Jurisdiction]:
    out: list[Jurisdiction] = []
    if country:
        out.append(Jurisdiction(country, "account"))
    if facts is not None:
        sources: tuple[tuple[str | None, Source], ...] = (
            (facts.incorporation_country, "incorporation"),
            (facts.residence_country, "residence"),
            (facts.nationality, "nationality"),
            (facts.headquarters_country, "headquarters"),
        )
        for value, source in sources:
            if value:
                out.append(Jurisdiction(value, source))
        for address in facts.addresses:
            out.append(
                Jurisdiction(address.country, "address", region=_region(address.region, address.country))
            )
    share = {h.owner_id: h.effective_percent for h in report.holdings}
    for owner in owners:
        percent = share.get(str(owner.id), 0.0)
        for value in {owner.country, owner.nationality} - {None}:
            assert value is not None
            out.append(Jurisdiction(value, "owner", percent=percent, detail=str(owner.id)))
    # One fact per (country, source, region, detail): the same country twice says nothing new.
    unique = {(j.country, j.source, j.region, j.detail): j for j in out}
    return sorted(unique.values(), key=lambda j: (j.source, j.country, j.detail, j.region or ""))
