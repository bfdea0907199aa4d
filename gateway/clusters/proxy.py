"""``/clusters/<name>/...``: GPU cluster job APIs behind the gateway's identity, KYC, policy and quotas.

A customer calls its cluster's own API (slurmrestd paths, kubectl's batch/v1 paths) with its gateway
key. The gateway knows who asks and checks that the customer is verified (the data plane's own front
stages); the cluster's adapter serves the rest: it reads a submission into a workload, has it bounded,
placed, reserved and recorded (:mod:`.admission`), and only then submits it under the cluster's own
credential and user: the customer's key never reaches the cluster. Reads and cancellations are
limited to the customer's own jobs; job lists are filtered. Every call is a usage event.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import structlog

from ..errors import GatewayError, NotFound, error_body
from ..ledger.events import UsageEvent
from ..proxy.context import RequestContext
from ..proxy.stages import ClientDisconnected, read_body
from .adapter import ClusterCall
from .cluster import Cluster

if TYPE_CHECKING:
    from ..ledger.writer import LedgerWriter
    from ..proxy.stages import Stage
    from .admission import JobAdmission

_log = structlog.get_logger("gateway.clusters")
_JSON = b"application/json"
_UTC = dt.UTC


class ClusterProxy:
    def __init__(
        self,
        clusters: Sequence[Cluster],
        stages: Sequence[Stage],
        jobs: JobAdmission,
        ledger: LedgerWriter,
        *,
        max_body_bytes: int,
        refused_unattributed: Callable[[str], None] | None = None,
    ) -> None:
        self.clusters = {c.name: c for c in clusters}
        self.stages = tuple(stages)
        self.jobs = jobs
        self.ledger = ledger
        self.max_body_bytes = max_body_bytes
        self._unattributed = refused_unattributed

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        ctx = RequestContext(scope, receive)
        route = "/clusters"
        cluster: Cluster | None = None
        try:
            _, _, name, rest = (scope["path"] + "/").split("/", 3)
            cluster = self.clusters.get(name)
            if cluster is None:
                raise NotFound(f"no cluster {name!r}", code="cluster_not_found")
            route = f"/clusters/{name}"
            for stage in self.stages:
                await stage(ctx)
            body = await read_body(ctx, self.max_body_bytes)
            call = ClusterCall(ctx, cluster, self.jobs, scope["method"], "/" + rest.rstrip("/"), body)
            status, out, route = await cluster.adapter.serve(call)
            await self._respond(ctx, send, status, out)
        except GatewayError as err:
            ctx.error_code = err.code
            shaped = cluster.adapter.error_body if cluster is not None else error_body
            await self._respond(ctx, send, err.status, shaped(err, ctx.request_id))
        except ClientDisconnected:
            ctx.status, ctx.error_code = 499, "client_disconnected"
        except Exception:
            _log.exception("cluster_proxy_error", request_id=ctx.request_id)
            ctx.error_code = "internal_error"
            await self._respond(ctx, send, 500, error_body(GatewayError("internal error"), ctx.request_id))
        finally:
            self._record(ctx, route, cluster)

    async def _respond(self, ctx: RequestContext, send: Any, status: int, body: bytes) -> None:
        ctx.status = status
        ctx.response_started = True
        ctx.bytes_out = len(body)
        headers = [
            (b"content-type", _JSON),
            (b"content-length", str(len(body)).encode()),
            (b"x-request-id", ctx.request_id.encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    def _record(self, ctx: RequestContext, route: str, cluster: Cluster | None) -> None:
        principal = ctx.principal
        if principal is None:
            # No key, or none that is one, or no such cluster: nobody to record it under.
            if ctx.error_code is not None and self._unattributed is not None:
                self._unattributed(ctx.error_code)
            return
        with contextlib.suppress(Exception):
            self.ledger.record(
                UsageEvent(
                    request_id=ctx.request_uuid,
                    occurred_at=dt.datetime.fromtimestamp(ctx.occurred_at, _UTC),
                    customer_id=principal.customer_id,
                    project_id=principal.project_id,
                    key_id=principal.key_id,
                    upstream=cluster.name if cluster is not None else None,
                    route=route,
                    model=None,
                    stream=False,
                    status=ctx.status,
                    error_code=ctx.error_code,
                    prompt_tokens=None,
                    completion_tokens=None,
                    usage_complete=True,
                    duration_ms=(time.perf_counter() - ctx.started) * 1000.0,
                    bytes_in=ctx.bytes_in,
                    bytes_out=ctx.bytes_out,
                    client_ip=ctx.client_ip,
                    origin_country=ctx.origin_country,
                    policy_hash=ctx.policy_hash,
                )
            )
