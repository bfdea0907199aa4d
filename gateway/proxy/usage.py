"""Token usage, read from OpenAI and Anthropic responses, plain or streamed.

One tolerant shape covers both wire formats: OpenAI's ``usage.prompt_tokens`` /
``completion_tokens`` (chat, completions, embeddings), the Responses API's
``response.usage.input_tokens`` / ``output_tokens``, and Anthropic's
``message.usage`` (``message_start``) and ``usage`` (``message_delta``, cumulative).
Later values win, which is what Anthropic's cumulative deltas need.
"""

from __future__ import annotations

from typing import Any

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
    choices: list[Any] | None = None
    message: _Holder | None = None
    response: _Holder | None = None


_decode_payload = msgspec.json.Decoder(_Payload).decode


class UsageMeter:
    """Accumulates usage from a JSON body or from SSE ``data:`` payloads."""

    __slots__ = ("completion_tokens", "prompt_tokens")

    def __init__(self) -> None:
        self.prompt_tokens: int | None = None
        self.completion_tokens: int | None = None

    def _take(self, usage: _Usage) -> None:
        prompt = usage.prompt_tokens if usage.prompt_tokens is not None else usage.input_tokens
        if prompt is not None:
            # Anthropic counts cached prompt tokens apart from input_tokens; all were processed.
            prompt += (usage.cache_creation_input_tokens or 0) + (usage.cache_read_input_tokens or 0)
            self.prompt_tokens = prompt
        completion = usage.completion_tokens if usage.completion_tokens is not None else usage.output_tokens
        if completion is not None:
            self.completion_tokens = completion

    def feed_json(self, data: bytes) -> bool:
        """Read usage from one JSON document. Returns True if it is a usage-only OpenAI chunk
        (no choices, usage set): the chunk ``stream_options.include_usage`` adds."""
        if b'"usage"' not in data:
            return False
        try:
            payload = _decode_payload(data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return False
        usage_only = False
        if payload.usage is not None:
            self._take(payload.usage)
            usage_only = payload.choices is not None and not payload.choices
        for holder in (payload.message, payload.response):
            if holder is not None and holder.usage is not None:
                self._take(holder.usage)
        return usage_only
