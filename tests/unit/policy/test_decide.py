"""The jurisdiction decision, case by case: every code, tiers from facts, owners, regions, origins."""

from __future__ import annotations

import importlib

import msgspec
import pytest

from gateway.policy import Jurisdiction, compile_entitlement, decide, explain
from gateway.policy.model import ACTIONS, Caps, Rule

from .helpers import SHIPPED, TIER2_CAPS, customer, request, variant

US = Jurisdiction("US", "incorporation")
BR = Jurisdiction("BR", "incorporation")
IR_OWNER = Jurisdiction("IR", "owner", percent=30.0, detail="own-7")


@pytest.mark.parametrize(
    ("facts", "req", "decision", "code", "rule", "tier"),
    [
        ((US,), request(), "allow", "allowed", "rules.tier1", "tier1"),
        ((BR,), request("fine_tune"), "cap", "capped", "rules.tier2", "tier2"),
        ((BR,), request("train"), "deny", "jurisdiction_denied", "rules.tier2", "tier2"),
        (
            (Jurisdiction("IR", "nationality"),),
            request(),
            "deny",
            "jurisdiction_denied",
            "rules.tier3",
            "tier3",
        ),
        ((US,), request(origin="RU"), "deny", "origin_denied", "origin.tier3", "tier1"),
        ((US,), request(origin="MO"), "deny", "origin_denied", "origin.tier3", "tier1"),
        ((US,), request(origin=None), "allow", "allowed", "rules.tier1", "tier1"),
        ((US,), request(origin="UA"), "allow", "allowed", "rules.tier1", "tier1"),
        ((BR,), request("cluster_job", gpus=65), "deny", "edd_required", "rules.tier2", "tier2"),
        ((BR,), request("cluster_job", gpus=64), "cap", "capped", "rules.tier2", "tier2"),
        ((US,), request("cluster_job", gpus=1025), "deny", "edd_required", "rules.tier1", "tier1"),
    ],
)
def test_shipped_policy_table(
    facts: tuple[Jurisdiction, ...], req: object, decision: str, code: str, rule: str, tier: str
) -> None:
    d = decide(customer(*facts), req, SHIPPED)  # type: ignore[arg-type]
    assert (d.decision, d.code, d.rule, d.tier) == (decision, code, rule, tier)
    assert d.policy_hash == SHIPPED.hash
    assert d.caps == (TIER2_CAPS if decision == "cap" else None)


def test_region_not_allowed() -> None:
    policy = variant(rules={"tier2": Rule(actions=ACTIONS, regions=("ai_diffusion_tier1", "BR"))})
    assert decide(customer(BR), request(region="BR"), policy).code == "allowed"
    assert decide(customer(BR), request(region="DE"), policy).code == "allowed"  # via the group
    d = decide(customer(BR), request(region="IN"), policy)
    assert (d.decision, d.code, d.rule) == ("deny", "region_not_allowed", "rules.tier2")
    assert d.message == "jurisdiction tier tier2 may not use compute in IN"


def test_edd_required_by_the_rule_and_satisfied_by_enhanced_kyc() -> None:
    policy = variant(rules={"tier2": Rule(actions=ACTIONS, regions=("*",), kyc_level="enhanced")})
    d = decide(customer(BR), request(), policy)
    assert (d.decision, d.code) == ("deny", "edd_required")
    assert decide(customer(BR, kyc="enhanced"), request(), policy).code == "allowed"
    # Enhanced KYC also lifts the GPU-size threshold.
    assert decide(customer(BR, kyc="enhanced"), request("cluster_job", gpus=200), SHIPPED).code == "capped"


def test_checks_run_in_order_action_origin_region_kyc() -> None:
    strict = variant(
        rules={"tier2": Rule(actions=("inference",), regions=("US",), kyc_level="enhanced")},
        unknown_origin="deny",
    )
    facts = customer(BR)
    assert decide(facts, request("train", "IN", None), strict).code == "jurisdiction_denied"
    assert decide(facts, request("inference", "IN", None), strict).code == "origin_denied"
    assert decide(facts, request("inference", "IN", "US"), strict).code == "region_not_allowed"
    assert decide(facts, request("inference", "US", "US"), strict).code == "edd_required"


def test_most_restrictive_tier_wins_whatever_the_order() -> None:
    assert decide(customer(US, BR), request(), SHIPPED).tier == "tier2"
    assert decide(customer(BR, US), request(), SHIPPED).tier == "tier2"
    d = decide(customer(US, BR, IR_OWNER), request(), SHIPPED)
    assert (d.tier, d.code) == ("tier3", "jurisdiction_denied")
    assert d.message == (
        "inference is not allowed for jurisdiction tier tier3 (Prohibited); tier decided by IR (owner)"
    )


def test_no_facts_means_the_default_tier() -> None:
    d = decide(customer(), request(), SHIPPED)
    assert (d.tier, d.code) == ("tier2", "capped")
    assert "tier tier2: no fact counts, the default tier" in d.trace


def test_owners_below_the_threshold_are_ignored() -> None:
    below = Jurisdiction("IR", "owner", percent=24.9, detail="own-1")
    at = Jurisdiction("IR", "owner", percent=25.0, detail="own-1")
    assert decide(customer(US, below), request(), SHIPPED).tier == "tier1"
    assert decide(customer(US, at), request(), SHIPPED).tier == "tier3"
    # An owner with no share on record (a controlling person) counts.
    control = Jurisdiction("IR", "owner", detail="own-2")
    assert decide(customer(US, control), request(), SHIPPED).tier == "tier3"
    # The threshold is the policy's.
    assert compile_entitlement(customer(US, at), SHIPPED).deciding == (at,)
    d = decide(customer(US, below), request(), SHIPPED)
    assert "fact owner IR 24.9% [own-1]: ignored, below the ownership threshold of 25%" in d.trace


def test_crimea_address_is_prohibited_though_ukraine_is_tier2() -> None:
    crimea = Jurisdiction("UA", "address", region="UA-43")
    d = decide(customer(US, crimea), request(), SHIPPED)
    assert (d.decision, d.code, d.tier) == ("deny", "jurisdiction_denied", "tier3")
    assert "UA-43 (address)" in d.message
    assert "fact address UA region UA-43 -> tier3 (group comprehensively_sanctioned)" in d.trace
    lviv = Jurisdiction("UA", "address", region="UA-46")
    assert decide(customer(lviv), request(), SHIPPED).tier == "tier2"
    assert decide(customer(Jurisdiction("UA", "residence")), request(), SHIPPED).tier == "tier2"


@pytest.mark.parametrize(("setting", "code"), [("allow", "allowed"), ("deny", "origin_denied")])
def test_unknown_origin_per_setting(setting: str, code: str) -> None:
    d = decide(customer(US), request(origin=None), variant(unknown_origin=setting))
    assert d.code == code
    if code == "origin_denied":
        assert d.rule == "origin.unknown_origin"
        assert d.message == "requests from an unknown origin are not allowed"


@pytest.mark.parametrize(("setting", "code"), [("allow", "allowed"), ("deny", "origin_denied")])
def test_partial_country_origin_per_setting(setting: str, code: str) -> None:
    policy = variant(partial_country_origin=setting)
    assert policy.index.origin_partial == {"UA": ("UA-09", "UA-14", "UA-40", "UA-43")}
    d = decide(customer(US), request(origin="UA"), policy)
    assert d.code == code
    assert decide(customer(US), request(origin="PL"), policy).code == "allowed"
    if code == "origin_denied":
        assert d.rule == "origin.partial_country_origin"


def test_origin_deny_by_group_names_the_group() -> None:
    policy = variant(deny=("foreign_adversaries", "tier3"))
    d = decide(customer(US), request(origin="HK"), policy)
    assert (d.code, d.rule) == ("origin_denied", "origin.foreign_adversaries")
    assert d.message == "requests from HK are not allowed (foreign_adversaries)"
    assert decide(customer(US), request(origin="AF"), policy).rule == "origin.tier3"


def test_caps_come_with_the_rule() -> None:
    policy = variant(
        rules={"tier1": Rule(actions=ACTIONS, regions=("*",), caps=Caps(tokens_per_day=1_000_000))}
    )
    d = decide(customer(US), request(), policy)
    assert (d.decision, d.code, d.caps) == ("cap", "capped", Caps(tokens_per_day=1_000_000))
    assert d.message == "allowed for jurisdiction tier tier1, with caps: tokens_per_day=1e+06"


def test_messages_do_not_carry_ids_and_explain_carries_the_chain() -> None:
    facts = customer(US, IR_OWNER)
    d = decide(facts, request("train", origin="DE"), SHIPPED)
    assert "own-7" not in d.message and "cus-1" not in d.message
    text = explain(d)
    assert text.splitlines()[:3] == [
        "DENY jurisdiction_denied (rule rules.tier3, tier tier3)",
        d.message,
        f"policy {SHIPPED.hash}",
    ]
    assert "  fact incorporation US -> tier1 (group ai_diffusion_tier1)" in text
    assert "  fact owner IR 30% [own-7] -> tier3 (group comprehensively_sanctioned)" in text
    assert "  rule rules.tier3: actions none; regions none; kyc standard" in text
    assert text.endswith("  action train: not allowed by rules.tier3\n  deny jurisdiction_denied")


def test_decision_encodes_for_the_cli() -> None:
    d = decide(customer(BR), request(), SHIPPED)
    out = msgspec.json.decode(msgspec.json.encode(d))
    assert {k: out[k] for k in ("decision", "code", "rule", "policy_hash")} == {
        "decision": "cap",
        "code": "capped",
        "rule": "rules.tier2",
        "policy_hash": SHIPPED.hash,
    }
    assert out["caps"] == {"max_gpus_per_job": 256, "flop_per_month": 5e23, "tokens_per_day": None}


def test_entitlement_holds_what_does_not_depend_on_the_request() -> None:
    e = compile_entitlement(customer(US, BR), SHIPPED)
    assert (e.customer_id, e.tier, e.rule, e.policy_hash) == ("cus-1", "tier2", "rules.tier2", SHIPPED.hash)
    assert e.deciding == (BR,)
    assert e.trace[-1].startswith("rule rules.tier2: actions inference, fine_tune, cluster_job")
    assert e.caps == TIER2_CAPS


def test_denying_the_default_tier_denies_every_unlisted_country() -> None:
    policy = variant(deny=("tier2",))
    assert decide(customer(US), request(origin="BR"), policy).rule == "origin.tier2"
    assert decide(customer(US), request(origin="US"), policy).code == "allowed"
    assert decide(customer(US), request(origin="IR"), policy).code == "allowed"  # tier3 is not denied here


def test_the_fact_memo_is_bounded_and_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    # importlib: the package's ``decide`` attribute is the function, not the module.
    decide_module = importlib.import_module("gateway.policy.decide")
    policy = variant()  # a fresh index, with an empty memo
    monkeypatch.setattr(decide_module, "FACTS_SEEN_MAX", 3)
    facts = [customer(Jurisdiction(c, "residence")) for c in ("US", "BR", "IR", "DE", "CN")]
    first = [decide(f, request(), policy) for f in facts]
    assert len(policy.index.facts_seen) <= 3
    assert [decide(f, request(), policy) for f in facts] == first
    assert [d.tier for d in first] == ["tier1", "tier2", "tier3", "tier1", "tier3"]
