"""Which limits a caller is held to: its plan, rebuilt only when something it depends on changes.

A plan is the tightest of the policy's caps for the customer's entitlement, the policy's plan
for its tier and KYC level, and the operator's overrides (:mod:`.resolve`), applied to one key
(:class:`~.leases.Applied`). The caller's standing is handed in by whoever checked it (the
``KnowCustomer`` stage): quota does not look customers up itself.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import Forbidden, ServiceUnavailable
from .leases import Applied
from .resolve import caps_to_limits, limits_for, plan_limits

if TYPE_CHECKING:
    from ..identity import Principal
    from ..kyc.standing import Standing
    from ..policy.model import Policy
    from .model import Usage
    from .overrides import OverrideCache

_MAX_PLANS = 100_000
"""Plans remembered (one per key in use); past this many the cache starts again."""


def unpriced() -> Forbidden:
    return Forbidden(
        "a spend limit applies to this customer and what it asks for has no price in the provider's"
        " price table (policies: model_prices, gpu_prices); ask the provider to price it",
        code="unpriced",
    )


class Plan:
    __slots__ = ("applied", "overrides", "policy", "spends", "standing")

    def __init__(self, standing: Standing, overrides: object, policy: object, applied: list[Applied]) -> None:
        self.standing = standing
        self.overrides = overrides
        self.policy = policy
        self.applied = applied
        self.spends = any(a.limit.dimension == "spend" for a in applied)
        """A spend limit applies: what cannot be priced is refused."""


class Plans:
    """Each key's plan, remembered until its standing, overrides or policy is replaced."""

    __slots__ = ("_overrides", "_plans", "_policy")

    def __init__(self, overrides: OverrideCache, policy: Callable[[], Policy]) -> None:
        self._overrides = overrides
        self._policy = policy
        self._plans: dict[tuple[uuid.UUID, uuid.UUID, str], Plan] = {}

    def plan(self, principal: Principal, standing: Standing | None) -> Plan:
        """The caller's plan; 503 ``quota_unavailable`` without a standing or its entitlement."""
        if standing is None or standing.entitlement is None:
            # KnowCustomer lets no such customer through, so this is a race with a change (a caller
            # that read the standing again) or a standing compiled without a policy: fail closed.
            raise ServiceUnavailable(
                "quotas cannot be checked right now; retry shortly", code="quota_unavailable"
            )
        overrides = self._overrides.get(principal.customer_id)
        policy = self._policy()
        key = (principal.customer_id, principal.project_id, principal.key_id)
        plan = self._plans.get(key)
        if (
            plan is None
            or plan.standing is not standing
            or plan.overrides is not overrides
            or plan.policy is not policy
        ):
            entitlement = standing.entitlement
            limits = limits_for(
                {
                    "customer": str(principal.customer_id),
                    "project": str(principal.project_id),
                    "key": principal.key_id,
                },
                caps=caps_to_limits(entitlement.caps, f"policy:{entitlement.rule}.caps"),
                plans=plan_limits(policy, entitlement.tier, standing.facts.kyc_level),
                overrides=overrides,
            )
            if len(self._plans) >= _MAX_PLANS:
                self._plans.clear()
            plan = self._plans[key] = Plan(
                standing, overrides, policy, [Applied(lim, sid) for lim, sid in limits]
            )
        return plan

    def priced(self, principal: Principal, standing: Standing | None, usage: Usage) -> Plan:
        """The caller's plan; 403 ``unpriced`` if a spend limit applies and ``usage`` has no price."""
        plan = self.plan(principal, standing)
        if plan.spends and math.isnan(usage.spend):
            raise unpriced()
        return plan
