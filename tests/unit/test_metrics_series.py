"""The request counter and latency histogram, counted in plain lists, scrape exactly as prometheus_client's
Counter and Histogram did (issue 20: the per-request cost of metrics down, the exposition unchanged)."""

from __future__ import annotations

import itertools
import math
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from gateway.metrics import _BUCKETS, Metrics


class PlainMetrics:
    """The request series as they were: prometheus_client's own objects, one child per label set."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "gateway_requests", "Requests answered, by route and status.", ["route", "status"],
            registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "gateway_request_duration_seconds", "Time from request to the end of the response.", ["route"],
            buckets=_BUCKETS, registry=self.registry,
        )  # fmt: skip

    def observe(self, route: str, status: int, seconds: float) -> None:
        self.requests.labels(route, str(status)).inc()
        self.latency.labels(route).observe(seconds)


def the_series(text: bytes) -> bytes:
    """The two families' lines of a scrape (the fast Metrics registers other metrics after them)."""
    keep = (b"gateway_requests", b"gateway_request_duration_seconds")
    return b"\n".join(line for line in text.splitlines() if any(k in line for k in keep))


observations = st.lists(
    st.tuples(
        st.sampled_from(["/v1/chat/completions", "/v1/responses", "/v1/models", 'a "quoted" \\ route']),
        st.sampled_from([200, 400, 429, 502, 503]),
        st.sampled_from([*_BUCKETS, 0.0, -1.0, math.inf, math.nan, 1e-9, 400.0])
        | st.floats(-1, 500, allow_nan=False),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(observations)
def test_the_scrape_is_prometheus_clients(seen: list[tuple[str, int, float]]) -> None:
    scrapes = []
    for make in (PlainMetrics, Metrics):
        # Each side stamps a series' _created when it first appears: the same clock for both.
        clock = itertools.count(1_700_000_000)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(time, "time", lambda clock=clock: float(next(clock)))
            metrics = make()
            for route, status, seconds in seen:
                metrics.observe(route, status, seconds)
        scrapes.append(the_series(generate_latest(metrics.registry)))
    assert scrapes[1] == scrapes[0]


def test_a_scrape_without_requests_and_after_some() -> None:
    fast = Metrics()
    assert b"gateway_requests_total{" not in fast.render()
    fast.observe("/v1/chat/completions", 200, 0.003)
    fast.observe("/v1/chat/completions", 200, 0.2)
    text = fast.render().decode()
    assert 'gateway_requests_total{route="/v1/chat/completions",status="200"} 2.0' in text
    assert 'gateway_request_duration_seconds_bucket{le="0.0025",route="/v1/chat/completions"} 0.0' in text
    assert 'gateway_request_duration_seconds_bucket{le="0.005",route="/v1/chat/completions"} 1.0' in text
    assert 'gateway_request_duration_seconds_bucket{le="+Inf",route="/v1/chat/completions"} 2.0' in text
    assert 'gateway_request_duration_seconds_count{route="/v1/chat/completions"} 2.0' in text
