"""A usage event: what one call was, who made it and what it cost."""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec


class UsageEvent(msgspec.Struct, frozen=True):
    request_id: uuid.UUID
    occurred_at: dt.datetime
    customer_id: uuid.UUID
    project_id: uuid.UUID
    key_id: str
    upstream: str | None
    route: str
    model: str | None
    stream: bool
    status: int
    error_code: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    usage_complete: bool
    """False when the tokens are partial or estimated (a stream cut short)."""
    duration_ms: float
    bytes_in: int
    bytes_out: int
    client_ip: str | None
    origin_country: str | None = None
    """The client address's country, when known."""
    policy_hash: str | None = None
    """The jurisdiction policy version that decided the request, when it was decided."""


COLUMNS: tuple[str, ...] = tuple(f.name for f in msgspec.structs.fields(UsageEvent))
