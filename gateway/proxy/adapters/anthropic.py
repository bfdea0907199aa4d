"""Anthropic-compatible upstreams (the Messages API)."""

from __future__ import annotations

from .base import RequestHead, join_query


class AnthropicAdapter:
    kind = "anthropic"

    def url(self, base_url: str, path: str, query: bytes) -> str:
        # The Anthropic SDK's base_url is the bare origin; it adds /v1 itself.
        return join_query(base_url.rstrip("/") + path, query)

    def auth_headers(self, api_key: str | None) -> list[tuple[str, str]]:
        return [("x-api-key", api_key)] if api_key else []

    def prepare(self, body: bytes, head: RequestHead, usage_chunk_option: bool) -> tuple[bytes, bool]:
        # message_start and message_delta always carry usage.
        return body, True
