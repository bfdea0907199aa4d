"""The data plane: the request pipeline and the adapters for each upstream kind."""

from .handler import ProxyApp
from .upstreams import Upstream, UpstreamRegistry

__all__ = ["ProxyApp", "Upstream", "UpstreamRegistry"]
