"""The model-API routes the gateway serves, and which protocol each speaks."""

from __future__ import annotations

from typing import Literal, NamedTuple

Protocol = Literal["openai", "anthropic", "any"]


class Route(NamedTuple):
    name: str
    """The ledger's ``route``: the path pattern, e.g. ``/v1/chat/completions``."""
    method: str
    protocol: Protocol
    forwards: bool
    """False for routes the gateway answers itself (the model list)."""
    usage_chunk_option: bool = False
    """OpenAI streaming usage comes only with ``stream_options.include_usage``."""
    reads_tokens: bool = True
    """The model processes the prompt: input tokens are reserved (not for ``count_tokens``)."""
    writes_tokens: bool = True
    """The model generates: output tokens are reserved (not for embeddings)."""


ROUTES: dict[str, Route] = {
    r.name: r
    for r in (
        Route("/v1/chat/completions", "POST", "openai", True, usage_chunk_option=True),
        Route("/v1/completions", "POST", "openai", True, usage_chunk_option=True),
        Route("/v1/embeddings", "POST", "openai", True, writes_tokens=False),
        Route("/v1/responses", "POST", "openai", True),
        Route("/v1/messages", "POST", "anthropic", True),
        Route(
            "/v1/messages/count_tokens", "POST", "anthropic", True, reads_tokens=False, writes_tokens=False
        ),
        Route("/v1/models", "GET", "any", False),
    )
}

MODEL_ROUTE = Route("/v1/models/{model}", "GET", "any", False)


def match(path: str) -> tuple[Route, str | None] | None:
    """The route for a path, and the model id for ``/v1/models/{model}``."""
    route = ROUTES.get(path)
    if route is not None:
        return route, None
    if path.startswith("/v1/models/") and len(path) > len("/v1/models/"):
        return MODEL_ROUTE, path[len("/v1/models/") :]
    return None
