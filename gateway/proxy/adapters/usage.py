"""Token usage, read from an upstream's responses, plain or streamed: what every format shares.

Each adapter reads its own wire format (``OpenAIUsageReader``, ``AnthropicUsageReader``); the
handler sees only a :class:`UsageReader` to feed and the :class:`TokenUsage` it produces.
Later values win, which is what Anthropic's cumulative deltas need.

A stream cut short (client gone, upstream broken) never delivers its final
usage. Then the completion is estimated as the number of content deltas seen
(servers send about one token per delta) and the event says the usage is not
complete, rather than recording nothing.
"""

from __future__ import annotations

import re

import msgspec


class TokenUsage(msgspec.Struct, frozen=True, gc=False):
    """What an upstream reported a call used, in any format."""

    input_tokens: int | None
    """The prompt, every token the model processed (None: not reported)."""
    output_tokens: int | None
    """What the model generated; for a stream cut short, the deltas it delivered."""
    complete: bool
    """True once the upstream reported the call's final usage."""


# Only a payload with a usage *object* is worth decoding: with include_usage on, every
# OpenAI chunk carries "usage":null, and decoding each one cost more than the rest. The search
# alone is the whole test: a `b'"usage"' in data` before it cost more than it saved (the regex
# finds its literal prefix as fast), 25 % of an OpenAI stream's reading (tests/bench/bench_usage.py).
_HAS_USAGE = re.compile(rb'"usage"\s*:\s*\{').search


class UsageReader(msgspec.Struct, gc=False):
    """Accumulates usage from a JSON body or from SSE ``data:`` payloads; one per request.

    A Struct rather than a plain class: one is built for every request, and a Struct's
    constructor runs no Python code. Subclasses decode their own format in :meth:`_read`,
    which runs only for the few payloads that carry a usage object.
    """

    input_tokens: int | None = None
    output_tokens: int | None = None
    """The reported completion; :meth:`usage` adds the estimate for a stream cut short."""
    complete: bool = False
    deltas: int = 0

    def feed_event(self, data: bytes) -> bool:
        """One SSE ``data:`` payload; True if it is a usage-only chunk (see :meth:`feed_json`)."""
        if b'"delta"' in data or b'"text":' in data:
            self.deltas += 1
        # feed_json's test, repeated rather than called: this runs for every event of every stream.
        if _HAS_USAGE(data) is None:
            return False
        return self._read(data)

    def feed_json(self, data: bytes) -> bool:
        """Read usage from one JSON document. Returns True if it is a usage-only chunk: one
        the client did not ask for, which the handler hides (OpenAI's ``include_usage``)."""
        if _HAS_USAGE(data) is None:
            return False
        return self._read(data)

    def _read(self, data: bytes) -> bool:
        """Decode a payload that holds a usage object and take what it reports."""
        raise NotImplementedError

    def usage(self) -> TokenUsage:
        output = self.output_tokens
        if not self.complete and self.deltas:
            output = max(output or 0, self.deltas)
        return TokenUsage(self.input_tokens, output, self.complete)
