"""The configured upstreams, their connection pools, and the model → upstream map."""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from ..settings import UpstreamSettings
from .adapters import ADAPTERS, Adapter
from .egress import proxy_for
from .http1 import Http1Pool


class Upstream:
    __slots__ = ("_origin", "adapter", "auth_headers", "kind", "name", "pool", "region", "settings")

    def __init__(self, settings: UpstreamSettings, environ: Mapping[str, str]) -> None:
        self.settings = settings
        self.name = settings.name
        self.kind = settings.kind
        self.region = settings.region
        self.adapter: Adapter = ADAPTERS[settings.kind]
        self.auth_headers = [
            (k.lower().encode("latin-1"), v.encode("latin-1"))
            for k, v in self.adapter.auth_headers(settings.api_key(environ))
        ]
        if any(c in v for _, v in self.auth_headers for c in (b"\r", b"\n", b"\0")):
            # Written into the request head as is: a line break would start a header of its own.
            raise ValueError(
                f"the key of upstream {settings.name!r} ({settings.api_key_env}) holds a line break"
            )
        parts = urlsplit(settings.base_url)
        self._origin = len(f"{parts.scheme}://{parts.netloc}")
        self.pool = Http1Pool(
            settings.base_url,
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            idle_timeout=60.0,
            proxy=proxy_for(settings.base_url, environ),
        )

    def url(self, path: str, query: bytes) -> str:
        return self.adapter.url(self.settings.base_url, path, query)

    def target(self, path: str, query: bytes) -> bytes:
        """The request target (path and query) on the upstream for a gateway path (``/v1/...``)."""
        return self.url(path, query)[self._origin :].encode()


class UpstreamRegistry:
    def __init__(self, upstreams: list[UpstreamSettings], environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        self.upstreams = [Upstream(u, environ) for u in upstreams]
        self.by_model: dict[str, Upstream] = {m: up for up in self.upstreams for m in up.settings.models}

    async def close(self) -> None:
        for up in self.upstreams:
            await up.pool.close()
