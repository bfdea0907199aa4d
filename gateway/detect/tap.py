"""The hand-off from the hot path: each call's usage event and body, kept for feature extraction.

The proxy's settle step calls :meth:`FeatureTap.take`, a list append and nothing else (measured in
``tests/bench/bench_features.py``). A background task takes what is pending every
``interval`` seconds, extracts the features :data:`YIELD_EVERY` calls at a time
(:func:`.features.extract_batch`, the values of :func:`.features.extract` for less CPU) and hands
them to the ledger writer, yielding to the event loop after each such block so that a backlog never
holds requests up. :meth:`FeatureTap.stop` extracts everything still pending: call it
after the server has finished its requests and before the ledger writer stops.

The bodies waiting are bounded (``max_bytes``): past it, a call is counted (``dropped``, the metric
``gateway_features_dropped``) and not kept, so a flood the extractor cannot keep up with costs
features, never the process's memory. The call's usage event is recorded whatever happens here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import structlog

from ..ledger.events import UsageEvent
from .features import CallFeatures, extract, extract_batch

_log = structlog.get_logger(__name__)

YIELD_EVERY = 64
MAX_BYTES = 256 * 1024 * 1024
"""Request bodies waiting for extraction, at most (bytes)."""


class FeatureTap:
    def __init__(
        self, sink: Callable[[CallFeatures], None], *, interval: float = 0.05, max_bytes: int = MAX_BYTES
    ) -> None:
        self._sink = sink
        self._interval = interval
        self._max_bytes = max_bytes
        self._bytes = 0
        self._pending: list[tuple[UsageEvent, bytes]] = []
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.extracted = 0
        self.failed = 0
        self.dropped = 0

    # -- hot path -------------------------------------------------------------

    def take(self, event: UsageEvent, body: bytes) -> None:
        """Keep one call for extraction (the caller skips calls without a body)."""
        size = len(body)
        if self._bytes + size > self._max_bytes:
            self.dropped += 1
            return
        self._bytes += size
        self._pending.append((event, body))

    @property
    def depth(self) -> int:
        return len(self._pending)

    # -- lifecycle ------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="feature-tap")

    async def stop(self) -> None:
        """Extract everything taken so far, then end."""
        self._stopping.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.drain()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self._interval)
            await self.drain()

    async def drain(self) -> int:
        """Extract and hand over every pending call; returns how many."""
        done = 0
        while self._pending:
            # Swap the list rather than copy it: take() appends to the new one meanwhile.
            batch, self._pending = self._pending, []
            self._bytes -= sum(len(body) for _, body in batch)
            for i in range(0, len(batch), YIELD_EVERY):
                block = batch[i : i + YIELD_EVERY]
                try:
                    found: list[CallFeatures | None] = list(extract_batch(block))
                except Exception:
                    found = [None] * len(block)  # each call alone, so that only the bad one is lost
                for (event, body), features in zip(block, found, strict=True):
                    self._hand_over(event, body, features)
                if len(block) == YIELD_EVERY:
                    await asyncio.sleep(0)
            done += len(batch)
        return done

    def _hand_over(self, event: UsageEvent, body: bytes, features: CallFeatures | None) -> None:
        try:
            self._sink(extract(event, body) if features is None else features)
            self.extracted += 1
        except Exception:
            self.failed += 1
            _log.exception("feature_extraction_failed", request_id=str(event.request_id))
