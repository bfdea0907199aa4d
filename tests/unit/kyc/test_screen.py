"""From screening hits and the ownership graph to a sanctions result and a status change."""

from __future__ import annotations

import datetime as dt
import uuid

from gateway.kyc.models import Edge, Hit, Owner
from gateway.kyc.screen import assess, follow_up

CUSTOMER = uuid.uuid4()
NOW = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)


def owner(kind: str = "person") -> Owner:
    return Owner(id=uuid.uuid4(), kind=kind, country="RU", name="x", birth_date=None, nationality=None,  # type: ignore[arg-type]
                 created_at=NOW)  # fmt: skip


def edge(o: Owner, percent: float, of: Owner | None = None) -> Edge:
    return Edge(id=1, owner_id=o.id, owned_id=None if of is None else of.id, percent=percent, role=None)


def hit(subject: uuid.UUID, state: str = "open", subject_type: str = "owner", score: float = 0.9) -> Hit:
    return Hit(id=1, subject_type=subject_type, subject_id=subject, entry="91001", name="Listed Person",  # type: ignore[arg-type]
               matched_name="Listed Person", score=score, reasons=[], state=state, list_source="sdn")  # type: ignore[arg-type]  # fmt: skip


def test_no_hits_no_result() -> None:
    a = owner()
    result = assess(CUSTOMER, [a], [edge(a, 100)], [])
    assert (result.sanctions, result.open_hits, result.report.listed_percent) == ("none", 0, 0.0)
    assert follow_up("verified", result) is None


def test_open_hit_on_the_customer_is_potential_and_sends_a_verified_customer_to_review() -> None:
    result = assess(CUSTOMER, [], [], [hit(CUSTOMER, subject_type="customer")])
    assert result.sanctions == "potential" and "possible match on sdn entry 91001" in result.reason
    assert follow_up("verified", result) == ("in_review", result.reason)
    assert follow_up("pending", result) is None  # reviewed when submitted
    assert follow_up("suspended", result) is None  # an operator's suspension stands


def test_confirmed_hit_on_the_customer_rejects() -> None:
    result = assess(CUSTOMER, [], [], [hit(CUSTOMER, "confirmed", "customer")])
    assert result.sanctions == "confirmed"
    assert follow_up("verified", result) == ("rejected", result.reason)
    assert follow_up("rejected", result) is None


def test_listed_owners_aggregate_to_the_fifty_percent_rule() -> None:
    a, b, c = owner(), owner("organisation"), owner()
    edges = [edge(a, 30), edge(b, 40), edge(c, 30)]
    below = assess(CUSTOMER, [a, b, c], edges, [hit(a.id)])
    assert below.report.listed_percent == 30 and below.sanctions == "none" and below.open_hits == 1
    assert follow_up("verified", below) == ("in_review", below.reason)
    at = assess(CUSTOMER, [a, b, c], edges, [hit(a.id), hit(b.id)])
    assert at.report.listed_percent == 70 and at.sanctions == "potential"
    confirmed = assess(CUSTOMER, [a, b, c], edges, [hit(a.id, "confirmed"), hit(b.id, "confirmed")])
    assert confirmed.sanctions == "confirmed" and "50 percent rule" in confirmed.reason


def test_dismissed_and_cleared_hits_count_for_nothing() -> None:
    a = owner()
    result = assess(
        CUSTOMER, [a], [edge(a, 100)], [hit(a.id, "dismissed"), hit(CUSTOMER, "cleared", "customer")]
    )
    assert (result.sanctions, result.open_hits, result.report.listed_percent) == ("none", 0, 0.0)
