"""Smooth rate limits: the Generic Cell Rate Algorithm (GCRA), as in redis-cell and Go's `throttled`.

A fixed window ("100 per minute, counter reset on the minute") admits 200 requests in two seconds
around the boundary. GCRA spreads the limit evenly instead: each unit of cost pushes a *theoretical
arrival time* (TAT) forward by one emission interval ``T = period / rate``, and a request is admitted
when the TAT it would leave is at most ``burst x T`` ahead of now. The state is one float per
counter, an admission is a few arithmetic operations, and the guarantee is exact: over any span of
length ``L``, at most ``burst + rate x L / period`` units are admitted.

The function is pure: the caller owns the state (one :class:`GcraState` per counter, in memory on
each replica) and the clock (monotonic or epoch seconds, as long as it is the same for one state).
"""

from __future__ import annotations

import math

import msgspec

_INF = math.inf


class GcraState(msgspec.Struct):
    """One counter's state. The initial ``0.0`` is "long ago": the first request sees a full burst."""

    tat: float = 0.0
    """Theoretical arrival time, in the caller's clock (seconds)."""


def gcra(
    state_tat: float,
    now: float,
    *,
    rate: float,
    period_seconds: float,
    burst: float | None = None,
    cost: float = 1.0,
) -> tuple[bool, float, float, float]:
    """Decide one request: ``(allowed, new_tat, retry_after_seconds, remaining)``.

    ``rate`` units per ``period_seconds``, at most ``burst`` units at once (default: ``rate``, so a
    "60 per minute" limit lets an idle client send 60 at once, then one a second). A refused request
    leaves the state as it was (``new_tat == state_tat``), so retrying does not dig the hole deeper;
    ``retry_after_seconds`` is then the wait after which the same request is admitted (0 when
    admitted). A request that can never fit (``cost > burst``, or ``rate == 0``: the limit forbids
    the dimension) is refused with ``retry_after_seconds == inf``. ``remaining`` is how many units
    could still go at once after this decision. The counter is full again (reset) at ``new_tat``.
    """
    capacity = rate if burst is None else burst
    if period_seconds <= 0 or not math.isfinite(period_seconds):
        raise ValueError("`period_seconds` must be a finite number > 0")
    if not (0 <= rate < _INF and 0 <= capacity < _INF and 0 <= cost < _INF):  # also refuses NaN
        raise ValueError("`rate`, `burst` and `cost` must be finite numbers >= 0")
    if rate == 0:  # the limit forbids the dimension: only a free request goes through
        return cost == 0, state_tat, 0.0 if cost == 0 else _INF, 0.0
    interval = period_seconds / rate
    tolerance = capacity * interval
    if state_tat <= now:
        # An idle counter: the TAT catches up with now and any cost up to the burst fits. Decided
        # without comparing rounded times, so that the promise below (retry then, and pass) holds.
        if cost > capacity:
            return False, state_tat, _INF, capacity
        return True, now + cost * interval, 0.0, capacity - cost
    ahead = (tolerance - (state_tat - now)) / interval  # what could go at once now
    if cost > capacity:
        return False, state_tat, _INF, max(0.0, ahead)
    # `allow_at` depends on the state only, so the verdict is monotone in `now`.
    new_tat = state_tat + cost * interval
    allow_at = new_tat - tolerance
    if now >= allow_at:
        return True, new_tat, 0.0, max(0.0, (tolerance - (new_tat - now)) / interval)
    wait = allow_at - now
    # `now + (allow_at - now)` can round to just below `allow_at`: step up by one unit of
    # `allow_at` until the promised retry really is admitted (once or twice at most).
    while now + wait < allow_at:
        wait += math.ulp(allow_at)
    return False, state_tat, wait, max(0.0, ahead)


def reset_after(tat: float, now: float) -> float:
    """Seconds until the counter is full again (the ``t`` of the ``RateLimit`` header)."""
    return max(0.0, tat - now)
