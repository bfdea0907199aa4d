"""Slurm REST (slurmrestd) behind the gateway: the :class:`~gateway.clusters.adapter.ClusterAdapter`
for ``kind = "slurm"``."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from ...errors import GatewayError, NotFound, error_body
from ...settings import ClusterSettings, SettingsError
from ..adapter import Claimed, ClusterCall, Found, Observation
from ..repository import OpenWorkload, Submitting
from ..workload import Workload
from . import follow, routes
from .submit import parse_submit
from .tokens import SlurmTokens

if TYPE_CHECKING:
    from ..cluster import Cluster


class SlurmAdapter:
    kind = "slurm"

    def __init__(self, settings: ClusterSettings, environ: Mapping[str, str]) -> None:
        self.settings = settings
        self._token = settings.token(environ)
        self._tokens: SlurmTokens | None = None
        if settings.jwt_key_file is not None:
            try:
                self._tokens = SlurmTokens.from_file(settings.jwt_key_file)
            except ValueError as exc:
                raise SettingsError(
                    f"invalid setting clusters[{settings.name}].jwt_key_file: {exc}"
                ) from None

    def auth_headers(self, user: str | None) -> list[tuple[str, str]]:
        """A token minted for ``user`` (a customer's cluster identity), or for the gateway's own user."""
        name = user or self.settings.user
        headers = [("X-SLURM-USER-NAME", name)]
        token = self._tokens.token(name) if self._tokens is not None else self._token
        if token:
            headers.append(("X-SLURM-USER-TOKEN", token))
        return headers

    def read_job(self, path: str, body: bytes) -> Workload:
        version = routes.submit_version(path)
        if version is None:
            raise NotFound(f"{path} is not a Slurm job submission", code="route_not_found")
        return parse_submit(version, body, node_gpus=self.settings.node_gpus)

    async def serve(self, call: ClusterCall) -> tuple[int, bytes, str]:
        return await routes.serve(call, self.settings.node_gpus)

    def error_body(self, err: GatewayError, request_id: str) -> bytes:
        return error_body(err, request_id)

    async def observe(
        self, cluster: Cluster, rows: Sequence[OpenWorkload], now: int
    ) -> list[tuple[OpenWorkload, Observation]]:
        return await follow.observe(cluster, rows, now)

    async def find_lost(
        self, cluster: Cluster, rows: Sequence[Submitting], *, window_seconds: float, claimed: Claimed
    ) -> dict[uuid.UUID, Found] | None:
        return await follow.find_lost(cluster, rows, window_seconds=window_seconds, claimed=claimed)
