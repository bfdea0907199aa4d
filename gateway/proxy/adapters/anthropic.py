"""Anthropic-compatible upstreams (the Messages API)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import msgspec

from .base import ProviderHeaders, RequestHead, join_query
from .usage import UsageReader

_encode_model = msgspec.json.Encoder().encode
_EPOCH_ISO = "1970-01-01T00:00:00Z"


# -- usage ---------------------------------------------------------------------
#
# ``message.usage`` in ``message_start`` (the input tokens, not final), ``usage`` in
# ``message_delta`` (cumulative, so the latest wins) and in a plain response.


class _Usage(msgspec.Struct):
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None


class _Holder(msgspec.Struct):
    usage: _Usage | None = None


class _Payload(msgspec.Struct):
    usage: _Usage | None = None
    message: _Holder | None = None


_decode_payload = msgspec.json.Decoder(_Payload).decode


class AnthropicUsageReader(UsageReader):
    def _take(self, usage: _Usage) -> None:
        prompt = usage.input_tokens
        if prompt is not None:
            # Anthropic counts cached prompt tokens apart from input_tokens; all were processed.
            prompt += (usage.cache_creation_input_tokens or 0) + (usage.cache_read_input_tokens or 0)
            self.input_tokens = prompt
        if usage.output_tokens is not None:
            self.output_tokens = usage.output_tokens

    def _read(self, data: bytes) -> bool:
        """Never a usage-only chunk: message_start and message_delta always carry usage."""
        try:
            payload = _decode_payload(data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return False
        if payload.usage is not None:
            # message_delta (cumulative) or a plain response: final so far.
            self._take(payload.usage)
            self.complete = True
        if payload.message is not None and payload.message.usage is not None:
            self._take(payload.message.usage)  # message_start: input tokens, not final
        return False


# -- /v1/models ----------------------------------------------------------------


class AnthropicModel(msgspec.Struct):
    id: str
    display_name: str
    type: str = "model"
    created_at: str = _EPOCH_ISO


class AnthropicModelList(msgspec.Struct):
    data: list[AnthropicModel]
    has_more: bool
    first_id: str | None
    last_id: str | None


# -- the adapter -----------------------------------------------------------------


class AnthropicAdapter:
    kind = "anthropic"
    provider_headers = ProviderHeaders(
        upstream_account=frozenset({"anthropic-organization-id"}),
        rate_limit_prefixes=("anthropic-ratelimit-",),
        request_id=frozenset({"request-id"}),
    )

    def url(self, base_url: str, path: str, query: bytes) -> str:
        # The Anthropic SDK's base_url is the bare origin; it adds /v1 itself.
        return join_query(base_url.rstrip("/") + path, query)

    def auth_headers(self, api_key: str | None) -> list[tuple[str, str]]:
        return [("x-api-key", api_key)] if api_key else []

    def prepare(self, body: bytes, head: RequestHead, usage_chunk_option: bool) -> tuple[bytes, bool]:
        # message_start and message_delta always carry usage.
        return body, True

    def usage_reader(self) -> AnthropicUsageReader:
        return AnthropicUsageReader()

    def speaks(self, headers: Mapping[bytes, bytes]) -> bool:
        # The Anthropic SDK sends anthropic-version with every request; OpenAI's does not.
        return b"anthropic-version" in headers

    def models_body(self, models: Sequence[tuple[str, str]]) -> bytes:
        listed = [AnthropicModel(m, m) for m, _ in models]
        first, last = (listed[0].id, listed[-1].id) if listed else (None, None)
        return _encode_model(AnthropicModelList(listed, False, first, last))

    def model_body(self, model: str, upstream: str) -> bytes:
        return _encode_model(AnthropicModel(model, model))
