"""What the console's pages share: the path they live under, ids from the path, and the reason every
operator decision must give (read here so that a bad one is a message beside its field, not an
error page)."""

from __future__ import annotations

import uuid

from ...errors import NotFound
from ..forms import Form

__all__ = ["BASE", "REASON_MAX", "customer_path", "parse_id", "read_reason"]

BASE = "/web/console"
REASON_MAX = 1000
"""As the services' own check (1-1000 characters): refused beside the field before it is called."""


def parse_id(value: str, what: str = "customer") -> uuid.UUID:
    """A path's id: anything that is not a UUID is a page that does not exist."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(f"no {what} {value[:60]!r}", code=f"{what}_not_found") from None


def customer_path(customer_id: uuid.UUID) -> str:
    return f"{BASE}/customers/{customer_id}"


def read_reason(form: Form, name: str = "reason", label: str = "reason") -> str | None:
    """A required reason of 1-1000 characters: several lines are fine, other control characters
    are not (nothing that cannot be stored or shown)."""
    value = form.raw(name)
    if not value:
        form.fail(name, f"Enter the {label}: every decision must say why.")
        return None
    if len(value) > REASON_MAX:
        form.fail(name, f"The {label} must be at most {REASON_MAX} characters (it has {len(value)}).")
        return None
    if any(not (c.isprintable() or c in "\r\n\t") for c in value):
        form.fail(name, f"The {label} must be plain text, without control characters.")
        return None
    return value
