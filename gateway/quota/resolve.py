"""Which limits apply, and what a request is expected to cost.

Limits come from several rule sets at once (the customer's plan, the jurisdiction caps of the
policy, per-customer overrides). Where two of them limit the same thing (same dimension, scope and
window), the tightest wins: an override can lower a plan's limit but never lift a regulator's cap
above what the policy says. The losers are kept, so that ``quota show`` can say which rule set
the effective limit comes from and what it beat.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import msgspec

from .model import Dimension, Limit, Period, Scope, Usage

if TYPE_CHECKING:
    from gateway.policy.model import Caps, ModelPrice, Policy

CHARS_PER_TOKEN = 4
"""For the reservation only: see :func:`estimate_chat`."""


class Effective(msgspec.Struct, frozen=True):
    """The limit that applies for one (dimension, scope, window), and the looser ones it beat."""

    limit: Limit
    overridden: tuple[Limit, ...]


_GroupKey = tuple[Dimension, Scope, Period | None, int | None]


def effective_limits(*sources: Sequence[Limit]) -> list[Effective]:
    """Merge the limits of several rule sets: per (dimension, scope, window), the tightest wins.

    A tie keeps the limit seen first (sources in argument order, then their own order), so pass
    the most specific rule set first (overrides, then plan, then policy) if ties should name it.
    If any limit of a group is hard, the winner is made hard: a hard cap stays reserved with zero
    overshoot even when a softer rule set has a lower number. Groups come out in the order they were
    first seen; ``overridden`` in the order seen.
    """
    groups: dict[_GroupKey, list[Limit]] = {}
    for source in sources:
        for limit in source:
            key = (limit.dimension, limit.scope, limit.period, limit.rolling_days)
            groups.setdefault(key, []).append(limit)
    result: list[Effective] = []
    for members in groups.values():
        # min() returns the first of equal values: the tie rule above.
        index = min(range(len(members)), key=lambda i: members[i].limit)
        winner = members[index]
        if not winner.hard and any(m.hard for m in members):
            winner = msgspec.structs.replace(winner, hard=True)
        overridden = tuple(m for i, m in enumerate(members) if i != index)
        result.append(Effective(limit=winner, overridden=overridden))
    return result


def caps_to_limits(caps: Caps | None, source: str) -> list[Limit]:
    """The quota limits a policy rule's caps stand for, per customer; ``source`` names the rule.

    - ``flop_per_month`` becomes a hard monthly FLOP budget (reserved in the database, zero
      overshoot: it is the cap regulators' thresholds are counted against).
    - ``tokens_per_day`` limits tokens in total, and there is no combined tokens dimension (a
      request's reservation and settlement are per direction, and limits compare one dimension).
      It becomes two daily budgets, ``input_tokens`` and ``output_tokens``, each at the cap: no
      direction alone exceeds it, and the combined total stays within twice the cap. Halving each
      instead would hold the total but refuse a customer whose traffic is mostly one direction
      long before the cap; a combined dimension is the exact fix if the bound is not enough.
    - ``max_gpus_per_job`` limits one job, not usage over time: the cluster stage checks it.

    Each limit's ``source`` is ``source`` plus the cap's name (``policy:rules.tier2.caps`` gives
    ``policy:rules.tier2.caps.flop_per_month``), so ``quota show`` names the exact setting.
    """
    if caps is None:
        return []
    limits: list[Limit] = []
    if caps.flop_per_month is not None:
        limits.append(
            Limit(
                dimension="flop",
                period="month",
                limit=float(caps.flop_per_month),
                hard=True,
                source=f"{source}.flop_per_month",
            )
        )
    if caps.tokens_per_day is not None:
        directions: tuple[Dimension, ...] = ("input_tokens", "output_tokens")
        for dimension in directions:
            limits.append(
                Limit(
                    dimension=dimension,
                    period="day",
                    limit=float(caps.tokens_per_day),
                    source=f"{source}.tokens_per_day",
                )
            )
    return limits


def estimate_chat(
    body_prompt_chars: int,
    max_tokens: int | None,
    *,
    default_max_tokens: int = 4096,
    price: ModelPrice | None = None,
) -> Usage:
    """The reservation for a chat request: one request, its prompt, and the most it may generate.

    Prompt tokens are estimated as ``ceil(chars / 4)``: about four characters of English text per
    token for OpenAI-style BPE tokenizers. Counting exactly would mean running the model's own
    tokenizer on the hot path (a dependency per model family, and milliseconds on long prompts),
    while the estimate only has to be the right size: the reservation is settled against the usage
    the upstream reports. Text with fewer characters per token (code, CJK scripts) is
    under-estimated; settlement charges the difference, so it costs accuracy of the reservation,
    not of the count. Output tokens are ``max_tokens``, or ``default_max_tokens`` when the request
    names none (the upstream then stops at its own limit). Spend is both at the model's
    ``price``; without one it is NaN (unpriced: refused only where a spend limit applies).
    """
    if body_prompt_chars < 0:
        raise ValueError("`body_prompt_chars` must be >= 0")
    output = default_max_tokens if max_tokens is None else max_tokens
    if output < 0:
        raise ValueError("`max_tokens` must be >= 0")
    input_tokens = -(-body_prompt_chars // CHARS_PER_TOKEN)  # ceil, in integers
    return Usage(
        requests=1,
        input_tokens=input_tokens,
        output_tokens=output,
        spend=math.nan if price is None else price.cost(input_tokens, output),
    )


def plan_limits(policy: Policy, tier: str, kyc_level: str) -> list[Limit]:
    """The limits of every plan in ``policies/`` that applies to a customer of this tier and KYC level."""
    return [
        Limit(
            dimension=item.dimension,
            period=item.period,
            rolling_days=item.rolling_days,
            limit=item.limit,
            scope=item.scope,
            hard=item.hard,
            source=f"plan:{name}",
        )
        for name, plan in policy.plans_for(tier, kyc_level)
        for item in plan.limits
    ]


def limits_for(
    ids: Mapping[Scope, str],
    *,
    caps: Sequence[Limit],
    plans: Sequence[Limit],
    overrides: Sequence[tuple[Limit, str]],
) -> list[tuple[Limit, str]]:
    """Every limit one request is held to, with the id of the scope it counts against.

    ``ids`` names the caller's customer, project and key; ``overrides`` are ``(limit, scope_id)``
    pairs, of which only those naming one of ``ids`` apply. Per scope, the tightest of the
    overrides, the plans and (for the customer scope) the policy caps wins.
    """
    applied: list[tuple[Limit, str]] = []
    for scope in ("customer", "project", "key"):
        scope_id = ids[scope]
        mine = [limit for limit, sid in overrides if limit.scope == scope and sid == scope_id]
        for e in effective_limits(
            mine,
            [p for p in plans if p.scope == scope],
            caps if scope == "customer" else (),
        ):
            applied.append((e.limit, scope_id))
    return applied
