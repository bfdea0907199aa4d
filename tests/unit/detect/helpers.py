"""Small synthetic aggregates for the detector's pure parts."""

from __future__ import annotations

import datetime as dt
import math
import random
import uuid

from gateway.detect.signals import AccountStats

SINCE = dt.datetime(2031, 3, 2, tzinfo=dt.UTC)
DAYS = 7
UNTIL = SINCE + dt.timedelta(days=DAYS)
HOURS = DAYS * 24


def uid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def diurnal(rng: random.Random, calls: int, tz: int = 0) -> dict[int, int]:
    """``calls`` spread over the window's hours with a working-day rhythm (in time zone ``tz``)."""
    weights = [0.05 + max(0.0, math.sin(math.pi * (((h + tz) % 24) - 7) / 14)) for h in range(HOURS)]
    return _spread(rng, calls, weights)


def flat(rng: random.Random, calls: int, start_hour: int = 0) -> dict[int, int]:
    return _spread(rng, calls, [0.0 if h < start_hour else 1.0 for h in range(HOURS)])


def waves(rng: random.Random, calls: int, schedule: list[float]) -> dict[int, int]:
    return _spread(rng, calls, schedule)


def bursts(rng: random.Random, calls: int, hours: list[int]) -> dict[int, int]:
    return _spread(rng, calls, [1.0 if h in hours else 0.0 for h in range(HOURS)])


def _spread(rng: random.Random, calls: int, weights: list[float]) -> dict[int, int]:
    out: dict[int, int] = {}
    for h in rng.choices(range(HOURS), weights=weights, k=calls):
        out[h] = out.get(h, 0) + 1
    return out


def account(rng: random.Random, calls: int, **kw: object) -> AccountStats:
    """An ordinary account unless told otherwise: chat and some writing, a daily rhythm, one network,
    one system prompt, mostly one-off prompts, created long ago."""
    fields: dict[str, object] = {
        "customer_id": uid(rng),
        "calls": calls,
        "prompt_tokens": calls * 300,
        "completion_tokens": calls * 300,
        "reasoning_calls": calls // 20,
        "families": {"chat": calls * 6 // 10, "writing": calls - calls * 6 // 10},
        "networks": 1,
        "countries": 1,
        "max_networks_per_key": 1,
        "system_prompts": 1,
        "system_top_share": 1.0,
        "templates": max(1, calls * 8 // 10),
        "top_template_share": 0.1,
        "repeat_share": 0.2,
        "variant_share": 0.05,
        "shared_template_share": 0.05,
        "band_calls": calls // 4,
        "first_seen": SINCE,
        "created_at": SINCE - dt.timedelta(days=300),
    }
    fields.update(kw)
    if "hourly" not in fields:
        fields["hourly"] = diurnal(rng, calls, rng.randint(-8, 8))
    return AccountStats(**fields)  # type: ignore[arg-type]
