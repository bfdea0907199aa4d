"""OpenAI-compatible upstreams (OpenAI, vLLM, SGLang, llama.cpp, TGI ...)."""

from __future__ import annotations

import msgspec

from .base import RequestHead, join_query

_decode = msgspec.json.decode
_encode = msgspec.json.encode


class OpenAIAdapter:
    kind = "openai"

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
