"""Prometheus metrics, in a registry per app (no process globals)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class Metrics:
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
        self._children: dict[tuple[str, int], tuple[Counter, Histogram]] = {}

    def observe(self, route: str, status: int, seconds: float) -> None:
        pair = self._children.get((route, status))
        if pair is None:  # label lookups are the slow part: resolve each pair once
            pair = (self.requests.labels(route, str(status)), self.latency.labels(route))
            self._children[(route, status)] = pair
        pair[0].inc()
        pair[1].observe(seconds)

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
