"""``/v1/models``: answered from configuration, in the caller's protocol."""

from __future__ import annotations

import msgspec

from ..errors import NotFound
from .upstreams import UpstreamRegistry

_encode = msgspec.json.Encoder().encode
_EPOCH_ISO = "1970-01-01T00:00:00Z"


class OpenAIModel(msgspec.Struct):
    id: str
    owned_by: str
    object: str = "model"
    created: int = 0


class OpenAIModelList(msgspec.Struct):
    data: list[OpenAIModel]
    object: str = "list"


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


def model_list(registry: UpstreamRegistry, model: str | None, anthropic: bool) -> bytes:
    """The list (or one model). The Anthropic SDK sends ``anthropic-version``; OpenAI's does not."""
    items = sorted(registry.by_model.items())
    if model is not None:
        items = [(m, up) for m, up in items if m == model]
        if not items:
            raise NotFound(f"the model {model!r} does not exist", code="model_not_found")
    if anthropic:
        amodels = [AnthropicModel(m, m) for m, _ in items]
        if model is not None:
            return _encode(amodels[0])
        first, last = (amodels[0].id, amodels[-1].id) if amodels else (None, None)
        return _encode(AnthropicModelList(amodels, False, first, last))
    omodels = [OpenAIModel(m, up.name) for m, up in items]
    return _encode(omodels[0] if model is not None else OpenAIModelList(omodels))
