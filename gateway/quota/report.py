"""A customer's effective limits and where each window stands: what ``gateway quota show`` prints
and ``GET /admin/v1/customers/<id>/quota`` answers, one view for both.

The customer's policy facts are the caller's to read (they come from its KYC record), so that
the quota package reads its own tables only.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import msgspec

from ..policy.decide import CustomerFacts, compile_entitlement
from ..policy.model import Policy
from .model import Limit
from .overrides import Override, list_overrides, time_zone
from .resolve import Effective, caps_to_limits, effective_limits, plan_limits
from .store import CounterKey, counter
from .windows import counter_window


class QuotaView(msgspec.Struct, frozen=True):
    customer: str
    tier: str
    policy_hash: str
    time_zone: str
    limits: list[dict[str, Any]]


async def quota_view(
    conn: asyncpg.Connection,
    customer_id: uuid.UUID,
    facts: CustomerFacts,
    policy: Policy | Callable[[], Policy],
) -> QuotaView:
    """The effective limits of a customer: the tightest of its tier's caps, its plans and the overrides.

    ``policy`` is the policy in force (the admin API), or how to load it (the CLI, which reads
    the policy folders only once the customer is known to exist).
    """
    zone = await time_zone(conn, customer_id)
    if not isinstance(policy, Policy):
        policy = policy()
    entitlement = compile_entitlement(facts, policy)
    overrides = await list_overrides(conn, customer_id)
    plans = plan_limits(policy, entitlement.tier, facts.kyc_level)
    caps = caps_to_limits(entitlement.caps, f"policy:{entitlement.rule}.caps")
    by_scope: dict[str, list[Override]] = {f"customer:{customer_id}": []}
    for scope in ("project", "key"):
        if any(p.scope == scope for p in plans):
            by_scope[f"{scope}:*"] = []  # the plan's limit for each one without an override
    for o in overrides:
        by_scope.setdefault(f"{o.scope}:{o.scope_id}", []).append(o)
    limits: list[dict[str, Any]] = []
    for scope_key, group in sorted(by_scope.items()):
        scope, scope_id = scope_key.split(":", 1)
        sources = [
            caps if scope == "customer" else [],
            [p for p in plans if p.scope == scope],
            [o.as_limit() for o in group],
        ]
        effective: list[Effective] = effective_limits(*sources)
        for e in effective:
            limits.append(
                {
                    **msgspec.structs.asdict(e.limit),
                    "scope_id": scope_id,
                    "overridden": [msgspec.structs.asdict(x) for x in e.overridden],
                    **(await _usage(conn, e.limit, scope_id, ZoneInfo(zone))),
                }
            )
    return QuotaView(
        customer=str(customer_id),
        tier=entitlement.tier,
        policy_hash=policy.hash,
        time_zone=zone,
        limits=limits,
    )


async def _usage(conn: asyncpg.Connection, limit: Limit, scope_id: str, tz: ZoneInfo) -> dict[str, Any]:
    """Where a budget's current window stands: settled ``used``, and ``in_flight`` (reserved by
    requests under way or leased to replicas). A plan's limit for every key or project (``*``)
    has no one counter."""
    if scope_id == "*" or limit.kind() == "rate":  # a rate's window is gone in a second or a minute
        return {}
    name, start, end, since = counter_window(limit, dt.datetime.now(dt.UTC), tz)
    found = await counter(conn, CounterKey(limit.scope, scope_id, limit.dimension, name, start, end, since))
    return {
        "window_start": (since or start).isoformat(),
        "window_end": end.isoformat(),
        "used": found.used if found else 0.0,
        "in_flight": found.reserved + found.leased if found else 0.0,
    }
