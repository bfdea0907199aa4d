"""The usage report's pure builder: the jurisdiction rule, aggregation, decimal strings, determinism."""

from __future__ import annotations

import random

import msgspec
import pytest

from gateway.reports.model import ReportError, canonical
from gateway.reports.usage import build_usage, scope

from .helpers import COMPUTE, CUSTOMERS, DE, FR, HITS, IR, POLICY, PROVIDER, SINCE, UNTIL, US, USAGE, flag

FLAGS = [flag(DE, "eu", 0.5, [DE, FR]), flag(FR, "eu", 0.5, [DE, FR]), flag(US, "general", 0.1),
         flag(IR, "bio", 1.0)]  # fmt: skip


def build(code: str, **changes: object):
    facts = {"customers": CUSTOMERS, "usage": USAGE, "compute": COMPUTE, "flags": FLAGS, "hits": HITS}
    facts.update(changes)
    return build_usage(provider=PROVIDER, scope=scope(code, POLICY, "US"), since=SINCE, until=UNTIL,
                       policy=POLICY, **facts)  # type: ignore[arg-type]  # fmt: skip


def test_the_jurisdiction_rule() -> None:
    eu = scope("eu", POLICY, "US")
    assert eu.code == "EU" and eu.countries == sorted(POLICY.groups["eu"].countries)
    assert "DE" in eu.countries and "GB" not in eu.countries
    assert scope("DE", POLICY, "US").countries == ["DE"]
    home = scope("US", POLICY, "US")
    assert home.countries is None and "every customer" in home.rule
    assert scope("DE", POLICY, "DE").countries is None  # the provider's home, whatever it is
    with pytest.raises(ReportError, match="unknown jurisdiction 'XX'"):
        scope("XX", POLICY, "US")
    with pytest.raises(ReportError, match="unknown jurisdiction 'EUROPE'"):
        scope("Europe", POLICY, "US")


def test_eu_counts_only_customers_of_member_states() -> None:
    report = build("EU")
    assert report.customers.total == 2 and report.customers.active == 2
    assert report.customers.by_country == {"DE": 1, "FR": 1}
    assert report.customers.by_tier == {"tier1": 2}
    assert report.compute.requests == 110  # DE's 100 + 7 refused, FR's 3 refused
    assert (report.compute.prompt_tokens, report.compute.completion_tokens) == ("10000", "2000")
    assert report.compute.cluster_jobs == 2
    assert report.compute.gpu_hours == "2" and report.compute.flop_settled == "1500000000000000000000"
    assert report.refusals.by_code == {"budget_exhausted": 7, "jurisdiction_denied": 3}
    assert report.refusals.total == 10
    (counted,) = report.training_flags.counts  # the group of DE and FR, once; nobody else's flags
    assert (counted.threshold, counted.level, counted.groups, counted.customers) == ("eu", "0.5", 1, 2)
    assert counted.threshold_flop == "10000000000000000000000000" and counted.jurisdiction == "EU"
    assert report.screening.hits_raised == 2
    assert report.screening.raised_by_state == {"dismissed": 1, "open": 1}
    assert report.screening.decided == {"dismissed": 1}


def test_the_home_jurisdiction_counts_everyone_and_sums_beyond_2_53_exactly() -> None:
    report = build("US")
    assert report.customers.total == 5
    assert report.customers.by_country == {"DE": 1, "FR": 1, "IR": 1, "US": 1, "unknown": 1}
    assert report.customers.by_tier == {"tier1": 3, "tier2": 1, "tier3": 1}
    assert report.customers.by_kyc_status == {"pending": 1, "rejected": 1, "verified": 3}
    assert report.compute.requests == 100 + 7 + 3 + 2**40 + 5
    assert report.compute.prompt_tokens == str(10_000 + 2**52)
    assert report.compute.completion_tokens == str(2_000 + 2**53)
    assert report.compute.flop_settled == "301500000000000000000000"
    assert report.compute.gpu_hours == "2.5"  # 9000.5 s, to the thousandth of an hour
    assert {(c.threshold, c.level) for c in report.training_flags.counts} == {
        ("bio", "1"),
        ("eu", "0.5"),
        ("general", "0.1"),
    }
    # Ledger rows of a customer that no longer exists count at home only.
    extra = [*USAGE, type(USAGE[0])("00000000-0000-0000-0000-0000000000ff", None, 4, 1, 1)]
    assert build("US", usage=extra).compute.requests == report.compute.requests + 4
    assert build("EU", usage=extra).compute.requests == 110


def test_no_float_no_name_no_id_in_the_body() -> None:
    body = canonical(build("US"))
    decoded = msgspec.json.decode(body)

    def walk(value: object) -> None:
        assert not isinstance(value, float)
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(decoded)
    for customer in (DE, FR, US, IR):
        assert customer.encode() not in body


def test_the_same_facts_in_any_order_give_the_same_bytes() -> None:
    first = canonical(build("EU"))
    rng = random.Random(7)
    for _ in range(20):
        shuffled = {name: rng.sample(rows, len(rows)) for name, rows in
                    {"customers": CUSTOMERS, "usage": USAGE, "compute": COMPUTE, "flags": FLAGS,
                     "hits": HITS}.items()}  # fmt: skip
        assert canonical(build("EU", **shuffled)) == first
    assert canonical(build("DE")) != first


def test_a_period_must_end_after_it_starts() -> None:
    with pytest.raises(ReportError, match="must end after it starts"):
        build_usage(provider=PROVIDER, scope=scope("US", POLICY, "US"), since=UNTIL, until=SINCE,
                    policy=POLICY, customers=[], usage=[], compute=[], flags=[], hits=[])  # fmt: skip
