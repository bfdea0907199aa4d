"""Building a :class:`~.model.Policy` from validated content: normalised, hashed and indexed.

The loader (:mod:`.loader`) validates the files and their references; :func:`make_policy` turns the
merged content into the policy a decision reads, with its index (:mod:`.index`) built once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

import msgspec

from .detection import Detection, ParameterRule
from .index import build_index
from .model import (
    ACTIONS,
    ANY_REGION,
    Accelerator,
    Compute,
    Group,
    Origin,
    Plan,
    Policy,
    Prices,
    Rule,
    Thresholds,
    Tier,
)

# Bumped when the meaning of the policy format changes, so that an old and a new reading of the
# same files never share a hash.
_FORMAT = 1


def _sorted(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(items)))


def _normalise_rule(rule: Rule) -> Rule:
    actions = tuple(a for a in ACTIONS if a in rule.actions)
    regions = (ANY_REGION,) if ANY_REGION in rule.regions else _sorted(rule.regions)
    return msgspec.structs.replace(rule, actions=actions, regions=regions)


_UNHASHED_WHEN_UNSET = ("report_within_days", "jurisdiction")


def _thresholds_content(thresholds: Thresholds) -> dict[str, object]:
    """The thresholds as hashed: a training level's reporting fields count only when set, so that
    the hash of a policy that sets none stays what it was before the fields existed."""
    content: dict[str, object] = msgspec.to_builtins(thresholds)
    content["training"] = [
        {k: v for k, v in level.items() if not (k in _UNHASHED_WHEN_UNSET and v is None)}
        for level in content["training"]  # type: ignore[attr-defined]
    ]
    return content


def policy_hash(
    groups: Mapping[str, Group],
    tiers: Mapping[str, Tier],
    rules: Mapping[str, Rule],
    origin: Origin,
    thresholds: Thresholds,
    default_tier: str,
    plans: Mapping[str, Plan] | None = None,
    accelerators: Mapping[str, Accelerator] | None = None,
    compute: Compute | None = None,
    prices: Prices | None = None,
    parameters: Mapping[str, ParameterRule] | None = None,
    detection: Detection | None = None,
) -> str:
    """sha256 of the content as JSON with every mapping and struct field in sorted order."""
    content: dict[str, object] = {
        "format": _FORMAT,
        "groups": groups,
        "tiers": tiers,
        "rules": rules,
        "origin": origin,
        "thresholds": _thresholds_content(thresholds),
        "default_tier": default_tier,
    }
    if plans:  # absent from policies without plans, so that their hashes do not change
        content["plans"] = plans
    # Likewise for the compute accounting: absent from a policy with neither a catalog nor a
    # [compute] of its own; present whenever there is a catalog, as it means nothing without it.
    compute = compute if compute is not None else Compute()
    if accelerators:
        content["accelerators"] = accelerators
    if accelerators or compute != Compute():
        content["compute"] = compute
    if prices is not None and prices != Prices():
        content["prices"] = prices
    if parameters:
        content["parameters"] = parameters
    if detection is not None and detection != Detection():
        content["detection"] = detection
    return hashlib.sha256(msgspec.json.encode(content, order="sorted")).hexdigest()


def make_policy(
    groups: Mapping[str, Group],
    tiers: Mapping[str, Tier],
    rules: Mapping[str, Rule],
    origin: Origin,
    thresholds: Thresholds,
    default_tier: str,
    sources: tuple[str, ...] = (),
    plans: Mapping[str, Plan] | None = None,
    accelerators: Mapping[str, Accelerator] | None = None,
    compute: Compute | None = None,
    prices: Prices | None = None,
    parameters: Mapping[str, ParameterRule] | None = None,
    detection: Detection | None = None,
) -> Policy:
    """Normalise validated content, hash it and build its index.

    References are assumed valid (the loader checks them with file and line); a dangling one raises
    ``KeyError`` here.
    """
    groups = {
        name: msgspec.structs.replace(g, countries=_sorted(g.countries), regions=_sorted(g.regions))
        for name, g in sorted(groups.items())
    }
    tiers = {
        name: msgspec.structs.replace(
            t, groups=_sorted(t.groups), countries=_sorted(t.countries), regions=_sorted(t.regions)
        )
        for name, t in sorted(tiers.items())
    }
    rules = {name: _normalise_rule(r) for name, r in sorted(rules.items())}
    thresholds = msgspec.structs.replace(
        thresholds,
        training=tuple(
            msgspec.structs.replace(t, alert_fractions=tuple(sorted(set(t.alert_fractions))))
            for t in sorted(thresholds.training, key=lambda t: t.name)
        ),
    )
    accelerators = {
        name: msgspec.structs.replace(a, aliases=_sorted(a.aliases))
        for name, a in sorted((accelerators or {}).items())
    }
    compute = compute if compute is not None else Compute()
    prices = prices if prices is not None else Prices()
    prices = Prices(
        currency=prices.currency,
        models={
            name: msgspec.structs.replace(p, models=_sorted(p.models))
            for name, p in sorted(prices.models.items())
        },
        gpus=dict(sorted(prices.gpus.items())),
    )
    parameters = {
        name: msgspec.structs.replace(r, tiers=_sorted(r.tiers), kyc_levels=tuple(sorted(set(r.kyc_levels))))
        for name, r in sorted((parameters or {}).items())
    }
    detection = detection if detection is not None else Detection()
    policy = Policy(
        groups=groups,
        tiers=tiers,
        rules=rules,
        origin=origin,
        thresholds=thresholds,
        default_tier=default_tier,
        hash=policy_hash(
            groups,
            tiers,
            rules,
            origin,
            thresholds,
            default_tier,
            plans,
            accelerators,
            compute,
            prices,
            parameters,
            detection,
        ),
        sources=sources,
        plans={
            name: msgspec.structs.replace(
                p, tiers=_sorted(p.tiers), kyc_levels=tuple(sorted(set(p.kyc_levels)))
            )
            for name, p in sorted((plans or {}).items())
        },
        accelerators=accelerators,
        compute=compute,
        prices=prices,
        parameters=parameters,
        detection=detection,
    )
    # Built now, so that a bad reference fails at load, not on a request. The policy is frozen; its
    # index is derived from it and kept beside its fields, outside what it encodes and compares.
    policy.__dict__["_index"] = build_index(policy)
    return policy
