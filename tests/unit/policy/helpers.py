"""Policies and facts for the policy tests: the shipped policy and variants of it built in code."""

from __future__ import annotations

from typing import Any

import msgspec

from gateway.policy import CustomerFacts, Jurisdiction, Policy, RequestFacts, load_policy, make_policy
from gateway.policy.model import ACTIONS, Caps, Origin, Rule

SHIPPED = load_policy()


def variant(policy: Policy = SHIPPED, *, rules: dict[str, Rule] | None = None, **origin: Any) -> Policy:
    """``policy`` with some rules replaced and some ``[origin]`` keys changed."""
    return make_policy(
        groups=policy.groups,
        tiers=policy.tiers,
        rules={**policy.rules, **(rules or {})},
        origin=msgspec.structs.replace(policy.origin, **origin),
        thresholds=policy.thresholds,
        default_tier=policy.default_tier,
    )


def rebuilt(policy: Policy = SHIPPED, **changes: Any) -> Policy:
    """``policy`` built again in code from its content, with ``changes`` (``None``: the default)."""
    content = {
        name: getattr(policy, name)
        for name in (
            "groups", "tiers", "rules", "origin", "thresholds", "default_tier",
            "plans", "accelerators", "compute", "prices", "parameters", "detection",
        )
    }  # fmt: skip
    return make_policy(**{**content, **changes})


OPEN_RULE = Rule(actions=ACTIONS, regions=("*",))


def permissive(policy: Policy = SHIPPED) -> Policy:
    """The same tiers and groups, but every rule allows everything everywhere, with no caps."""
    return make_policy(
        groups=policy.groups,
        tiers=policy.tiers,
        rules=dict.fromkeys(policy.tiers, OPEN_RULE),
        origin=Origin(deny=(), unknown_origin="allow", partial_country_origin="deny"),
        thresholds=policy.thresholds,
        default_tier=policy.default_tier,
    )


def customer(*facts: Jurisdiction, kyc: str = "standard") -> CustomerFacts:
    return CustomerFacts("cus-1", facts, kyc)  # type: ignore[arg-type]


def request(
    action: str = "inference", region: str = "US", origin: str | None = "US", gpus: int | None = None
) -> RequestFacts:
    return RequestFacts(action, region, origin, gpus)  # type: ignore[arg-type]


TIER2_CAPS = Caps(max_gpus_per_job=256, flop_per_month=5e23)
