"""Who a signed-in person is to the gateway, read from their ID token's roles claim (pure).

An identity provider lists roles in a claim the provider chooses (``roles``, Keycloak's
``realm_access.roles``, ...): ``web_roles_claim`` names it as a dotted path. The operator role opens
the console; each ``<prefix><JURISDICTION>`` role opens the regulator portal for that jurisdiction.
Anyone signed in may apply as a customer: their application is theirs alone (issuer + subject).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

__all__ = ["Roles", "party_roles", "roles_in"]


class Roles(msgspec.Struct, frozen=True):
    operator: bool = False
    jurisdictions: frozenset[str] = frozenset()
    """The jurisdictions (upper case) whose reports this person may read as a regulator."""

    @property
    def regulator(self) -> bool:
        return bool(self.jurisdictions)


def roles_in(claims: Mapping[str, Any], path: str) -> tuple[str, ...]:
    """The role names at ``path`` (dotted) in the claims: a list of strings or one space-separated
    string. Anything else there (a number, a list of objects) grants nothing."""
    node: Any = claims
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return ()
        node = node[part]
    if isinstance(node, str):
        return tuple(node.split())
    if isinstance(node, list) and all(isinstance(r, str) for r in node):
        return tuple(node)
    return ()


def party_roles(roles: Iterable[str], operator_role: str, regulator_prefix: str) -> Roles:
    names = set(roles)
    jurisdictions = frozenset(
        r[len(regulator_prefix) :].upper()
        for r in names
        if r.startswith(regulator_prefix) and r[len(regulator_prefix) :].isalnum()
    )
    return Roles(operator=operator_role in names, jurisdictions=jurisdictions)
