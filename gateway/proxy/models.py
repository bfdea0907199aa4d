"""``/v1/models``: answered from configuration, in the caller's protocol (its adapter renders it)."""

from __future__ import annotations

from ..errors import NotFound
from .adapters import Adapter
from .upstreams import UpstreamRegistry


def model_list(registry: UpstreamRegistry, model: str | None, dialect: Adapter) -> bytes:
    """The list (or one model), in the dialect of the caller's SDK."""
    if model is None:
        return dialect.models_body([(m, up.name) for m, up in sorted(registry.by_model.items())])
    upstream = registry.by_model.get(model)
    if upstream is None:
        raise NotFound(f"the model {model!r} does not exist", code="model_not_found")
    return dialect.model_body(model, upstream.name)
