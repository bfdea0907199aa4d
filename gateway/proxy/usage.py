"""Token usage, read from OpenAI and Anthropic responses, plain or streamed.

One tolerant shape covers both wire formats: OpenAI's ``usage.prompt_tokens`` /
``completion_tokens`` (chat, completions, embeddings), the Responses API's
``response.usage.input_tokens`` / ``output_tokens``, and Anthropic's
``message.usage`` (``message_start``) and ``usage`` (``message_delta``, cumulative).
Later values win, which is what Anthropic's cumulative deltas need.

A stream cut short (client gone, upstream broken) never delivers its final
usage. Then the completion is estimated as the number of content deltas seen
(servers send about one token per delta) and the event says the usage is not
complete, rather than recording nothing.
"""

from __future__ import annotations

import re

import msgspec


class _Usage(msgspec.Struct):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None


class _Holder(msgspec.Struct):
    usage: _Usage | None = None


class _Payload(msgspec.Struct):
    usage: _Usage | None = None
    choices: list[msgspec.Raw] | None = None
    message: _Holder | None = None
    response: _Holder | None = None


_decode_payload = msgspec.json.Decoder(_Payload).decode
# Only a payload with a usage *object* is worth decoding: with include_usage on, every
# OpenAI chunk carries "usage":null, and decoding each one cost more than the rest.
_HAS_USAGE = re.compile(rb'"usage"\s*:\s*\{').search


class UsageMeter:
    """Accumulates usage from a JSON body or from SSE ``data:`` payloads."""

    __slots__ = ("_completion", "complete", "deltas", "prompt_tokens")

    def __init__(self) -> None:
        self.prompt_tokens: int | None = None
        self._completion: int | None = None
        self.complete = False
        """True once the upstream reported the call's final usage."""
        self.deltas = 0

    @property
    def completion_tokens(self) -> int | None:
        if self.complete or not self.deltas:
            return self._completion
        return max(self._completion or 0, self.deltas)

    def feed_event(self, data: bytes) -> bool:
        """One SSE ``data:`` payload; True if it is the usage-only chunk (see :meth:`feed_json`)."""
        if b'"delta"' in data or b'"text":' in data:
            self.deltas += 1
        return self.feed_json(data)

    def _take(self, usage: _Usage) -> None:
        prompt = usage.prompt_tokens if usage.prompt_tokens is not None else usage.input_tokens
        if prompt is not None:
            # Anthropic counts cached prompt tokens apart from input_tokens; all were processed.
            prompt += (usage.cache_creation_input_tokens or 0) + (usage.cache_read_input_tokens or 0)
            self.prompt_tokens = prompt
        completion = usage.completion_tokens if usage.completion_tokens is not None else usage.output_tokens
        if completion is not None:
            self._completion = completion

    def feed_json(self, data: bytes) -> bool:
        """Read usage from one JSON document. Returns True if it is a usage-only OpenAI chunk
        (no choices, usage set): the chunk ``stream_options.include_usage`` adds."""
        if b'"usage"' not in data or _HAS_USAGE(data) is None:
            return False
        try:
            payload = _decode_payload(data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return False
        usage_only = False
        if payload.usage is not None:
            # OpenAI's final usage, or Anthropic's message_delta (cumulative): both final so far.
            self._take(payload.usage)
            self.complete = True
            usage_only = payload.choices is not None and not payload.choices
        if payload.message is not None and payload.message.usage is not None:
            self._take(payload.message.usage)  # Anthropic message_start: input tokens, not final
        if payload.response is not None and payload.response.usage is not None:
            self._take(payload.response.usage)  # Responses API: response.completed
            self.complete = True
        return usage_only
