"""Each customer's Kubernetes namespaces: ``c-<first 12 hex digits of its customer id>``, or that
followed by ``-<suffix>``; any other is refused (403 ``namespace_forbidden``)."""

from __future__ import annotations

import re
import uuid

from ...errors import Forbidden

_LABEL = re.compile(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?")
"""A namespace's name: a DNS label of at most 63 characters."""


def customer_namespace(customer_id: uuid.UUID) -> str:
    """``c-`` and the first 12 hex digits of the customer's id: its namespace (and prefix)."""
    return f"c-{customer_id.hex[:12]}"


def namespace_allowed(customer_id: uuid.UUID, namespace: str) -> bool:
    """The customer's namespace, or it followed by ``-<suffix>``; a valid namespace name either way."""
    if len(namespace) > 63 or not _LABEL.fullmatch(namespace):
        return False
    own = customer_namespace(customer_id)
    return namespace == own or namespace.startswith(own + "-")


def check_namespace(customer_id: uuid.UUID, namespace: str) -> None:
    if not namespace_allowed(customer_id, namespace):
        own = customer_namespace(customer_id)
        raise Forbidden(
            f"namespace {namespace!r} is not yours: use {own!r} or a namespace that starts with '{own}-'"
            f" (kubectl -n {own})",
            code="namespace_forbidden",
        )
