"""What the meter tells a caller: why it is refused and when to retry, or where it stands.

Pure functions of the state a replica holds (:mod:`.leases`): no I/O, no clock reads (``mono``
and ``wall`` are passed in). The header formats themselves are :mod:`.headers`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..errors import ServiceUnavailable, TooManyRequests
from .gcra import reset_after
from .headers import ratelimit_headers, served_headers
from .windows import retry_after

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from .leases import Applied, Charge, Slot
    from .model import Limit

_UTC = dt.UTC
_NO_RETRY_BEYOND = 60.0
"""A refusal lasting longer gets ``x-should-retry: false``: SDKs stop retrying instead of backing off."""


def refusal(a: Applied, code: str, remaining: float, reset: float, retry: float) -> TooManyRequests:
    headers = ratelimit_headers(a.limit, remaining, reset, policy_name=a.name, retry_after=retry)
    if retry > _NO_RETRY_BEYOND and math.isfinite(retry):
        headers.append((b"x-should-retry", b"false"))
    what = "rate limit" if code == "rate_limited" else "budget"
    message = f"{what} exceeded: {a.limit.describe()}"
    if math.isfinite(retry):
        message += f"; retry in {max(retry, 0.001):.3g} s"
    return TooManyRequests(message, code=code, headers=headers)


def exhausted(
    a: Applied, slot: Slot, wall: float, tz: ZoneInfo, lease_ttl: float, *, never: bool = False
) -> TooManyRequests:
    """A window with nothing left for this request: 429, retry when it resets or leases come back."""
    limit = a.limit
    now = dt.datetime.fromtimestamp(wall, _UTC)
    reset = retry_after(limit, now, tz) if limit.rolling_days is not None else slot.end - wall
    remaining = 0.0
    retry = reset
    if slot.last is not None:
        remaining = slot.last.remaining
        if slot.last.leased > 0:
            # Part of it is leased to replicas, which return what they do not use within
            # half a lease TTL: worth a retry well before the window resets.
            retry = min(reset, lease_ttl / 2)
    if never:
        retry = math.inf  # more than the whole limit: no wait will make it fit
    code = "rate_limited" if a.rate_period is not None else "budget_exhausted"
    return refusal(a, code, remaining, reset, retry)


def rate_refusal(
    a: Applied,
    slot: Slot,
    cost: float,
    tat: float,
    wait: float,
    remaining: float,
    mono: float,
    wall: float,
) -> TooManyRequests:
    """A rate's smooth (GCRA) refusal; ``slot`` is its window, counted across replicas."""
    last = slot.last
    if slot.lease_for(cost, mono) is None and last is not None and last.remaining < cost:
        # The window is used up across replicas as well: the smooth wait is not enough.
        wait = max(wait, slot.end - wall)
    return refusal(a, "rate_limited", remaining, reset_after(tat, mono), wait)


def unavailable() -> ServiceUnavailable:
    return ServiceUnavailable(
        "quota cannot be checked right now (its database is unreachable); retry shortly",
        code="quota_unavailable",
    )


def admitted_headers(
    charges: Iterable[Charge],
    tats: dict[tuple[str, str, str, str], float],
    slots: dict[tuple[str, str, str, str], Slot],
    mono: float,
    wall: float,
) -> list[tuple[bytes, bytes]]:
    """What this replica knows of each limit an admitted request was charged on.

    A rate: its GCRA state here. A leased budget: what the database had unleased at the last
    lease call, plus what this replica's leases still hold (other replicas' leases count as
    spent: the figure errs low). A hard budget's state is in the database only: left out.
    """
    states: list[tuple[Limit, str, float, float]] = []
    for charge in charges:
        a = charge.applied
        limit = a.limit
        if a.rate_period is not None:
            ahead = tats.get(a.gcra_key, mono) - mono
            remaining = limit.limit * max(0.0, 1.0 - ahead / a.rate_period)
            states.append((limit, a.name, remaining, max(0.0, ahead)))
        elif charge.lease is not None:
            slot = slots.get(a.slot_key)
            if slot is None or slot.last is None:
                continue
            remaining = slot.last.remaining
            for held in slot.leases:
                if not held.closed:
                    remaining += held.available
            reset = slot.end - wall if limit.rolling_days is None else math.inf
            states.append((limit, a.name, remaining, reset))
    return served_headers(states)
