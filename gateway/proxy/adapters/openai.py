"""OpenAI-compatible upstreams (OpenAI, vLLM, SGLang, llama.cpp, TGI ...)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import msgspec

from .base import ProviderHeaders, RequestHead, join_query
from .usage import UsageReader

_decode = msgspec.json.decode
_encode = msgspec.json.encode
_encode_model = msgspec.json.Encoder().encode


# -- usage ---------------------------------------------------------------------
#
# ``usage.prompt_tokens`` / ``completion_tokens`` (chat, completions, embeddings), the
# Responses API's ``usage.input_tokens`` / ``output_tokens`` (``response.usage`` in its
# stream's ``response.completed``), and the usage-only chunk ``stream_options.include_usage``
# adds at the end of a stream.


class _Usage(msgspec.Struct):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    input_tokens: int | None = None
    """Responses API."""
    output_tokens: int | None = None
    """Responses API."""
    cache_creation_input_tokens: int | None = None
    """Anthropic's cached prompt, counted apart from the rest: what OpenAI-compatible routers in front
    of Claude pass on. All of it was processed."""
    cache_read_input_tokens: int | None = None


class _Holder(msgspec.Struct):
    usage: _Usage | None = None


class _Payload(msgspec.Struct):
    usage: _Usage | None = None
    choices: list[msgspec.Raw] | None = None
    response: _Holder | None = None


_decode_payload = msgspec.json.Decoder(_Payload).decode


class OpenAIUsageReader(UsageReader):
    def _take(self, usage: _Usage) -> None:
        prompt = usage.prompt_tokens if usage.prompt_tokens is not None else usage.input_tokens
        if prompt is not None:
            self.input_tokens = (
                prompt + (usage.cache_creation_input_tokens or 0) + (usage.cache_read_input_tokens or 0)
            )
        completion = usage.completion_tokens if usage.completion_tokens is not None else usage.output_tokens
        if completion is not None:
            self.output_tokens = completion

    def _read(self, data: bytes) -> bool:
        """A usage-only chunk has no choices and the usage set: the chunk
        ``stream_options.include_usage`` adds."""
        try:
            payload = _decode_payload(data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return False
        usage_only = False
        if payload.usage is not None:
            self._take(payload.usage)  # the final usage
            self.complete = True
            usage_only = payload.choices is not None and not payload.choices
        if payload.response is not None and payload.response.usage is not None:
            self._take(payload.response.usage)  # Responses API: response.completed
            self.complete = True
        return usage_only


# -- /v1/models ----------------------------------------------------------------


class OpenAIModel(msgspec.Struct):
    id: str
    owned_by: str
    object: str = "model"
    created: int = 0


class OpenAIModelList(msgspec.Struct):
    data: list[OpenAIModel]
    object: str = "list"


# -- the adapter -----------------------------------------------------------------


class OpenAIAdapter:
    kind = "openai"
    provider_headers = ProviderHeaders(
        caller_account=frozenset({b"openai-organization", b"openai-project"}),
        upstream_account=frozenset({"openai-organization", "openai-project"}),
    )

    def url(self, base_url: str, path: str, query: bytes) -> str:
        # base_url ends in /v1, as the OpenAI SDK takes it; our paths start with /v1.
        return join_query(base_url.rstrip("/") + path[3:], query)

    def auth_headers(self, api_key: str | None) -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {api_key}")] if api_key else []

    def prepare(self, body: bytes, head: RequestHead, usage_chunk_option: bool) -> tuple[bytes, bool]:
        if not (head.stream and usage_chunk_option):
            return body, True
        if head.stream_options is not None and head.stream_options.include_usage:
            return body, True
        # Streams report usage only when asked: ask, and hide the extra chunk from a
        # client that did not.
        doc = _decode(body)
        options = doc.get("stream_options") or {}
        doc["stream_options"] = {**options, "include_usage": True}
        return _encode(doc), False

    def usage_reader(self) -> OpenAIUsageReader:
        return OpenAIUsageReader()

    def speaks(self, headers: Mapping[bytes, bytes]) -> bool:
        # The OpenAI SDK sends no header of its own: its dialect is the default, not recognised.
        return False

    def models_body(self, models: Sequence[tuple[str, str]]) -> bytes:
        return _encode_model(OpenAIModelList([OpenAIModel(m, upstream) for m, upstream in models]))

    def model_body(self, model: str, upstream: str) -> bytes:
        return _encode_model(OpenAIModel(model, upstream))
