"""Quotas and rate limits: the pure core (no database, no clock reads: ``now`` is passed in).

- :mod:`.model`: :class:`Limit` (a dimension, a window, a scope) and :class:`Usage` (a cost).
- :mod:`.windows`: where a limit's window starts and ends, in the customer's time zone.
- :mod:`.gcra`: smooth rate limits, one float of state per counter.
- :mod:`.resolve`: the tightest limit of several rule sets; policy caps as limits; chat estimates.
- :mod:`.headers`: ``RateLimit-Policy`` / ``RateLimit``, ``x-ratelimit-*`` and ``Retry-After``.

The storage side (PostgreSQL, leases) and the proxy stage build on these and keep the I/O.
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
