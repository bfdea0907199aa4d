"""One configured cluster: its settings, its HTTP client and its adapter."""

from __future__ import annotations

import datetime as dt

from pyreqwest.client import Client, ClientBuilder
from pyreqwest.exceptions import ConnectError, ConnectTimeoutError, PyreqwestError, RequestTimeoutError

from ..errors import UpstreamTimeout, UpstreamUnavailable
from ..settings import ClusterSettings
from .adapter import ClusterAdapter


class Cluster:
    def __init__(self, settings: ClusterSettings, adapter: ClusterAdapter) -> None:
        self.settings = settings
        self.name = settings.name
        self.kind = settings.kind
        self.region = settings.region
        self.adapter = adapter
        self.client: Client = (
            ClientBuilder()
            .connect_timeout(dt.timedelta(seconds=settings.connect_timeout))
            .read_timeout(dt.timedelta(seconds=settings.read_timeout))
            .follow_redirects(False)
            .build()
        )

    def auth_headers(self, user: str | None = None) -> list[tuple[str, str]]:
        return self.adapter.auth_headers(user)

    async def call(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        query: bytes = b"",
        accept: str = "application/json",
        *,
        user: str | None = None,
    ) -> tuple[int, bytes]:
        """One call to the cluster's API, as ``user`` (default: the gateway's own): ``(status, body)``;
        502/504 if unreachable."""
        url = self.settings.base_url.rstrip("/") + path + (f"?{query.decode('latin-1')}" if query else "")
        headers = [*self.adapter.auth_headers(user), ("accept", accept)]
        if body:
            headers.append(("content-type", "application/json"))
        try:
            response = await self.client.request(method, url).headers(headers).body_bytes(body).build().send()
            return response.status, bytes(await response.bytes())
        except (ConnectTimeoutError, RequestTimeoutError):
            raise UpstreamTimeout(f"the cluster {self.name!r} did not answer in time") from None
        except ConnectError:
            raise UpstreamUnavailable(
                f"the cluster {self.name!r} refused the connection", code="cluster_unavailable"
            ) from None
        except PyreqwestError as exc:
            raise UpstreamUnavailable(
                f"the cluster {self.name!r} failed: {type(exc).__name__}", code="cluster_unavailable"
            ) from None

    async def close(self) -> None:
        await self.client.close()
