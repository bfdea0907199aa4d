"""One adapter per upstream kind: where a path goes, how to authenticate, how to shape a request,
and everything else that knows the provider's wire format (usage, model lists, header names)."""

from collections.abc import Mapping

from .anthropic import AnthropicAdapter
from .base import Adapter, ProviderHeaders, RequestHead, decode_head
from .openai import OpenAIAdapter
from .usage import TokenUsage, UsageReader

ADAPTERS: dict[str, Adapter] = {"openai": OpenAIAdapter(), "anthropic": AnthropicAdapter()}
_DEFAULT_DIALECT = ADAPTERS["openai"]


def dialect(headers: Mapping[bytes, bytes]) -> Adapter:
    """The adapter whose API a request speaks, from its headers: the first that recognises them,
    else OpenAI's. For what the gateway answers itself (the model list), in the caller's protocol."""
    for adapter in ADAPTERS.values():
        if adapter.speaks(headers):
            return adapter
    return _DEFAULT_DIALECT


__all__ = [
    "ADAPTERS",
    "Adapter",
    "AnthropicAdapter",
    "OpenAIAdapter",
    "ProviderHeaders",
    "RequestHead",
    "TokenUsage",
    "UsageReader",
    "decode_head",
    "dialect",
]
