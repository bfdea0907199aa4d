"""The lookups a decision reads, derived once from a policy's content.

A request's decision must cost a few dictionary reads, so everything that can be worked out from
the policy alone is worked out here, at load time: the tier of every country and region (with the
reason, for explanations), the origins that are denied, and each tier's rule in ready-to-use form.
"""

from __future__ import annotations

import msgspec

from .model import ANY_REGION, Caps, Policy, country_codes, describe_caps, describe_rule

FACTS_SEEN_MAX = 50_000
TierInfo = tuple[str, int, str]
"""(tier, rank, why): rank is the position in tier_order; why is e.g. "group ear_d5"."""


class PolicyIndex(msgspec.Struct, frozen=True):
    tier_order: tuple[str, ...]
    """Least restrictive first."""
    tier_rank: dict[str, int]
    """Position in tier_order: the higher, the more restrictive."""
    tier_of_country: dict[str, str]
    """Only the countries some tier lists: any other country is in the default tier."""
    tier_of_region: dict[str, str]
    country_info: dict[str, TierInfo]
    """Every known country (and every listed code) -> its tier info in one read."""
    region_info: dict[str, TierInfo]
    default_info: TierInfo
    """For a country code the index does not know."""
    origin_denied: dict[str, str]
    """Country -> the ``origin.deny`` entry that lists it."""
    origin_partial: dict[str, tuple[str, ...]]
    """Country not itself denied -> its regions that a deny entry lists."""
    rule_actions: dict[str, frozenset[str]]
    rule_regions: dict[str, frozenset[str] | None]
    """Tier -> upstream countries its rule allows; None for ``"*"``."""
    rule_caps: dict[str, tuple[Caps | None, str]]
    """Tier -> its rule's caps (None: none set) and their description."""
    rule_text: dict[str, str]
    """Tier -> its rule in one line, for explanations."""
    facts_seen: dict[object, tuple[str, TierInfo | None]]
    """A memo for the decision: jurisdiction fact -> (its trace line, its tier info, None when it
    does not count). Formatting the line is most of the cost of compiling an entitlement, and the
    same facts come back (a customer decided again without a cached entitlement). Cleared when it
    reaches FACTS_SEEN_MAX; a new policy starts empty."""


def _memberships(
    policy: Policy, tier_order: tuple[str, ...]
) -> tuple[dict[str, TierInfo], dict[str, TierInfo]]:
    """Country and region -> (tier, rank, why); a code two tiers list ends in the more restrictive."""
    countries: dict[str, TierInfo] = {}
    regions: dict[str, TierInfo] = {}
    for rank, name in enumerate(tier_order):  # least restrictive first: later tiers overwrite
        tier = policy.tiers[name]
        members = [(countries, c, f"tier {name} countries") for c in tier.countries]
        members += [(regions, r, f"tier {name} regions") for r in tier.regions]
        for group_name in tier.groups:
            group = policy.groups[group_name]
            members += [(countries, c, f"group {group_name}") for c in group.countries]
            members += [(regions, r, f"group {group_name}") for r in group.regions]
        for table, code, why in members:
            if code not in table or table[code][0] != name:  # first reason within a tier: stable
                table[code] = (name, rank, why)
    return countries, regions


def build_index(policy: Policy) -> PolicyIndex:
    tier_order = tuple(sorted(policy.tiers, key=lambda name: policy.tiers[name].rank))
    tier_rank = {name: i for i, name in enumerate(tier_order)}
    listed_countries, listed_regions = _memberships(policy, tier_order)
    default_info = (policy.default_tier, tier_rank[policy.default_tier], "default tier")
    country_info = {
        c: listed_countries.get(c, default_info) for c in sorted(country_codes() | listed_countries.keys())
    }

    origin_denied: dict[str, str] = {}
    partial: dict[str, set[str]] = {}
    for entry in policy.origin.deny:
        if entry in policy.tiers:
            countries = {c for c, info in country_info.items() if info[0] == entry}
            regions = {r for r, info in listed_regions.items() if info[0] == entry}
        else:
            countries = set(policy.groups[entry].countries)
            regions = set(policy.groups[entry].regions)
        for c in sorted(countries):
            origin_denied.setdefault(c, entry)
        for r in regions:
            partial.setdefault(r.split("-", 1)[0], set()).add(r)
    origin_partial = {c: tuple(sorted(rs)) for c, rs in sorted(partial.items()) if c not in origin_denied}

    rule_regions: dict[str, frozenset[str] | None] = {}
    for name, rule in policy.rules.items():
        if ANY_REGION in rule.regions:
            rule_regions[name] = None
            continue
        allowed: set[str] = set()
        for entry in rule.regions:
            allowed.update(policy.groups[entry].countries if entry in policy.groups else (entry,))
        rule_regions[name] = frozenset(allowed)

    return PolicyIndex(
        tier_order=tier_order,
        tier_rank=tier_rank,
        tier_of_country={c: info[0] for c, info in listed_countries.items()},
        tier_of_region={r: info[0] for r, info in listed_regions.items()},
        country_info=country_info,
        region_info=listed_regions,
        default_info=default_info,
        origin_denied=origin_denied,
        origin_partial=origin_partial,
        rule_actions={name: frozenset(rule.actions) for name, rule in policy.rules.items()},
        rule_regions=rule_regions,
        rule_caps={
            name: (rule.caps, describe_caps(rule.caps)) if rule.caps.any() else (None, "")
            for name, rule in policy.rules.items()
        },
        rule_text={name: describe_rule(f"rules.{name}", rule) for name, rule in policy.rules.items()},
        facts_seen={},
    )
