import math

import pytest

from gateway.quota import Limit, go_duration, ratelimit_headers
from gateway.quota.headers import served_headers


def as_text(headers: list[tuple[bytes, bytes]]) -> list[str]:
    return [f"{k.decode()}: {v.decode()}" for k, v in headers]


def test_requests_per_minute_on_an_admitted_request() -> None:
    limit = Limit(dimension="requests", period="minute", limit=60)
    assert as_text(ratelimit_headers(limit, 42.0, 17.0, policy_name="requests-minute")) == [
        'ratelimit-policy: "requests-minute";q=60;w=60',
        'ratelimit: "requests-minute";r=42;t=17',
        "x-ratelimit-limit-requests: 60",
        "x-ratelimit-remaining-requests: 42",
        "x-ratelimit-reset-requests: 17s",
    ]


def test_daily_output_tokens_refused() -> None:
    limit = Limit(dimension="output_tokens", period="day", limit=1_000_000)
    headers = ratelimit_headers(limit, 149_984.7, 360.0, policy_name="output_tokens-day", retry_after=360.0)
    assert as_text(headers) == [
        'ratelimit-policy: "output_tokens-day";q=1000000;qu="output-tokens";w=86400',
        'ratelimit: "output_tokens-day";r=149984;t=360',
        "x-ratelimit-limit-tokens: 1000000",
        "x-ratelimit-remaining-tokens: 149984",
        "x-ratelimit-reset-tokens: 6m0s",
        "retry-after: 360",
        "retry-after-ms: 360000",
    ]


def test_smooth_rate_refusal_rounds_waits_up_and_counts_down() -> None:
    limit = Limit(dimension="requests", period="second", limit=10, scope="key")
    headers = ratelimit_headers(limit, 0.4, 0.95, policy_name="key-requests-second", retry_after=0.1)
    assert as_text(headers) == [
        'ratelimit-policy: "key-requests-second";q=10;w=1',
        'ratelimit: "key-requests-second";r=0;t=1',
        "x-ratelimit-limit-requests: 10",
        "x-ratelimit-remaining-requests: 0",
        "x-ratelimit-reset-requests: 950ms",
        "retry-after: 1",
        "retry-after-ms: 100",
    ]


def test_flop_budget_is_too_large_for_structured_integers() -> None:
    limit = Limit(dimension="flop", period="month", limit=5e23, hard=True)
    headers = ratelimit_headers(limit, 0.0, 3600.5, policy_name="flop-month", retry_after=3600.5)
    assert as_text(headers) == ["retry-after: 3601", "retry-after-ms: 3600500"]


def test_month_and_rolling_windows() -> None:
    month = Limit(dimension="gpu_seconds", period="month", limit=1000)
    assert as_text(ratelimit_headers(month, 250.0, 86400.0, policy_name="gpu")) == [
        'ratelimit-policy: "gpu";q=1000;qu="gpu-seconds"',  # no w: a month has no fixed length
        'ratelimit: "gpu";r=250;t=86400',
    ]
    rolling = Limit(dimension="input_tokens", rolling_days=90, limit=5e6)
    assert as_text(ratelimit_headers(rolling, 10.0, 7776000.0, policy_name="in-90d"))[:2] == [
        'ratelimit-policy: "in-90d";q=5000000;qu="input-tokens";w=7776000',
        'ratelimit: "in-90d";r=10;t=7776000',
    ]


def test_a_request_that_can_never_fit_says_do_not_retry() -> None:
    limit = Limit(dimension="requests", period="minute", limit=10)
    headers = ratelimit_headers(limit, 10.0, math.inf, policy_name="rpm", retry_after=math.inf)
    assert as_text(headers) == [
        'ratelimit-policy: "rpm";q=10;w=60',
        'ratelimit: "rpm";r=10',
        "x-ratelimit-limit-requests: 10",
        "x-ratelimit-remaining-requests: 10",
        "x-should-retry: false",
    ]


def test_policy_names_are_structured_field_strings() -> None:
    limit = Limit(dimension="requests", period="hour", limit=5)
    first = ratelimit_headers(limit, 1.0, 1.0, policy_name='a"b\\c')[0]
    assert first == (b"ratelimit-policy", b'"a\\"b\\\\c";q=5;w=3600')
    with pytest.raises(ValueError, match="printable ASCII"):
        ratelimit_headers(limit, 1.0, 1.0, policy_name="café")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (-3, "0s"),
        (0.0004, "1ms"),
        (0.012, "12ms"),
        (0.9999, "1s"),
        (1, "1s"),
        (7.66, "7.66s"),
        (59.9999, "1m0s"),
        (90.5, "1m30.5s"),
        (360, "6m0s"),
        (3600, "1h0m0s"),
        (86400, "24h0m0s"),
        (90061.25, "25h1m1.25s"),
    ],
)
def test_go_duration(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text


def test_an_admitted_request_describes_its_tightest_limit_and_each_openai_familys() -> None:
    rate = Limit(dimension="requests", period="second", limit=10, scope="key")
    day = Limit(dimension="requests", period="day", limit=1000)
    tokens = Limit(dimension="output_tokens", period="day", limit=10_000)
    flop = Limit(dimension="flop", period="month", limit=5e23, hard=True)
    headers = served_headers(
        [
            (rate, "key-requests-second", 8.0, 0.2),  # 80% left
            (day, "customer-requests-day", 700.0, 3600.0),  # 70% left: the tightest request limit
            (tokens, "customer-output_tokens-day", 9_000.0, 3600.0),  # 90% left
            (flop, "customer-flop-month", 1e23, math.inf),  # 20% left, but beyond RFC 9651 integers
        ]
    )
    # The FLOP cap is tightest, but RFC 9651 integers cannot carry it and it is no OpenAI family.
    assert as_text(headers) == [
        'ratelimit-policy: "customer-requests-day";q=1000;w=86400',
        'ratelimit: "customer-requests-day";r=700;t=3600',
        "x-ratelimit-limit-requests: 1000",
        "x-ratelimit-remaining-requests: 700",
        "x-ratelimit-reset-requests: 1h0m0s",
        "x-ratelimit-limit-tokens: 10000",
        "x-ratelimit-remaining-tokens: 9000",
        "x-ratelimit-reset-tokens: 1h0m0s",
    ]


def test_an_admitted_request_under_a_zero_limit_counts_it_as_exhausted() -> None:
    spend = Limit(dimension="spend", period="month", limit=50.0)
    zero = Limit(dimension="input_tokens", period="day", limit=0)
    headers = served_headers(
        [(spend, "customer-spend-month", 25.5, 86_400.0), (zero, "customer-input_tokens-day", 0, 60)]
    )
    assert as_text(headers) == [
        'ratelimit-policy: "customer-input_tokens-day";q=0;qu="input-tokens";w=86400',
        'ratelimit: "customer-input_tokens-day";r=0;t=60',
        "x-ratelimit-limit-tokens: 0",
        "x-ratelimit-remaining-tokens: 0",
        "x-ratelimit-reset-tokens: 1m0s",
    ]
    assert served_headers([]) == []
