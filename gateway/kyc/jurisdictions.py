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

from .facts import Facts
from .models import Owner
from .ownership import OwnershipReport


class JurisdictionFact(msgspec.Struct, frozen=True, omit_defaults=True):
    """Mirrors :class:`gateway.policy.decide.Jurisdiction` field for field."""

    country: str
    source: str
    region: str | None = None
    percent: float | None = None
    detail: str = ""


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
) -> list[JurisdictionFact]:
    out: list[JurisdictionFact] = []
    if country:
        out.append(JurisdictionFact(country, "account"))
    if facts is not None:
        for value, source in (
            (facts.incorporation_country, "incorporation"),
            (facts.residence_country, "residence"),
            (facts.nationality, "nationality"),
            (facts.headquarters_country, "headquarters"),
        ):
            if value:
                out.append(JurisdictionFact(value, source))
        for address in facts.addresses:
            out.append(
                JurisdictionFact(address.country, "address", region=_region(address.region, address.country))
            )
    share = {h.owner_id: h.effective_percent for h in report.holdings}
    for owner in owners:
        percent = share.get(str(owner.id), 0.0)
        for value in {owner.country, owner.nationality} - {None}:
            assert value is not None
            out.append(JurisdictionFact(value, "owner", percent=percent, detail=str(owner.id)))
    # One fact per (country, source, region, detail): the same country twice says nothing new.
    unique = {(j.country, j.source, j.region, j.detail): j for j in out}
    return sorted(unique.values(), key=lambda j: (j.source, j.country, j.detail, j.region or ""))
