"""The response headers that tell a client where it stands against a limit.

Three audiences, three sets of headers:

- The IETF fields of draft-ietf-httpapi-ratelimit-headers (draft 11, May 2026): ``RateLimit-Policy``
  (the quota ``q``, its unit ``qu``, the window ``w`` in seconds) and ``RateLimit`` (the available
  quota ``r`` and the seconds ``t`` until it is restored), both Structured Field lists of items
  named by a quoted policy name: ``RateLimit-Policy: "requests-minute";q=60;w=60``,
  ``RateLimit: "requests-minute";r=42;t=17``.
- The ``x-ratelimit-{limit,remaining,reset}-{requests,tokens}`` headers OpenAI sends and its
  clients read; the reset is a Go duration string (``1s``, ``6m0s``, ``12ms``, ``7.66s``).
- On a refusal, ``Retry-After`` (integer seconds, rounded up, RFC 9110) and ``retry-after-ms``,
  which the OpenAI SDKs prefer: a GCRA refusal often means "wait 200 ms", which whole seconds
  would round to 1 s. A refusal no wait can fix gets ``x-should-retry: false`` instead, the
  header the OpenAI SDKs obey before their own retry rules.

An admitted request carries the first two, for its limits closest to exhaustion; a refusal
carries them for the limit that refused it.

Numbers are rounded the cautious way: ``r`` and ``remaining`` down, ``t``, ``reset`` and
``Retry-After`` up, so a client that follows them is not refused.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from .model import RATE_PERIOD_SECONDS, Dimension, Limit

# RFC 9651 Integers have at most 15 digits. FLOP budgets (5e23) do not fit: such a limit gets no
# IETF fields rather than a wrong number.
_SF_INTEGER_MAX = 999_999_999_999_999
_DAY_SECONDS = 86_400

# The draft's registry has "requests" (the default, left out), "content-bytes" and
# "concurrent-requests": none for tokens or compute. These unregistered units are sent so that no
# client mistakes a token budget for a request count; a client that does not know a unit should
# ignore the policy.
_QUOTA_UNITS: dict[Dimension, str] = {
    "input_tokens": "input-tokens",
    "output_tokens": "output-tokens",
    "gpu_seconds": "gpu-seconds",
    "flop": "flop",
    "spend": "spend",
}
# OpenAI reports one token budget for input and output together; ours are per direction, and the
# caller picks the one to report (the closer to exhaustion).
_OPENAI_FAMILY: dict[Dimension, str] = {
    "requests": "requests",
    "input_tokens": "tokens",
    "output_tokens": "tokens",
}


_EPSILON = 1e-6
"""Float noise: 17.000000000001 seconds from float arithmetic means 17, not 18 (and 41.9999999 means
42). Added or taken off rather than ``round(x, 6)``, which costs as much as the rest of a header."""


def _ceil(seconds: float) -> int:
    return max(0, math.ceil(seconds - _EPSILON))


def _floor(value: float) -> int:
    return max(0, math.floor(value + _EPSILON))


def _sf_string(name: str) -> str:
    """``name`` as an RFC 9651 String: printable ASCII, with ``\\`` and ``"`` escaped."""
    if not (name.isascii() and name.isprintable()):
        raise ValueError(f"a rate-limit policy name must be printable ASCII: {name!r}")
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def window_seconds(limit: Limit) -> int | None:
    """The ``w`` of a limit: its window in seconds, or ``None`` for a month (28 to 31 days)."""
    if limit.rolling_days is not None:
        return limit.rolling_days * _DAY_SECONDS
    if limit.period in RATE_PERIOD_SECONDS:
        return RATE_PERIOD_SECONDS[limit.period]
    # A calendar day is 86400 s but for the two days a year clocks change: `t` carries the truth.
    return _DAY_SECONDS if limit.period == "day" else None


def go_duration(seconds: float) -> str:
    """A duration as Go's ``time.Duration.String`` writes it, rounded up to the millisecond.

    ``0s``, ``12ms``, ``1s``, ``7.66s``, ``6m0s``, ``1h0m0s``, ``24h0m0s``: the format of OpenAI's
    ``x-ratelimit-reset-*`` headers, which its clients parse.
    """
    if not math.isfinite(seconds):
        raise ValueError(f"not a finite duration: {seconds}")
    ms = max(0, math.ceil(seconds * 1000 - _EPSILON))
    if ms == 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    whole, frac = divmod(rest, 1000)
    text = f"{whole}.{frac:03d}".rstrip("0") + "s" if frac else f"{whole}s"
    if hours:
        return f"{hours}h{minutes}m{text}"
    if minutes:
        return f"{minutes}m{text}"
    return text


def _go_duration_bytes(seconds: float) -> bytes:
    """``go_duration(seconds).encode()`` for a finite ``seconds`` (the caller checks), in bytes
    formatting: a third of the time, on every served response (pinned against :func:`go_duration`
    by ``tests/unit/quota/test_headers_fast.py``)."""
    ms = math.ceil(seconds * 1000 - _EPSILON)
    if ms <= 0:
        return b"0s"
    if ms < 1000:
        return b"%dms" % ms
    whole, frac = divmod(ms, 1000)
    head = b""
    if whole >= 60:
        minutes, whole = divmod(whole, 60)
        if minutes >= 60:
            hours, minutes = divmod(minutes, 60)
            head = b"%dh%dm" % (hours, minutes)
        else:
            head = b"%dm" % minutes
    if frac:
        return head + (b"%d.%03d" % (whole, frac)).rstrip(b"0") + b"s"
    return head + b"%ds" % whole


def ratelimit_headers(
    limit: Limit,
    remaining: float,
    reset_seconds: float,
    *,
    policy_name: str,
    retry_after: float | None = None,
) -> list[tuple[bytes, bytes]]:
    """The headers (lower-case names, ASGI style) describing ``limit`` for one response.

    ``remaining`` is what is left in the limit's unit; ``reset_seconds`` the time until it is fully
    restored (the window's end for a budget, the TAT for a GCRA rate; ``inf`` leaves the times
    out). ``retry_after`` is set on a refusal only: the wait after which the same request would be
    admitted (shorter than the reset for a smooth rate), ``inf`` when no wait will do.
    """
    headers = _ietf(limit, remaining, reset_seconds, policy_name)
    family = _OPENAI_FAMILY.get(limit.dimension)
    if family is not None:
        headers += _openai(family, _static(limit, policy_name)[3], remaining, reset_seconds)
    if retry_after is not None:
        if math.isfinite(retry_after):
            milliseconds = max(0, math.ceil(retry_after * 1000 - _EPSILON))
            headers += [
                (b"retry-after", str(_ceil(retry_after)).encode()),
                (b"retry-after-ms", str(milliseconds).encode()),
            ]
        else:
            headers.append((b"x-should-retry", b"false"))
    return headers


def served_headers(states: Iterable[tuple[Limit, str, float, float]]) -> list[tuple[bytes, bytes]]:
    """The headers of an admitted request, from ``(limit, policy name, remaining, reset)`` of each limit.

    ``RateLimit``/``RateLimit-Policy`` describe the limit closest to exhaustion (the smallest share
    left) among those their integers can express; ``x-ratelimit-*`` the closest of each OpenAI
    family (requests; tokens), as OpenAI does.
    """
    ietf = requests = tokens = None
    ietf_share = requests_share = tokens_share = math.inf
    for state in states:
        limit = state[0]
        share = state[2] / limit.limit if limit.limit > 0 else 0.0
        if share < ietf_share and limit.limit <= _SF_INTEGER_MAX:  # a FLOP cap's q would not fit
            ietf, ietf_share = state, share
        family = _OPENAI_FAMILY.get(limit.dimension)
        if family == "requests":
            if share < requests_share:
                requests, requests_share = state, share
        elif family == "tokens" and share < tokens_share:
            tokens, tokens_share = state, share
    headers: list[tuple[bytes, bytes]] = []
    if ietf is not None:
        headers += _ietf(ietf[0], ietf[2], ietf[3], ietf[1])
    for family, best in (("requests", requests), ("tokens", tokens)):
        if best is not None:
            headers += _openai(family, _static(best[0], best[1])[3], best[2], best[3])
    return headers


def _ietf(
    limit: Limit, remaining: float, reset_seconds: float, policy_name: str
) -> list[tuple[bytes, bytes]]:
    policy, name, quota, _ = _static(limit, policy_name)
    if policy is None:
        return []
    # _floor and _ceil written out: a call costs as much as the arithmetic.
    r = math.floor(remaining + _EPSILON)
    r = 0 if r < 0 else quota if r > quota else r
    if math.isfinite(reset_seconds):
        t = math.ceil(reset_seconds - _EPSILON)
        state = b"%s;r=%d;t=%d" % (name, r, 0 if t < 0 else t)
    else:
        state = b"%s;r=%d" % (name, r)
    return [(b"ratelimit-policy", policy), (b"ratelimit", state)]


def _openai(family: str, quota: bytes, remaining: float, reset_seconds: float) -> list[tuple[bytes, bytes]]:
    names = _OPENAI_NAMES[family]
    r = math.floor(remaining + _EPSILON)
    headers = [(names[0], quota), (names[1], b"%d" % (0 if r < 0 else r))]
    if math.isfinite(reset_seconds):
        headers.append((names[2], _go_duration_bytes(reset_seconds)))
    return headers


_OPENAI_NAMES = {
    family: tuple(f"x-ratelimit-{what}-{family}".encode() for what in ("limit", "remaining", "reset"))
    for family in set(_OPENAI_FAMILY.values())
}
_STATICS: dict[tuple[Limit, str], tuple[bytes | None, bytes, int, bytes]] = {}


def _static(limit: Limit, policy_name: str) -> tuple[bytes | None, bytes, int, bytes]:
    """A limit's ``RateLimit-Policy`` value (None: q would not fit), quoted name and quota (also as text).

    The same for every response about that limit: built once (every request carries them).
    """
    key = (limit, policy_name)
    found = _STATICS.get(key)
    if found is None:
        quota = _floor(limit.limit)
        name = _sf_string(policy_name)
        policy = None
        if quota <= _SF_INTEGER_MAX:
            text = f"{name};q={quota}"
            if limit.dimension in _QUOTA_UNITS:
                text += f';qu="{_QUOTA_UNITS[limit.dimension]}"'
            w = window_seconds(limit)
            if w is not None:
                text += f";w={w}"
            policy = text.encode()
        if len(_STATICS) >= 10_000:  # limits come and go with overrides: bound what is kept
            _STATICS.clear()
        found = _STATICS[key] = (policy, name.encode(), quota, str(quota).encode())
    return found
