"""What a quota is: a limit on one dimension of usage, over one window, for one scope.

A :class:`Limit` is the typed form of every rule that limits usage, wherever it comes from (a plan in
``policies/``, the jurisdiction caps of the policy, a per-customer override): the resolver compares
them, the windows module places them in time, the storage side counts against them. A :class:`Usage`
is what a request will cost (the reservation) or did cost (the settlement), on every dimension at
once, so that one request is reserved and settled in one step whatever limits apply to it.
"""

from __future__ import annotations

import math
from typing import Literal

import msgspec

Dimension = Literal["requests", "input_tokens", "output_tokens", "gpu_seconds", "flop", "spend"]
Scope = Literal["key", "project", "customer"]
Period = Literal["second", "minute", "hour", "day", "month"]
Kind = Literal["rate", "budget"]

DIMENSIONS: tuple[Dimension, ...] = (
    "requests",
    "input_tokens",
    "output_tokens",
    "gpu_seconds",
    "flop",
    "spend",
)
COUNTED: frozenset[Dimension] = frozenset({"requests", "input_tokens", "output_tokens"})
"""Dimensions counted in whole units: leases of them are whole too. GPU-seconds, FLOP and spend
are measures, and their leases any amount."""
SCOPES: tuple[Scope, ...] = ("key", "project", "customer")
PERIODS: tuple[Period, ...] = ("second", "minute", "hour", "day", "month")

RATE_PERIOD_SECONDS: dict[Period, int] = {"second": 1, "minute": 60, "hour": 3600}
"""The rate periods (smooth limits, held in memory) and their length; the other periods are budgets."""


class Limit(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """At most ``limit`` units of ``dimension`` per window, for one ``scope``.

    Exactly one of ``period`` (a calendar-aligned window, or a rate for second/minute/hour) and
    ``rolling_days`` (the last N days) is set. Checked on construction and on decoding, so a bad
    override or plan file is refused with the path of the field.
    """

    dimension: Dimension
    period: Period | None = None
    """second/minute/hour: a rate limit; day/month: a calendar budget in the customer's time zone."""
    rolling_days: int | None = None
    """A rolling budget over the last N days (N x 24 h) instead of ``period``."""
    limit: float
    """>= 0; 0 forbids the dimension."""
    scope: Scope = "customer"
    hard: bool = False
    """Reserved in the database with zero overshoot (FLOP caps), never served from a lease."""
    source: str = ""
    """Which rule set it: ``plan:tier2``, ``policy:rules.tier2.caps.flop_per_month``, ``override:<id>``."""

    def __post_init__(self) -> None:
        # msgspec turns a ValueError raised here into a ValidationError when decoding.
        if (self.period is None) == (self.rolling_days is None):
            raise ValueError("a limit needs exactly one of `period` and `rolling_days`")
        if self.rolling_days is not None and self.rolling_days < 1:
            raise ValueError("`rolling_days` must be at least 1")
        # `not >= 0` also refuses NaN, which would compare false with every usage and admit all.
        if not (self.limit >= 0 and math.isfinite(self.limit)):
            raise ValueError("`limit` must be a finite number >= 0")

    def kind(self) -> Kind:
        """``rate`` for per-second/minute/hour limits (smooth, in memory), ``budget`` otherwise."""
        return "rate" if self.period in RATE_PERIOD_SECONDS else "budget"

    def describe(self) -> str:
        """``output_tokens <= 1e+06 per day (customer, hard)``: for messages and ``quota show``."""
        window = f"per {self.period}" if self.period is not None else f"per rolling {self.rolling_days} days"
        flags = self.scope + (", hard" if self.hard else "")
        return f"{self.dimension} <= {self.limit:g} {window} ({flags})"


class Usage(msgspec.Struct, frozen=True):
    """What a request will cost (estimate) or did cost (actual), on every dimension."""

    requests: float = 0
    input_tokens: float = 0
    output_tokens: float = 0
    gpu_seconds: float = 0
    flop: float = 0
    spend: float = 0
    """In the currency of the policy's price table; NaN: the request could not be priced (no price
    for its model or GPU), which only matters, and is refused, where a spend limit applies."""

    def get(self, d: Dimension) -> float:
        value: float = getattr(self, d)
        return value

    def minus(self, other: Usage) -> Usage:
        """What is left of this usage after ``other``, per dimension, never below zero.

        Settling releases ``reserved.minus(actual)``; a request that cost more than its estimate
        releases nothing (and the difference is charged, not refunded).
        """
        return Usage(
            requests=max(0.0, self.requests - other.requests),
            input_tokens=max(0.0, self.input_tokens - other.input_tokens),
            output_tokens=max(0.0, self.output_tokens - other.output_tokens),
            gpu_seconds=max(0.0, self.gpu_seconds - other.gpu_seconds),
            flop=max(0.0, self.flop - other.flop),
            spend=max(0.0, self.spend - other.spend),
        )

    def plus(self, other: Usage) -> Usage:
        """The sum per dimension (usage of several requests, or of a stream settled in parts)."""
        return Usage(
            requests=self.requests + other.requests,
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            gpu_seconds=self.gpu_seconds + other.gpu_seconds,
            flop=self.flop + other.flop,
            spend=self.spend + other.spend,
        )
