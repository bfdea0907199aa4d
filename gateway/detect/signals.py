"""Per-account signals from one window's aggregates (pure): volume against the cohort, template reuse,
capability targeting, reasoning elicitation, extraction parameters, the shape of the day, and how
many networks, countries and system prompts stand behind one customer.

The aggregates (:class:`AccountStats`) are computed in PostgreSQL (:mod:`.queries`); everything here
is arithmetic on them, so a run can be replayed and explained. Each signal is a plain figure
(a share, a count, a z-score); :mod:`.score` turns them into scores.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Iterable, Mapping, Sequence

import msgspec

HOUR = dt.timedelta(hours=1)
MAD_SCALE = 1.4826
"""MAD times this estimates the standard deviation of a normal sample: robust z-scores read like
ordinary ones."""
MIN_SPREAD = 0.25
"""Floor of the cohort's spread (in log units, about ±28 %): a cohort of near-identical accounts
would otherwise make any small difference look extreme."""
YOUNG = dt.timedelta(days=14)
"""An account younger than this at its first call of the window is young (farmed accounts are
fresh)."""


class AccountStats(msgspec.Struct, frozen=True, kw_only=True):
    """One account's aggregates over the window, as :mod:`.queries` reads them."""

    customer_id: uuid.UUID
    calls: int
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_calls: int = 0
    """Calls that ask for step-by-step reasoning or its trace."""
    extraction_calls: int = 0
    """Calls that ask for ``logprobs``, ``top_logprobs`` or set ``logit_bias``."""
    logit_bias_logprobs_calls: int = 0
    """Calls that set ``logit_bias`` and ask for log probabilities: the output-layer attack."""
    families: dict[str, int] = msgspec.field(default_factory=dict)
    networks: int = 0
    countries: int = 0
    keys: int = 1
    max_networks_per_key: int = 0
    system_prompts: int = 0
    """Distinct system-prompt fingerprints."""
    system_top_share: float = 1.0
    """Share of the calls with a system prompt that carry the most common one."""
    templates: int = 0
    """Distinct prompt skeletons."""
    top_template_share: float = 0.0
    """Share of the calls on the account's most used skeleton."""
    repeat_share: float = 0.0
    """Share of the calls whose exact skeleton the account sent more than once."""
    variant_share: float = 0.0
    """Share of the calls whose skeleton is a near-duplicate (a shared LSH band) of another,
    different skeleton of the same account: one template, systematically varied."""
    shared_template_share: float = 0.0
    """Share of the calls whose skeleton shares an LSH band with another account's."""
    band_calls: int = 0
    """Calls whose skeleton's band keys were read (a sample: :data:`.queries.SAMPLE`): what the
    band figures and postings count."""
    hourly: dict[int, int] = msgspec.field(default_factory=dict)
    """Calls per hour of the window (0: the hour starting at ``since``)."""
    first_seen: dt.datetime
    created_at: dt.datetime | None = None


class Cohort(msgspec.Struct, frozen=True):
    """Robust centre and spread of log volume over the accounts active in the window, and the
    typical account's reasoning-elicitation share (what ordinary use asks for)."""

    calls_median: float
    calls_spread: float
    tokens_median: float
    tokens_spread: float
    accounts: int
    reasoning_median: float = 0.0


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return 0.0
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _robust(values: Sequence[float]) -> tuple[float, float]:
    centre = _median(values)
    mad = _median([abs(v - centre) for v in values])
    return centre, max(MAD_SCALE * mad, MIN_SPREAD)


def cohort(stats: Iterable[AccountStats]) -> Cohort:
    """The cohort is every account active in the window: a campaign's many small accounts are a
    small part of it, so they do not move its median."""
    rows = list(stats)
    calls_c, calls_s = _robust([math.log1p(s.calls) for s in rows])
    tokens_c, tokens_s = _robust([math.log1p(s.prompt_tokens + s.completion_tokens) for s in rows])
    reasoning = _median([s.reasoning_calls / max(s.calls, 1) for s in rows])
    return Cohort(calls_c, calls_s, tokens_c, tokens_s, len(rows), reasoning)


def volume_z(calls: int, tokens: int, base: Cohort) -> float:
    """The larger of the robust z-scores of log calls and log tokens."""
    z_calls = (math.log1p(calls) - base.calls_median) / base.calls_spread
    z_tokens = (math.log1p(tokens) - base.tokens_median) / base.tokens_spread
    return max(z_calls, z_tokens)


def herfindahl(counts: Mapping[str, int], *, tasks_only: bool = False) -> float:
    """Concentration of calls over task families: 1 for one family, 1/k for k even ones.
    ``chat`` and ``other`` are what ordinary use looks like, so they never count as a target; with
    ``tasks_only`` they are left out of the total too (concentration among the task families alone:
    a campaign padded with chat still targets its few families)."""
    tasks = {f: c for f, c in counts.items() if f not in ("chat", "other")}
    total = sum(tasks.values() if tasks_only else counts.values())
    if total <= 0:
        return 0.0
    return sum((c / total) ** 2 for c in tasks.values())


def hour_of_day(hourly: Mapping[int, int], since: dt.datetime) -> list[int]:
    """Calls per UTC hour of the day."""
    bins = [0] * 24
    offset = since.astimezone(dt.UTC).hour
    for hour, calls in hourly.items():
        bins[(offset + hour) % 24] += calls
    return bins


def flatness(bins: Sequence[int]) -> float:
    """1 for the same load at every hour of the day (a machine, or users in every time zone), 0 for
    a strong daily rhythm. From the coefficient of variation of the 24 bins, less the part Poisson
    noise explains (a small account is noisy even when flat): 0.2 or less is flat, 0.6 or more is a
    working day."""
    total = sum(bins)
    if total <= 0:
        return 0.0
    mean = total / len(bins)
    var = sum((b - mean) ** 2 for b in bins) / len(bins)
    excess = max(0.0, var / mean**2 - 1 / mean)
    return 1.0 - ramp(math.sqrt(excess), 0.2, 0.6)


def active_hour_share(hourly: Mapping[int, int], first_seen: dt.datetime, until: dt.datetime) -> float:
    """Share of the hours from the account's first call to the end of the window with a call at all:
    a steady stream is near 1, runs and bursts are low."""
    span = max(1, math.ceil((until - first_seen) / HOUR))
    return min(1.0, sum(1 for c in hourly.values() if c > 0) / span)


def young(stats: AccountStats) -> bool:
    return stats.created_at is not None and stats.first_seen - stats.created_at < YOUNG


def ramp(x: float, lo: float, hi: float) -> float:
    """0 below ``lo``, 1 above ``hi``, linear between: how far a figure is into its alarming range."""
    if x <= lo:
        return 0.0
    if x >= hi:
        return 1.0
    return (x - lo) / (hi - lo)


def account_signals(
    stats: AccountStats, base: Cohort, since: dt.datetime, until: dt.datetime
) -> dict[str, float]:
    """The named figures of one account (shares in 0..1, counts, a z-score)."""
    calls = max(stats.calls, 1)
    return {
        "calls": float(stats.calls),
        "volume_z": round(volume_z(stats.calls, stats.prompt_tokens + stats.completion_tokens, base), 3),
        "reasoning_share": stats.reasoning_calls / calls,
        "extraction_share": stats.extraction_calls / calls,
        "logit_bias_logprobs_share": stats.logit_bias_logprobs_calls / calls,
        "family_concentration": herfindahl(stats.families),
        "top_template_share": stats.top_template_share,
        "repeat_share": stats.repeat_share,
        "variant_share": stats.variant_share,
        "shared_template_share": stats.shared_template_share,
        "flatness": flatness(hour_of_day(stats.hourly, since)),
        "active_hour_share": active_hour_share(stats.hourly, max(stats.first_seen, since), until),
        "networks": float(stats.networks),
        "networks_per_key": float(stats.max_networks_per_key),
        "countries": float(stats.countries),
        "system_prompts": float(stats.system_prompts),
        "system_top_share": stats.system_top_share,
        "young": 1.0 if young(stats) else 0.0,
    }
