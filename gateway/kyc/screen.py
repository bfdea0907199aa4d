"""Screening a customer and its owners, and what the result means for its standing.

The matching itself is pure (:mod:`gateway.screening.matcher`); here the matches
become hits in the database, and the hits, through the ownership graph (the 50
percent rule), become the customer's sanctions result and, where needed, a status
change with its reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
import msgspec
import structlog

from ..screening.entries import ListEntry
from ..screening.matcher import Screener, Subject
from ..screening.repository import active_entries, active_lists
from . import repository as repo
from . import trail
from .facts import Facts
from .models import CustomerRecord, Edge, Hit, HitExplanation, Owner
from .ownership import OwnerNode, OwnershipEdge, OwnershipReport, analyse
from .states import Sanctions, Status

_log = structlog.get_logger(__name__)
SCREENING_ACTOR = "system:screening"


class ScreenerCache:
    """The active lists as a matcher, rebuilt only when the set of active versions changes."""

    def __init__(self) -> None:
        self._versions: tuple[int, ...] | None = None
        self._screener: Screener | None = None
        self._list_of: dict[tuple[str, str], int] = {}

    async def get(self, conn: asyncpg.Connection) -> Screener | None:
        versions = tuple(info.id for info in await active_lists(conn))
        if not versions:
            return None
        if versions != self._versions or self._screener is None:
            loaded = await active_entries(conn)
            self._list_of = {(e.source, e.entry_id): list_id for list_id, e in loaded}
            self._screener = Screener(e for _, e in loaded)
            self._versions = versions
        return self._screener

    def list_id(self, entry: ListEntry) -> int:
        return self._list_of.get((entry.source, entry.entry_id), 0)


def customer_subject(customer: CustomerRecord, facts: Facts | None) -> Subject:
    legal = facts.legal_name if facts is not None and facts.legal_name else customer.name
    countries = {customer.country}
    if facts is not None:
        countries |= {
            facts.nationality,
            facts.residence_country,
            facts.incorporation_country,
            facts.headquarters_country,
        }
    return Subject(
        name=legal,
        kind="person" if customer.kind == "individual" else "organisation",
        countries=tuple(sorted(c for c in countries if c)),
        birth_date=facts.birth_date if facts is not None else None,
        aliases=(customer.name,) if legal != customer.name else (),
        # Registration, tax and national numbers: one the list also holds raises the hit.
        identifiers=tuple(i.value for i in facts.identifiers) if facts is not None else (),
    )


def owner_subject(owner: Owner) -> Subject | None:
    if owner.name is None:  # erased
        return None
    countries = {c for c in (owner.country, owner.nationality) if c}
    return Subject(
        name=owner.name, kind=owner.kind, countries=tuple(sorted(countries)), birth_date=owner.birth_date
    )


async def screen_customer(
    conn: asyncpg.Connection,
    cache: ScreenerCache,
    customer: CustomerRecord,
    facts: Facts | None,
    owners: Sequence[Owner],
    threshold: float,
) -> bool:
    """Match the customer and every owner against the active lists and record the hits.

    Returns False when no list is loaded (nothing could be screened).
    """
    screener = await cache.get(conn)
    if screener is None:
        return False
    subjects: list[tuple[str, uuid.UUID, Subject]] = [
        ("customer", customer.id, customer_subject(customer, facts))
    ]
    for owner in owners:
        subject = owner_subject(owner)
        if subject is not None:
            subjects.append(("owner", owner.id, subject))
    found: list[dict[str, Any]] = []
    for subject_type, subject_id, subject in subjects:
        for match in screener.screen(subject, threshold):
            found.append(
                {
                    "subject_type": subject_type,
                    "subject_id": subject_id,
                    "source": match.entry.source,
                    "entry_id": match.entry.entry_id,
                    "list_id": cache.list_id(match.entry),
                    "entry_name": match.entry.name,
                    "matched_name": match.matched_name,
                    "list_name": match.entry.list_name,
                    "score": round(match.score, 4),
                    "reasons": list(match.reasons),
                    "explanation": HitExplanation.of(match.explanation),
                }
            )
    await repo.upsert_hits(conn, customer.id, found)
    await trail.screened(conn, customer.id, found)
    await repo.clear_stale_hits(
        conn, customer.id, {(f["subject_id"], f["source"], f["entry_id"]) for f in found}
    )
    return True


class Assessment(msgspec.Struct, frozen=True):
    sanctions: Sanctions
    report: OwnershipReport
    open_hits: int
    reason: str


def assess(
    customer_id: uuid.UUID, owners: Sequence[Owner], edges: Sequence[Edge], hits: Sequence[Hit]
) -> Assessment:
    """The sanctions result from the hits and the ownership graph. Pure."""
    live = [h for h in hits if h.state in ("open", "confirmed")]
    on_customer = [h for h in live if h.subject_type == "customer"]
    listed_any = {h.subject_id for h in live if h.subject_type == "owner"}
    listed_confirmed = {h.subject_id for h in live if h.subject_type == "owner" and h.state == "confirmed"}
    report = ownership_report(owners, edges, listed_any)
    confirmed_report = ownership_report(owners, edges, listed_confirmed)
    sanctions: Sanctions = "none"
    reason = ""
    if any(h.state == "confirmed" for h in on_customer):
        sanctions, reason = "confirmed", "confirmed match of the customer on a denied-party list"
    elif confirmed_report.treated_as_listed:
        sanctions = "confirmed"
        reason = f"owned {confirmed_report.listed_percent:g}% by listed parties (50 percent rule)"
    elif on_customer:
        best = max(on_customer, key=lambda h: h.score)
        sanctions = "potential"
        reason = (
            f"possible match on {best.list_source} entry {best.entry} ({best.name}, score {best.score:.2f})"
        )
    elif report.treated_as_listed:
        sanctions = "potential"
        reason = f"owned {report.listed_percent:g}% by possibly listed parties (50 percent rule)"
    open_hits = sum(1 for h in live if h.state == "open")
    if not reason and open_hits:
        best = max((h for h in live if h.state == "open"), key=lambda h: h.score)
        reason = f"possible match of an owner on {best.list_source} entry {best.entry} ({best.name})"
    return Assessment(sanctions, report, open_hits, reason)


def ownership_report(
    owners: Sequence[Owner], edges: Sequence[Edge], listed: set[uuid.UUID]
) -> OwnershipReport:
    nodes = [
        OwnerNode(id=str(o.id), kind=o.kind, name=o.name or "", country=o.country, listed=o.id in listed)
        for o in owners
    ]
    links = [
        OwnershipEdge(
            owner_id=str(e.owner_id),
            owned_id=None if e.owned_id is None else str(e.owned_id),
            percent=e.percent,
            role=e.role,
        )
        for e in edges
    ]
    return analyse(nodes, links)


def follow_up(status: Status, standing: Assessment) -> tuple[Status, str] | None:
    """The status change a screening result calls for, if any. Pure.

    A confirmed listing rejects; a possible one sends a customer who is using compute
    back to review. A pending application stays pending (it is reviewed on submission),
    and a suspension, an operator's decision, stands.
    """
    if standing.sanctions == "confirmed" and status != "rejected":
        return "rejected", standing.reason
    if standing.open_hits and status in ("verified", "expired"):
        return "in_review", standing.reason
    return None
