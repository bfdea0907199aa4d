"""Prometheus metrics, in a registry per app (no process globals)."""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Callable, Iterator

import prometheus_client.metrics
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class RequestSeries(Collector):
    """``gateway_requests`` (a counter by route and status) and ``gateway_request_duration_seconds``
    (a histogram by route), counted in plain lists and exposed as prometheus_client's ``Counter`` and
    ``Histogram`` expose them, sample for sample (``tests/unit/test_metrics_series.py`` compares the
    two). Every answered request counts here: prometheus_client's children take a lock per
    increment and scan the buckets in Python, 1 µs a request; this, a fifth of it.

    Written by the event loop's thread only; a scrape (any thread) reads.
    """

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self._bounds = [float(b) for b in buckets]
        if self._bounds[-1] != math.inf:
            self._bounds.append(math.inf)
        self._le: list[str] = [floatToGoString(b) for b in self._bounds]  # type: ignore[no-untyped-call]
        self._counts: dict[tuple[str, int], list[float]] = {}
        """(route, status) -> [count, created]."""
        self._routes: dict[str, list[float]] = {}
        """route -> [count per bucket (not cumulative)..., sum, created]."""

    def observe(self, route: str, status: int, seconds: float) -> None:
        count = self._counts.get((route, status))
        if count is None:
            count = self._counts[(route, status)] = [0.0, time.time()]
        count[0] += 1.0
        series = self._routes.get(route)
        if series is None:
            series = self._routes[route] = [0.0] * len(self._bounds) + [0.0, time.time()]
        series[-2] += seconds
        if seconds == seconds:  # NaN falls in no bucket, as in prometheus_client
            series[bisect.bisect_left(self._bounds, seconds)] += 1.0

    def collect(self) -> Iterator[Metric]:
        created = getattr(prometheus_client.metrics, "_use_created", True)
        requests = CounterMetricFamily(
            "gateway_requests", "Requests answered, by route and status.", labels=["route", "status"]
        )
        for (route, status), (value, since) in list(self._counts.items()):
            requests.add_metric([route, str(status)], value, created=since if created else None)
        yield requests
        latency = HistogramMetricFamily(
            "gateway_request_duration_seconds",
            "Time from request to the end of the response.",
            labels=["route"],
        )
        width = len(self._bounds)
        for route, series in list(self._routes.items()):
            values = series[:]  # one copy: the cumulative counts and the sum from the same moment
            buckets = []
            acc = 0.0
            for le, n in zip(self._le, values[:width], strict=True):
                acc += n
                buckets.append((le, acc))
            latency.add_metric([route], buckets, values[width])
            if created:
                latency.samples.append(
                    Sample("gateway_request_duration_seconds_created", {"route": route}, values[width + 1])
                )
        yield latency


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.series = RequestSeries(_BUCKETS)
        self.registry.register(self.series)
        self.upstream_errors = Counter(
            "gateway_upstream_errors", "Upstream calls that failed, by upstream and error code.",
            ["upstream", "code"], registry=self.registry,
        )  # fmt: skip
        self.features_pending = Gauge(
            "gateway_features_pending",
            "Calls waiting for feature extraction (off the request path).",
            registry=self.registry,
        )
        self.features_dropped = Gauge(
            "gateway_features_dropped",
            "Calls whose features were not extracted since start: the extraction backlog was full.",
            registry=self.registry,
        )
        self.ledger_depth = Gauge(
            "gateway_ledger_queue_depth", "Usage events accepted and not yet written.", registry=self.registry
        )
        self.ledger_written = Gauge(
            "gateway_ledger_events_written", "Usage events written since start.", registry=self.registry
        )
        self.ledger_spooled = Gauge(
            "gateway_ledger_events_spooled",
            "Usage events spooled to disk since start.",
            registry=self.registry,
        )
        self.ledger_unjournaled = Gauge(
            "gateway_ledger_events_in_memory_only",
            "Usage events neither journaled (the spool disk failing) nor yet written to the database.",
            registry=self.registry,
        )
        self.ledger_accepting = Gauge(
            "gateway_ledger_accepting",
            "1 while calls can be recorded; 0 while they are refused (503 ledger_unavailable): a full "
            "spool disk and the database not taking events.",
            registry=self.registry,
        )
        self.unattributed = Counter(
            "gateway_unattributed_refusals",
            "Data-plane calls refused before any customer was known, so with no usage event, by code.",
            ["code"], registry=self.registry,
        )  # fmt: skip
        self.observe = self.series.observe
        """``observe(route, status, seconds)``: one answered request."""

    def refused_unattributed(self, code: str) -> None:
        """A refusal the ledger cannot record (no principal): counted here instead."""
        self.unattributed.labels(code).inc()

    def bind_features(self, pending: Callable[[], float], dropped: Callable[[], float]) -> None:
        """The calls handed over for feature extraction and not yet extracted (``detect.tap``), and
        those not kept because the backlog was full."""
        self.features_pending.set_function(pending)
        self.features_dropped.set_function(dropped)

    def bind_ledger(
        self, depth: Callable[[], float], written: Callable[[], float], spooled: Callable[[], float]
    ) -> None:
        self.ledger_depth.set_function(depth)
        self.ledger_written.set_function(written)
        self.ledger_spooled.set_function(spooled)

    def bind_ledger_disk(self, in_memory_only: Callable[[], float], accepting: Callable[[], float]) -> None:
        self.ledger_unjournaled.set_function(in_memory_only)
        self.ledger_accepting.set_function(accepting)

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))
