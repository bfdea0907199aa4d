"""Jurisdiction policy: rules as data in ``policies/``, and the pure per-request decision.

:func:`load_policy` reads and validates the policy folders into a :class:`Policy` (with a stable
hash); :func:`compile_entitlement` turns a customer's facts into an :class:`Entitlement` that
answers each request with a :class:`Decision`; :func:`decide` does both in one call and
:func:`explain` prints why. None of these touches the database or the clock: a running
gateway holds the policy in force in a ``store.PolicyStore``, and ``reloads.PolicyReloads``
announces a reload to every worker and replica.
"""

from __future__ import annotations

from .build import make_policy
from .decide import (
    Code,
    CustomerFacts,
    Decision,
    Entitlement,
    Jurisdiction,
    RequestFacts,
    compile_entitlement,
    decide,
    explain,
)
from .loader import PolicyError, load_policy, shipped_policy_dir
from .model import ACTIONS, Action, Caps, KycLevel, Policy

__all__ = [
    "ACTIONS",
    "Action",
    "Caps",
    "Code",
    "CustomerFacts",
    "Decision",
    "Entitlement",
    "Jurisdiction",
    "KycLevel",
    "Policy",
    "PolicyError",
    "RequestFacts",
    "compile_entitlement",
    "decide",
    "explain",
    "load_policy",
    "make_policy",
    "shipped_policy_dir",
]
