"""One adapter per upstream kind: where a path goes, how to authenticate, how to shape a request."""

from .anthropic import AnthropicAdapter
from .base import Adapter, RequestHead, decode_head
from .openai import OpenAIAdapter

ADAPTERS: dict[str, Adapter] = {"openai": OpenAIAdapter(), "anthropic": AnthropicAdapter()}

__all__ = ["ADAPTERS", "Adapter", "AnthropicAdapter", "OpenAIAdapter", "RequestHead", "decode_head"]
