"""The served response's rate-limit headers, formatted the fast way, are byte for byte what the plain
computation gave (issue 20): ``_go_duration_bytes`` against :func:`go_duration`, and
:func:`served_headers` / :func:`ratelimit_headers` against the string formatting they had before
(restated here as the oracle)."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.quota.headers import (
    _OPENAI_FAMILY,
    _SF_INTEGER_MAX,
    _go_duration_bytes,
    _sf_string,
    go_duration,
    ratelimit_headers,
    served_headers,
    window_seconds,
)
from gateway.quota.model import Limit

_EPSILON = 1e-6
_UNITS = {
    "input_tokens": "input-tokens",
    "output_tokens": "output-tokens",
    "gpu_seconds": "gpu-seconds",
    "flop": "flop",
    "spend": "spend",
}


# -- the plain computation (the module's formatting before issue 20) ---------------------------------


def _ceil(seconds: float) -> int:
    return max(0, math.ceil(seconds - _EPSILON))


def _floor(value: float) -> int:
    return max(0, math.floor(value + _EPSILON))


def plain_ietf(limit: Limit, remaining: float, reset: float, name: str) -> list[tuple[bytes, bytes]]:
    quota = _floor(limit.limit)
    if quota > _SF_INTEGER_MAX:
        return []
    quoted = _sf_string(name)
    policy = f"{quoted};q={quota}"
    if limit.dimension in _UNITS:
        policy += f';qu="{_UNITS[limit.dimension]}"'
    w = window_seconds(limit)
    if w is not None:
        policy += f";w={w}"
    state = f"{quoted};r={min(_floor(remaining), quota)}"
    if math.isfinite(reset):
        state += f";t={_ceil(reset)}"
    return [(b"ratelimit-policy", policy.encode()), (b"ratelimit", state.encode())]


def plain_openai(family: str, limit: Limit, remaining: float, reset: float) -> list[tuple[bytes, bytes]]:
    out = [
        (f"x-ratelimit-limit-{family}".encode(), str(_floor(limit.limit)).encode()),
        (f"x-ratelimit-remaining-{family}".encode(), str(_floor(remaining)).encode()),
    ]
    if math.isfinite(reset):
        out.append((f"x-ratelimit-reset-{family}".encode(), go_duration(reset).encode()))
    return out


def plain_served(states: list[tuple[Limit, str, float, float]]) -> list[tuple[bytes, bytes]]:
    ietf = requests = tokens = None
    ietf_share = requests_share = tokens_share = math.inf
    for state in states:
        limit = state[0]
        share = state[2] / limit.limit if limit.limit > 0 else 0.0
        if share < ietf_share and limit.limit <= _SF_INTEGER_MAX:
            ietf, ietf_share = state, share
        family = _OPENAI_FAMILY.get(limit.dimension)
        if family == "requests" and share < requests_share:
            requests, requests_share = state, share
        elif family == "tokens" and share < tokens_share:
            tokens, tokens_share = state, share
    out: list[tuple[bytes, bytes]] = []
    if ietf is not None:
        out += plain_ietf(ietf[0], ietf[2], ietf[3], ietf[1])
    for family, best in (("requests", requests), ("tokens", tokens)):
        if best is not None:
            out += plain_openai(family, best[0], best[2], best[3])
    return out


# -- the properties -----------------------------------------------------------------------------------

seconds = (
    st.floats(-5, 1e8, allow_nan=False)
    | st.integers(0, 10**8).map(lambda ms: ms / 1000)  # whole milliseconds: the rounding edges
    | st.sampled_from([0.0, 0.0009999, 0.001, 0.999, 1.0, 59.999, 60.0, 3599.9995, 3600.0, 86400.0])
)


@settings(max_examples=1000, deadline=None)
@given(seconds)
def test_go_duration_in_bytes_is_go_duration(s: float) -> None:
    assert _go_duration_bytes(s) == go_duration(s).encode()


def test_go_duration_in_bytes_over_every_millisecond_of_the_first_two_hours_sampled() -> None:
    for ms in [*range(0, 5000), *range(59_000, 61_000), *range(3_599_000, 3_601_000), 7_200_000]:
        for s in (ms / 1000, ms / 1000 + 1e-7, ms / 1000 - 1e-7):
            assert _go_duration_bytes(s) == go_duration(s).encode(), s


limits = st.builds(
    Limit,
    dimension=st.sampled_from(["requests", "input_tokens", "output_tokens", "gpu_seconds", "flop", "spend"]),
    period=st.sampled_from(["second", "minute", "hour", "day", "month"]),
    limit=st.sampled_from([0.0, 1.0, 60.0, 1e6, 5e23, float(_SF_INTEGER_MAX), 1e15]) | st.floats(0, 1e9),
    scope=st.sampled_from(["customer", "project", "key"]),
)
amounts = st.floats(-10, 2e9, allow_nan=False) | st.sampled_from([0.0, 41.9999999, 42.0000001, 1e6])
resets = seconds | st.just(math.inf)
names = st.sampled_from(["customer-requests-minute", "key-requests-second", 'a "quoted" \\ name', "x"])


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(limits, names, amounts, resets), max_size=6))
def test_served_headers_are_the_plain_ones(states: list[tuple[Limit, str, float, float]]) -> None:
    assert served_headers(states) == plain_served(states)


@settings(max_examples=500, deadline=None)
@given(limits, names, amounts, resets)
def test_refusal_headers_keep_the_plain_rate_limit_fields(
    limit: Limit, name: str, remaining: float, reset: float
) -> None:
    got = ratelimit_headers(limit, remaining, reset, policy_name=name)
    family = _OPENAI_FAMILY.get(limit.dimension)
    expected = plain_ietf(limit, remaining, reset, name)
    if family is not None:
        expected += plain_openai(family, limit, remaining, reset)
    assert got == expected
