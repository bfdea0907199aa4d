"""Quotas and rate limits: the pure core (no database, no clock reads: ``now`` is passed in).

- :mod:`.model`: :class:`Limit` (a dimension, a window, a scope) and :class:`Usage` (a cost).
- :mod:`.windows`: where a limit's window starts and ends, in the customer's time zone.
- :mod:`.gcra`: smooth rate limits, one float of state per counter.
- :mod:`.resolve`: the tightest limit of several rule sets; policy caps as limits; chat estimates.
- :mod:`.headers`: ``RateLimit-Policy`` / ``RateLimit``, ``x-ratelimit-*`` and ``Retry-After``.

The engine that serves every request builds on these and keeps the I/O (imported from its
modules, not from here):

- :mod:`.meter`: :class:`~.meter.QuotaMeter`, the one facade: admit, settle, reserve in the
  database, the background tasks. Its docstring explains how leases bound a budget.
- :mod:`.plans`: which limits a caller is held to, from the standing it was checked against.
- :mod:`.admission`: an estimate taken from GCRA state and leases in memory, and settled back.
- :mod:`.leasing`: the database on the request path: lease refills and hard reservations.
- :mod:`.writer`: settlements and lease returns, written in the background; ``settle_reserved``.
- :mod:`.refusals`: what a caller is told: 429 / 503 with when to retry, or where it stands.
- :mod:`.leases`: the plain in-memory state (limits applied, leases, windows, charges).
- :mod:`.store`: the counters in PostgreSQL; :mod:`.overrides`: operators' overrides, cached.
"""

from .gcra import GcraState, gcra, reset_after
from .headers import go_duration, ratelimit_headers, window_seconds
from .model import (
    DIMENSIONS,
    PERIODS,
    RATE_PERIOD_SECONDS,
    SCOPES,
    Dimension,
    Kind,
    Limit,
    Period,
    Scope,
    Usage,
)
from .resolve import CHARS_PER_TOKEN, Effective, caps_to_limits, effective_limits, estimate_chat
from .windows import retry_after, window

__all__ = [
    "CHARS_PER_TOKEN",
    "DIMENSIONS",
    "PERIODS",
    "RATE_PERIOD_SECONDS",
    "SCOPES",
    "Dimension",
    "Effective",
    "GcraState",
    "Kind",
    "Limit",
    "Period",
    "Scope",
    "Usage",
    "caps_to_limits",
    "effective_limits",
    "estimate_chat",
    "gcra",
    "go_duration",
    "ratelimit_headers",
    "reset_after",
    "retry_after",
    "window",
    "window_seconds",
]
