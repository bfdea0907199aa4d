"""The jurisdiction decision: may this customer run this action on this compute, from here?

Pure and fast: no I/O, no clock, only dictionary reads into lookups the :class:`Policy` computed at
load time (and a bounded memo of fact lines in that index, which changes the cost, not the
result). The part that depends only on the customer (its tier, from the countries of its facts)
is compiled once into an :class:`Entitlement`, which the hot path caches per customer and asks for
each request; :func:`decide` is the same computation in one call.

Order of the checks, the first failing one answering: the action is allowed for the customer's
tier (``jurisdiction_denied``); the request's origin country is not denied (``origin_denied``);
the upstream's region is allowed (``region_not_allowed``); the customer's KYC level is enough
(``edd_required``). Then ``allow``, or ``cap`` when the tier's rule carries caps.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from .index import FACTS_SEEN_MAX, PolicyIndex, TierInfo
from .model import Action, Caps, KycLevel, OriginSetting, Policy, describe_caps

Source = Literal["incorporation", "residence", "nationality", "headquarters", "address", "owner", "account"]
Code = Literal[
    "allowed", "capped", "jurisdiction_denied", "origin_denied", "region_not_allowed", "edd_required"
]


class Jurisdiction(msgspec.Struct, frozen=True):
    """One country a customer belongs to, and why."""

    country: str
    """ISO 3166-1 alpha-2, upper case."""
    source: Source
    region: str | None = None
    """ISO 3166-2 (``UA-43``), when known (addresses)."""
    percent: float | None = None
    """For ``source="owner"``: the owner's effective share of the customer. An owner without one
    (a beneficial owner by control role) counts whatever the ownership threshold."""
    detail: str = ""
    """For explanations, e.g. the owner id; never a name."""


class CustomerFacts(msgspec.Struct, frozen=True):
    customer_id: str
    jurisdictions: tuple[Jurisdiction, ...]
    kyc_level: KycLevel = "standard"


class RequestFacts(msgspec.Struct, frozen=True):
    action: Action
    upstream_region: str
    """Alpha-2 code of the country where the compute runs."""
    origin_country: str | None
    """The client IP's country; None when unknown."""
    gpus: int | None = None


class Decision(msgspec.Struct, frozen=True):
    decision: Literal["allow", "deny", "cap"]
    code: Code
    message: str
    """For the customer: names countries, tiers and rules, never another customer's data."""
    rule: str
    """The rule that fired: ``rules.<tier>``, ``origin.<tier or group>``, ``origin.unknown_origin``,
    ``origin.partial_country_origin``."""
    policy_hash: str
    tier: str
    caps: Caps | None = None
    trace: tuple[str, ...] = ()


class Entitlement(msgspec.Struct, frozen=True):
    """What a customer may do under a policy, whatever the request: compiled once, asked per request."""

    customer_id: str
    tier: str
    rule: str
    """``rules.<tier>``."""
    deciding: tuple[Jurisdiction, ...]
    """The facts that put the customer in its tier (empty: the default tier)."""
    trace: tuple[str, ...]
    policy_hash: str
    kyc_level: KycLevel
    actions: frozenset[str]
    regions: frozenset[str] | None
    """Upstream countries allowed; None: any."""
    required_kyc: KycLevel
    edd_above_gpus: int | None
    caps: Caps | None
    caps_text: str
    unknown_origin: OriginSetting
    partial_country_origin: OriginSetting
    origin_denied: dict[str, str]
    """Shared with the policy, read only."""
    origin_partial: dict[str, tuple[str, ...]]
    """Shared with the policy, read only."""
    tier_title: str

    def decide(self, request: RequestFacts) -> Decision:
        """The decision for one request; equal to :func:`decide` with the facts this was compiled from."""
        action, region, origin = request.action, request.upstream_region, request.origin_country
        trace = [*self.trace, _request_line(request)]
        if action not in self.actions:
            trace.append(f"action {action}: not allowed by {self.rule}")
            return self._deny(
                "jurisdiction_denied",
                f"{action} is not allowed for jurisdiction tier {self.tier} ({self.tier_title}); "
                f"tier decided by {self.decided_by()}",
                self.rule,
                trace,
            )
        trace.append(f"action {action}: allowed by {self.rule}")

        if origin is None:
            if self.unknown_origin == "deny":
                trace.append("origin unknown: denied by origin.unknown_origin = deny")
                return self._deny(
                    "origin_denied",
                    "requests from an unknown origin are not allowed",
                    "origin.unknown_origin",
                    trace,
                )
            trace.append("origin unknown: allowed by origin.unknown_origin = allow")
        else:
            entry = self.origin_denied.get(origin)
            if entry is not None:
                trace.append(f"origin {origin}: listed by {entry} in origin.deny")
                return self._deny(
                    "origin_denied",
                    f"requests from {origin} are not allowed ({entry})",
                    f"origin.{entry}",
                    trace,
                )
            partial = self.origin_partial.get(origin)
            if partial is not None:
                listed = ", ".join(partial)
                if self.partial_country_origin == "deny":
                    trace.append(
                        f"origin {origin}: has listed regions ({listed}); partial_country_origin = deny"
                    )
                    return self._deny(
                        "origin_denied",
                        f"requests from {origin} are not allowed: regions of it are listed ({listed}) "
                        "and an IP address gives no region",
                        "origin.partial_country_origin",
                        trace,
                    )
                trace.append(
                    f"origin {origin}: has listed regions ({listed}); partial_country_origin = allow"
                )
            else:
                trace.append(f"origin {origin}: not denied")

        if self.regions is not None and region not in self.regions:
            trace.append(f"region {region}: not among the regions of {self.rule}")
            return self._deny(
                "region_not_allowed",
                f"jurisdiction tier {self.tier} may not use compute in {region}",
                self.rule,
                trace,
            )
        trace.append(f"region {region}: allowed by {self.rule}")

        if self.kyc_level != "enhanced":
            if self.required_kyc == "enhanced":
                trace.append(f"kyc {self.kyc_level}: {self.rule} requires enhanced due diligence")
                return self._deny(
                    "edd_required",
                    f"jurisdiction tier {self.tier} requires enhanced due diligence",
                    self.rule,
                    trace,
                )
            gpus, limit = request.gpus, self.edd_above_gpus
            if gpus is not None and limit is not None and gpus > limit:
                trace.append(f"kyc {self.kyc_level}: {gpus} GPUs is above edd_above_gpus = {limit}")
                return self._deny(
                    "edd_required",
                    f"jobs of more than {limit} GPUs require enhanced due diligence",
                    self.rule,
                    trace,
                )
        trace.append(f"kyc {self.kyc_level}: enough")

        if self.caps is None:
            trace.append("allow")
            return Decision(
                decision="allow",
                code="allowed",
                message=f"allowed for jurisdiction tier {self.tier}",
                rule=self.rule,
                policy_hash=self.policy_hash,
                tier=self.tier,
                trace=tuple(trace),
            )
        described = self.caps_text
        trace.append(f"cap: {described}")
        return Decision(
            decision="cap",
            code="capped",
            message=f"allowed for jurisdiction tier {self.tier}, with caps: {described}",
            rule=self.rule,
            policy_hash=self.policy_hash,
            tier=self.tier,
            caps=self.caps,
            trace=tuple(trace),
        )

    def decided_by(self) -> str:
        """The deciding facts in a few words, for messages."""
        if not self.deciding:
            return "no jurisdiction on record (the default tier)"
        return ", ".join(dict.fromkeys([f"{f.region or f.country} ({f.source})" for f in self.deciding]))

    def _deny(self, code: Code, message: str, rule: str, trace: list[str]) -> Decision:
        trace.append(f"deny {code}")
        return Decision(
            decision="deny",
            code=code,
            message=message,
            rule=rule,
            policy_hash=self.policy_hash,
            tier=self.tier,
            trace=tuple(trace),
        )


def _request_line(request: RequestFacts) -> str:
    origin = request.origin_country or "an unknown origin"
    gpus = "" if request.gpus is None else f", {request.gpus} GPUs"
    return f"request: {request.action} on {request.upstream_region} from {origin}{gpus}"


def _fact_line(fact: Jurisdiction, index: PolicyIndex, threshold: float) -> tuple[str, TierInfo | None]:
    """A fact's trace line and tier info (None: an owner below the threshold, who does not count)."""
    region, percent = fact.region, fact.percent
    label = f"fact {fact.source} {fact.country}"
    if region is not None:
        label += f" region {region}"
    if percent is not None:
        label += f" {percent:g}%"
    if fact.detail:
        label += f" [{fact.detail}]"
    if percent is not None and percent < threshold and fact.source == "owner":
        return f"{label}: ignored, below the ownership threshold of {threshold:g}%", None
    info = index.country_info.get(fact.country, index.default_info)
    if region is not None and (by_region := index.region_info.get(region)) and by_region[1] > info[1]:
        info = by_region
    return f"{label} -> {info[0]} ({info[2]})", info


def compile_entitlement(facts: CustomerFacts, policy: Policy) -> Entitlement:
    """The customer's tier (the most restrictive of its counted facts) and the rule that goes with it."""
    index = policy.index
    seen = index.facts_seen
    tier, top = policy.default_tier, -1
    deciding: list[Jurisdiction] = []
    trace: list[str] = []
    for fact in facts.jurisdictions:
        known = seen.get(fact)
        if known is None:
            if len(seen) >= FACTS_SEEN_MAX:
                seen.clear()
            known = seen[fact] = _fact_line(fact, index, policy.ownership_threshold)
        line, info = known
        trace.append(line)
        if info is None:
            continue
        if info[1] > top:
            tier, top, deciding = info[0], info[1], [fact]
        elif info[1] == top:
            deciding.append(fact)
    if deciding:
        trace.append(f"tier {tier}: the most restrictive of the facts")
    else:
        trace.append(f"tier {tier}: no fact counts, the default tier")
    trace.append(index.rule_text[tier])
    rule = policy.rules[tier]
    caps, caps_text = index.rule_caps[tier]
    return Entitlement(
        customer_id=facts.customer_id,
        tier=tier,
        rule=f"rules.{tier}",
        deciding=tuple(deciding),
        trace=tuple(trace),
        policy_hash=policy.hash,
        kyc_level=facts.kyc_level,
        actions=index.rule_actions[tier],
        regions=index.rule_regions[tier],
        required_kyc=rule.kyc_level,
        edd_above_gpus=rule.edd_above_gpus,
        caps=caps,
        caps_text=caps_text,
        unknown_origin=policy.origin.unknown_origin,
        partial_country_origin=policy.origin.partial_country_origin,
        origin_denied=index.origin_denied,
        origin_partial=index.origin_partial,
        tier_title=policy.tiers[tier].title,
    )


def decide(facts: CustomerFacts, request: RequestFacts, policy: Policy) -> Decision:
    """Allow, deny or cap one request; pure. The hot path caches :func:`compile_entitlement` instead."""
    return compile_entitlement(facts, policy).decide(request)


def explain(decision: Decision) -> str:
    """The decision and the chain of facts and rules behind it, as lines of text."""
    lines = [
        f"{decision.decision.upper()} {decision.code} (rule {decision.rule}, tier {decision.tier})",
        decision.message,
        f"policy {decision.policy_hash}",
    ]
    if decision.caps is not None:
        lines.append(f"caps: {describe_caps(decision.caps)}")
    if decision.trace:
        lines.append("because:")
        lines += [f"  {line}" for line in decision.trace]
    return "\n".join(lines)


__all__ = [
    "Action",
    "Caps",
    "Code",
    "CustomerFacts",
    "Decision",
    "Entitlement",
    "Jurisdiction",
    "RequestFacts",
    "Source",
    "compile_entitlement",
    "decide",
    "explain",
]
