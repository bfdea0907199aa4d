"""What every model-API adapter provides."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, NamedTuple, Protocol

import msgspec

from ...bodies import decode_json
from ...errors import BadRequest
from .usage import UsageReader


class StreamOptions(msgspec.Struct):
    include_usage: bool | None = None


class RequestHead(msgspec.Struct):
    """The few fields of a request body the gateway needs; the rest passes through untouched."""

    model: str | None = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    # The most the model may generate, under each API's name for it: the quota reservation.
    max_tokens: Annotated[int, msgspec.Meta(ge=0)] | None = None
    """Chat and legacy completions, Anthropic messages."""
    max_completion_tokens: Annotated[int, msgspec.Meta(ge=0)] | None = None
    """OpenAI chat, newer name (reasoning models)."""
    max_output_tokens: Annotated[int, msgspec.Meta(ge=0)] | None = None
    """OpenAI Responses API."""
    n: Annotated[int, msgspec.Meta(ge=1, le=128)] | None = None
    """Choices per request: each may generate up to the maximum."""
    # Extraction-friendly parameters, limited per tier and KYC level (policy ``[parameters.*]``).
    logprobs: bool | int | None = None
    """Chat and Responses: ``true``; legacy completions: how many alternatives per token."""
    top_logprobs: int | None = None
    logit_bias: msgspec.Raw = msgspec.Raw()
    """Left undecoded (no cost): only whether it biases anything matters. Empty when absent
    (msgspec takes ``Raw`` alone, not ``Raw | None``)."""

    def asks_logprobs(self) -> bool:
        return self.logprobs is True or type(self.logprobs) is int or bool(self.top_logprobs)

    def alternatives(self) -> int | None:
        """Log-probability alternatives per token: ``top_logprobs``, or legacy ``logprobs: N``."""
        if self.top_logprobs is not None:
            return self.top_logprobs
        return self.logprobs if type(self.logprobs) is int else None

    def biases_logits(self) -> bool:
        """``logit_bias`` is set to something other than null or an empty object."""
        return len(self.logit_bias) > 0 and bool(msgspec.json.decode(self.logit_bias))

    def output_cap(self) -> int | None:
        """The most output tokens the request allows, or None when it names no maximum."""
        for cap in (self.max_completion_tokens, self.max_tokens, self.max_output_tokens):
            if cap is not None:
                return cap * (self.n or 1)
        return None


_decode_head = msgspec.json.Decoder(RequestHead).decode


def _not_a_request(exc: msgspec.ValidationError) -> BadRequest:
    return BadRequest(f"the request body is not a valid request: {exc}", code="invalid_request")


def decode_head(body: bytes) -> RequestHead:
    """The head of a body about to be forwarded: the whole body must be UTF-8 JSON, not just the head."""
    return decode_json(body, _decode_head, _not_a_request)


class ProviderHeaders(NamedTuple):
    """A provider's own header names that must not cross the gateway (see ``proxy/headers.py``).

    The generic rules (hop-by-hop, credentials, cookies, ``x-request-id``, ``x-ratelimit-*``)
    live in ``proxy/headers.py``; these are the names only one provider uses.
    """

    caller_account: frozenset[bytes] = frozenset()
    """Request headers naming the caller's own account with the provider: upstream, the account
    is the gateway's."""
    upstream_account: frozenset[str] = frozenset()
    """Response headers naming the upstream's account or session."""
    rate_limit_prefixes: tuple[str, ...] = ()
    """Response header prefixes of the upstream's own rate limits (not the caller's)."""
    request_id: frozenset[str] = frozenset()
    """Response headers carrying the upstream's id for the request: passed on as
    ``x-upstream-request-id``, never under their own name."""


class Adapter(Protocol):
    kind: str
    provider_headers: ProviderHeaders

    def url(self, base_url: str, path: str, query: bytes) -> str:
        """The upstream URL for a gateway path (``/v1/...``)."""

    def auth_headers(self, api_key: str | None) -> list[tuple[str, str]]:
        """Headers carrying the upstream's own credential."""

    def prepare(self, body: bytes, head: RequestHead, usage_chunk_option: bool) -> tuple[bytes, bool]:
        """The body to send, and whether the client wants the usage-only stream chunk."""

    def usage_reader(self) -> UsageReader:
        """A fresh reader of this format's usage, for one request."""

    def speaks(self, headers: Mapping[bytes, bytes]) -> bool:
        """Whether a request's headers are in this API's dialect (its SDK sent them)."""

    def models_body(self, models: Sequence[tuple[str, str]]) -> bytes:
        """The ``/v1/models`` body: ``(model id, upstream name)`` pairs, in order."""

    def model_body(self, model: str, upstream: str) -> bytes:
        """The ``/v1/models/{model}`` body for one model and the upstream that serves it."""


def join_query(url: str, query: bytes) -> str:
    return f"{url}?{query.decode('latin-1')}" if query else url
