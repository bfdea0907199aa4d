"""Properties of the decision over random facts and requests (hypothesis)."""

from __future__ import annotations

from typing import get_args

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.policy import CustomerFacts, Jurisdiction, RequestFacts, compile_entitlement, decide
from gateway.policy.decide import Source
from gateway.policy.model import ACTIONS, Rule, country_codes

from .helpers import SHIPPED, permissive, variant

COUNTRIES = [*sorted(country_codes()), "XK"]  # XK: a code some IP databases use, unknown to ISO
REGIONS = ["UA-43", "UA-40", "UA-14", "UA-09", "UA-46", "US-CA", "RU-MOW", "CN-BJ"]
PROHIBITED = sorted(c for c, info in SHIPPED.index.country_info.items() if info[0] == "tier3")
STRICT = variant(
    rules={
        "tier1": Rule(actions=ACTIONS, regions=("ai_diffusion_tier1",), edd_above_gpus=8),
        "tier2": Rule(actions=("inference",), regions=("US", "DE"), kyc_level="enhanced"),
    },
    deny=("foreign_adversaries", "tier3"),
    unknown_origin="deny",
    partial_country_origin="deny",
)
POLICIES = [SHIPPED, STRICT, permissive()]

percents = st.one_of(st.none(), st.floats(0, 100, allow_nan=False))
jurisdictions = st.builds(
    Jurisdiction,
    country=st.sampled_from(COUNTRIES),
    source=st.sampled_from(get_args(Source)),
    region=st.one_of(st.none(), st.sampled_from(REGIONS)),
    percent=percents,
    detail=st.sampled_from(["", "own-1", "own-2"]),
)
customers = st.builds(
    CustomerFacts,
    customer_id=st.just("cus-1"),
    jurisdictions=st.lists(jurisdictions, max_size=8).map(tuple),
    kyc_level=st.sampled_from(["standard", "enhanced"]),
)
requests = st.builds(
    RequestFacts,
    action=st.sampled_from(ACTIONS),
    upstream_region=st.sampled_from(COUNTRIES),
    origin_country=st.one_of(st.none(), st.sampled_from([*COUNTRIES, "UA"])),
    gpus=st.one_of(st.none(), st.integers(0, 100_000)),
)


@settings(deadline=None)
@given(
    facts=customers,
    country=st.sampled_from(PROHIBITED),
    percent=st.floats(25, 100),
    position=st.integers(0, 8),
    req=requests,
)
def test_owned_25_percent_from_a_prohibited_country_is_never_allowed(
    facts: CustomerFacts, country: str, percent: float, position: int, req: RequestFacts
) -> None:
    owner = Jurisdiction(country, "owner", percent=percent, detail="own-x")
    mixed = list(facts.jurisdictions)
    mixed.insert(min(position, len(mixed)), owner)
    d = decide(CustomerFacts(facts.customer_id, tuple(mixed), facts.kyc_level), req, SHIPPED)
    assert d.decision == "deny"
    assert (d.code, d.tier, d.rule) == ("jurisdiction_denied", "tier3", "rules.tier3")


@settings(deadline=None)
@given(facts=customers, percent=st.floats(25, 100), req=requests)
def test_owned_25_percent_from_crimea_is_never_allowed(
    facts: CustomerFacts, percent: float, req: RequestFacts
) -> None:
    owner = Jurisdiction("UA", "owner", region="UA-43", percent=percent)
    d = decide(CustomerFacts("cus-1", (*facts.jurisdictions, owner), facts.kyc_level), req, SHIPPED)
    assert (d.decision, d.tier) == ("deny", "tier3")


@settings(deadline=None)
@given(facts=customers, req=requests)
def test_a_policy_that_denies_nothing_allows_everything(facts: CustomerFacts, req: RequestFacts) -> None:
    d = decide(facts, req, POLICIES[2])
    assert (d.decision, d.code, d.caps) == ("allow", "allowed", None)


@settings(deadline=None)
@given(
    policy=st.sampled_from(POLICIES),
    facts=customers,
    reqs=st.lists(requests, min_size=1, max_size=10),
)
def test_entitlement_decides_as_decide_does(
    policy: object, facts: CustomerFacts, reqs: list[RequestFacts]
) -> None:
    entitlement = compile_entitlement(facts, policy)  # type: ignore[arg-type]
    for req in reqs:  # one entitlement, many requests: no state carried from one to the next
        assert entitlement.decide(req) == decide(facts, req, policy)  # type: ignore[arg-type]


@settings(deadline=None)
@given(policy=st.sampled_from(POLICIES), facts=customers, req=requests, seed=st.randoms())
def test_the_order_of_facts_does_not_change_the_outcome(
    policy: object, facts: CustomerFacts, req: RequestFacts, seed: object
) -> None:
    shuffled = list(facts.jurisdictions)
    seed.shuffle(shuffled)  # type: ignore[attr-defined]
    a = decide(facts, req, policy)  # type: ignore[arg-type]
    b = decide(CustomerFacts("cus-1", tuple(shuffled), facts.kyc_level), req, policy)  # type: ignore[arg-type]
    assert (a.decision, a.code, a.rule, a.tier, a.caps) == (b.decision, b.code, b.rule, b.tier, b.caps)
