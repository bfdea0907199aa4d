"""Kubernetes ``batch/v1`` Jobs behind the gateway: the :class:`~gateway.clusters.adapter.ClusterAdapter`
for ``kind = "kubernetes"``."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from ...errors import GatewayError, NotFound
from ...settings import ClusterSettings
from ..adapter import Claimed, ClusterCall, Found, Observation
from ..repository import OpenWorkload, Submitting
from ..workload import Workload
from . import follow, routes
from .jobs import parse_job
from .status import status_body

if TYPE_CHECKING:
    from ..cluster import Cluster

_JOBS = re.compile(r"^/apis/batch/v1/namespaces/(?P<ns>[^/]+)/jobs$")


class KubernetesAdapter:
    kind = "kubernetes"

    def __init__(self, settings: ClusterSettings, environ: Mapping[str, str]) -> None:
        self.settings = settings
        self._token = settings.token(environ)

    def auth_headers(self, user: str | None) -> list[tuple[str, str]]:
        """The gateway's own service-account token: Jobs are created in the customer's namespace."""
        return [("Authorization", f"Bearer {self._token}")] if self._token else []

    def read_job(self, path: str, body: bytes) -> Workload:
        m = _JOBS.match(path)
        if m is None:
            raise NotFound(f"{path} is not a Kubernetes job collection", code="route_not_found")
        return parse_job(body, m["ns"], self.settings.pod_security)

    async def serve(self, call: ClusterCall) -> tuple[int, bytes, str]:
        return await routes.serve(call)

    def error_body(self, err: GatewayError, request_id: str) -> bytes:
        return status_body(err, request_id)  # kubectl reads Status objects only

    async def observe(
        self, cluster: Cluster, rows: Sequence[OpenWorkload], now: int
    ) -> list[tuple[OpenWorkload, Observation]]:
        return await follow.observe(cluster, rows, now)

    async def find_lost(
        self, cluster: Cluster, rows: Sequence[Submitting], *, window_seconds: float, claimed: Claimed
    ) -> dict[uuid.UUID, Found] | None:
        return await follow.find_lost(cluster, rows, window_seconds=window_seconds, claimed=claimed)
