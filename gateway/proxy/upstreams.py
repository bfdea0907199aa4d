"""The configured upstreams, their HTTP clients, and the model → upstream map."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping

from pyreqwest.client import Client, ClientBuilder

from ..settings import UpstreamSettings
from .adapters import ADAPTERS, Adapter


class Upstream:
    __slots__ = ("adapter", "auth_headers", "client", "kind", "name", "region", "settings")

    def __init__(self, settings: UpstreamSettings, environ: Mapping[str, str]) -> None:
        self.settings = settings
        self.name = settings.name
        self.kind = settings.kind
        self.region = settings.region
        self.adapter: Adapter = ADAPTERS[settings.kind]
        self.auth_headers = self.adapter.auth_headers(settings.api_key(environ))
        self.client: Client = (
            ClientBuilder()
            .connect_timeout(dt.timedelta(seconds=settings.connect_timeout))
            .read_timeout(dt.timedelta(seconds=settings.read_timeout))
            .pool_idle_timeout(dt.timedelta(seconds=60))
            .follow_redirects(False)  # a proxy returns redirects; it does not replay POSTs
            .referer(False)
            .gzip(False)
            .brotli(False)
            .zstd(False)
            .deflate(False)
            .build()
        )

    def url(self, path: str, query: bytes) -> str:
        return self.adapter.url(self.settings.base_url, path, query)


class UpstreamRegistry:
    def __init__(self, upstreams: list[UpstreamSettings], environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        self.upstreams = [Upstream(u, environ) for u in upstreams]
        self.by_model: dict[str, Upstream] = {m: up for up in self.upstreams for m in up.settings.models}

    async def close(self) -> None:
        for up in self.upstreams:
            await up.client.close()
