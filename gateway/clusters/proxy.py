"""``/clusters/<name>/...``: GPU cluster job APIs behind the gateway's identity, KYC, policy and quotas.

A customer calls its cluster's own API (slurmrestd paths) with its gateway key. The gateway
knows who asks, checks that the customer is verified and may run jobs in the cluster's country,
reads the job into a workload and bounds what it can compute, reserves that bound against the
customer's GPU-second and FLOP budgets, records the workload, and only then submits it, under
the cluster's own credential and user: the customer's key never reaches the cluster. Reads and
cancellations are limited to the customer's own jobs; job lists are filtered.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import asyncpg
import msgspec
import structlog
from pyreqwest.client import Client, ClientBuilder
from pyreqwest.exceptions import ConnectError, ConnectTimeoutError, PyreqwestError, RequestTimeoutError

from ..errors import (
    BadRequest,
    Forbidden,
    GatewayError,
    NotFound,
    UnprocessableEntity,
    UpstreamTimeout,
    UpstreamUnavailable,
    error_body,
)
from ..ledger import UsageEvent
from ..policy.decide import RequestFacts
from ..proxy.context import RequestContext
from ..proxy.stages import ClientDisconnected, read_body
from ..quota.model import Usage
from ..settings import SettingsError
from . import identities, repository, slurm
from .repository import Reservation
from .slurm import confine
from .slurm.tokens import SlurmTokens
from .workload import Workload

if TYPE_CHECKING:
    from ..kyc.standing import StandingCache
    from ..ledger import LedgerWriter
    from ..policy.model import Policy
    from ..proxy.stages import Stage
    from ..quota.meter import QuotaMeter
    from ..settings import ClusterSettings

_log = structlog.get_logger("gateway.clusters")
_JSON = b"application/json"
_UTC = dt.UTC
BIO_HEADER = b"x-training-data"
"""A job that declares ``x-training-data: biological-sequences`` counts toward the biology threshold."""

_SIGNALS = frozenset(
    ("name", "array_tasks", "dependency", "working_directory", "comment", "partition", "nodes", "tasks",
     "gpus_per_node", "gpu_type", "namespace")
)  # fmt: skip
"""What a job says of itself that helps find a run split over many jobs."""

_PING = re.compile(r"^/slurm/(v0\.0\.\d+)/ping$")
_SUBMIT = re.compile(r"^/slurm/(v0\.0\.\d+)/job/submit$")
_JOB = re.compile(r"^/slurm/(v0\.0\.\d+)/job/(\d+)$")
_JOBS = re.compile(r"^/slurm/(v0\.0\.\d+)/jobs$")


class Cluster:
    """One configured cluster: its settings, its HTTP client and its own credential."""

    def __init__(self, settings: ClusterSettings, environ: Mapping[str, str]) -> None:
        self.settings = settings
        self.name = settings.name
        self.kind = settings.kind
        self.region = settings.region
        self._token = settings.token(environ)
        self._tokens: SlurmTokens | None = None
        if settings.kind == "slurm" and settings.jwt_key_file is not None:
            try:
                self._tokens = SlurmTokens.from_file(settings.jwt_key_file)
            except ValueError as exc:
                raise SettingsError(
                    f"invalid setting clusters[{settings.name}].jwt_key_file: {exc}"
                ) from None
        self.client: Client = (
            ClientBuilder()
            .connect_timeout(dt.timedelta(seconds=settings.connect_timeout))
            .read_timeout(dt.timedelta(seconds=settings.read_timeout))
            .follow_redirects(False)
            .build()
        )

    def auth_headers(self, user: str | None = None) -> list[tuple[str, str]]:
        """The cluster's credential: for Slurm, a token minted for ``user`` (a customer's cluster
        identity), or for the gateway's own user when None."""
        if self.kind == "slurm":
            name = user or self.settings.user
            headers = [("X-SLURM-USER-NAME", name)]
            token = self._tokens.token(name) if self._tokens is not None else self._token
            if token:
                headers.append(("X-SLURM-USER-TOKEN", token))
            return headers
        return [("Authorization", f"Bearer {self._token}")] if self._token else []

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
        headers = [*self.auth_headers(user), ("accept", accept)]
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


def _cluster_error(status: int, body: bytes, what: str) -> GatewayError:
    """The cluster said no: its own words, under one of ours."""
    errors = slurm.slurm_errors(body)
    detail = (
        "; ".join(
            f"{e.get('error') or e.get('description') or 'error'} ({e.get('error_number', '?')})"
            for e in errors
        )
        or body[:200].decode("utf-8", "replace").strip()
        or f"HTTP {status}"
    )
    if what == "submit":
        return UnprocessableEntity(f"the cluster refused the job: {detail}", code="job_refused")
    return UpstreamUnavailable(f"the cluster could not {what}: {detail}", code="cluster_error")


class ClusterProxy:
    def __init__(
        self,
        clusters: Sequence[Cluster],
        stages: Sequence[Stage],
        *,
        pool: asyncpg.Pool,
        standings: StandingCache,
        policy: Callable[[], Policy],
        meter: QuotaMeter | None,
        ledger: LedgerWriter,
        max_body_bytes: int,
        refused_unattributed: Callable[[str], None] | None = None,
    ) -> None:
        self.clusters = {c.name: c for c in clusters}
        self.stages = tuple(stages)
        self.pool = pool
        self.standings = standings
        self.policy = policy
        self.meter = meter
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
            path = "/" + rest.rstrip("/")
            if cluster.kind == "slurm":
                status, out, route = await self._slurm(ctx, cluster, scope["method"], path, body)
            else:
                from .kubernetes_routes import handle_kubernetes

                status, out, route = await handle_kubernetes(self, ctx, cluster, scope["method"], path, body)
            await self._respond(ctx, send, status, out)
        except GatewayError as err:
            ctx.error_code = err.code
            if cluster is not None and cluster.kind == "kubernetes":
                from .kubernetes_routes import status_body  # kubectl reads Status objects only

                await self._respond(ctx, send, err.status, status_body(err, ctx.request_id))
            else:
                await self._respond(ctx, send, err.status, error_body(err, ctx.request_id))
        except ClientDisconnected:
            ctx.status, ctx.error_code = 499, "client_disconnected"
        except Exception:
            _log.exception("cluster_proxy_error", request_id=ctx.request_id)
            ctx.error_code = "internal_error"
            await self._respond(ctx, send, 500, error_body(GatewayError("internal error"), ctx.request_id))
        finally:
            self._record(ctx, route, cluster)

    # -- Slurm ------------------------------------------------------------------------

    async def _slurm(
        self, ctx: RequestContext, cluster: Cluster, method: str, path: str, body: bytes
    ) -> tuple[int, bytes, str]:
        assert ctx.principal is not None
        customer = ctx.principal.customer_id
        base = f"/clusters/{cluster.name}/slurm"
        if (m := _PING.match(path)) and method == "GET":
            status, out = await cluster.call("GET", path)
            return status, out, f"{base}/{{v}}/ping"
        if (m := _SUBMIT.match(path)) and method == "POST":
            status, out = await self._submit(ctx, cluster, m.group(1), path, body)
            return status, out, f"{base}/{{v}}/job/submit"
        if (m := _JOBS.match(path)) and method == "GET":
            _version(m.group(1))
            status, out = await cluster.call("GET", path, query=ctx.query)
            if status != 200:
                raise _cluster_error(status, out, "list jobs")
            async with self.pool.acquire() as conn:
                mine = await repository.owned_job_ids(conn, cluster.name, customer)
            return 200, slurm.filter_jobs(out, {int(j) for j in mine}), f"{base}/{{v}}/jobs"
        if (m := _JOB.match(path)) and method in ("GET", "DELETE"):
            _version(m.group(1))
            job_id = m.group(2)
            async with self.pool.acquire() as conn:
                owned, user = await repository.job_user(conn, cluster.name, customer, job_id)
            if not owned:
                # Another customer's job and a job that does not exist look the same.
                raise NotFound(f"no job {job_id} of yours on {cluster.name!r}", code="job_not_found")
            # As the job's own user: Slurm lets only the owner (or an operator) cancel it.
            status, out = await cluster.call(method, path, query=ctx.query, user=user)
            if status != 200:
                raise _cluster_error(status, out, "cancel the job" if method == "DELETE" else "read the job")
            return status, out, f"{base}/{{v}}/job/{{id}}"
        raise NotFound(f"{method} {path} is not a cluster API the gateway serves", code="route_not_found")

    async def _submit(
        self, ctx: RequestContext, cluster: Cluster, version: str, path: str, body: bytes
    ) -> tuple[int, bytes]:
        assert ctx.principal is not None
        customer = ctx.principal.customer_id
        settings = cluster.settings
        workload = slurm.parse_submit(_version(version), body, node_gpus=settings.node_gpus)
        async with self.pool.acquire() as conn:
            identity = await identities.get(conn, cluster.name, customer)
            if identity is None:
                raise Forbidden(
                    f"you have no identity on the cluster {cluster.name!r} yet: the provider maps "
                    "each customer to a cluster user of its own before its jobs can run",
                    code="cluster_identity_missing",
                )
            wanted = confine.dependency_job_ids("job.dependency", workload.dependency)
            if wanted:
                mine = await repository.owned_among(conn, cluster.name, customer, wanted)
                if foreign := [job for job in wanted if job not in mine]:
                    raise Forbidden(
                        f"job.dependency: job {foreign[0]} is not one of yours on {cluster.name!r}",
                        code="dependency_not_allowed",
                    )
        confined = confine.confine_submission(
            version,
            body,
            user=identity.user,
            home=identity.home,
            account=identity.account or settings.account,
            qos=identity.qos or settings.qos,
            partitions=settings.partitions,
        )
        workload = msgspec.structs.replace(workload, working_directory=confined.working_directory)

        async def forward(workload_id: uuid.UUID) -> tuple[int, bytes, str]:
            # Nothing of ours can ride along on a Slurm job: a lost submission is found by what
            # the job says of itself (clusters.reconcile).
            status, out = await cluster.call("POST", path, confined.body, user=identity.user)
            job_id = slurm.submit_reply_job_id(out) if status == 200 else None
            if job_id is None:
                raise _cluster_error(status, out, "submit")
            return status, out, str(job_id)

        return await self.submit_job(ctx, cluster, workload, version, forward, cluster_user=identity.user)

    async def submit_job(
        self,
        ctx: RequestContext,
        cluster: Cluster,
        workload: Workload,
        version: str,
        forward: Callable[[uuid.UUID], Awaitable[tuple[int, bytes, str]]],
        *,
        cluster_user: str | None = None,
    ) -> tuple[int, bytes]:
        """Bound, place, reserve and record a job, then ``forward`` it (given the workload's id, the
        mark a Kubernetes Job carries): ``(status, body, job id)``.

        Shared by every cluster kind. The workload row exists before the cluster sees the job;
        if ``forward`` fails, the row is marked rejected and the reservation released.
        """
        from ..compute.flop import job_compute

        assert ctx.principal is not None
        principal = ctx.principal
        policy = self.policy()
        try:
            compute = job_compute(
                workload.gpus,
                workload.time_limit_seconds,
                workload.gpu_type,
                policy,
                default_accelerator=cluster.settings.default_accelerator,
            )
        except ValueError as exc:
            raise BadRequest(str(exc), code="unknown_accelerator") from None
        self._place(ctx, cluster, workload.gpus)
        bio = ctx.headers.get(BIO_HEADER, b"").strip().lower() == b"biological-sequences"
        gpu_price = policy.prices.gpus.get(compute.accelerator)
        per_gpu_hour = None if gpu_price is None else gpu_price.per_gpu_hour
        if self.meter is not None:
            standing = self.standings.standing(principal.customer_id)
            (await self.meter.admit(principal, standing, Usage(requests=1))).settle(Usage(requests=1))
            spend = math.nan if per_gpu_hour is None else compute.gpu_seconds_bound * per_gpu_hour / 3600.0
            held = await self.meter.reserve_in_database(
                principal,
                standing,
                Usage(gpu_seconds=compute.gpu_seconds_bound, flop=compute.flop_bound, spend=spend),
            )
        else:
            held = []
        reservations = [Reservation(key, amount) for key, amount in held]
        signals = {
            k: v for k, v in msgspec.structs.asdict(workload).items() if k in _SIGNALS and v is not None
        }
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                # Gate and record in one transaction, under the group's lock: two jobs submitted at
                # once cannot both pass a hold or deny level that together they reach.
                await self._training_gate(conn, ctx, policy, compute.flop_expected, bio)
                workload_id = await repository.insert_submitting(
                    conn,
                    cluster=cluster.name,
                    customer_id=principal.customer_id,
                    project_id=principal.project_id,
                    key_id=principal.key_id,
                    kind=cluster.kind,
                    api_version=version,
                    accelerator=compute.accelerator,
                    gpus=compute.gpus,
                    time_limit_seconds=workload.time_limit_seconds,
                    peak_flops_per_gpu=compute.peak_flops_per_gpu,
                    utilisation=compute.utilisation,
                    gpu_seconds_bound=compute.gpu_seconds_bound,
                    flop_bound=compute.flop_bound,
                    flop_expected=compute.flop_expected,
                    price_per_gpu_hour=per_gpu_hour,
                    bio=bio,
                    signals=signals,
                    reservations=reservations,
                    cluster_user=cluster_user,
                )
        except BaseException:
            if self.meter is not None:
                self.meter.release_in_database(held)
            raise
        try:
            status, out, job_id = await forward(workload_id)
        except BaseException as exc:
            async with self.pool.acquire() as conn:
                await repository.reject(conn, workload_id, getattr(exc, "message", type(exc).__name__))
            raise
        async with self.pool.acquire() as conn:
            if not await repository.mark_submitted(conn, workload_id, job_id):
                # Slower than every timeout: the follower has concluded on the row already.
                _log.error(
                    "cluster_job_recorded_late",
                    cluster=cluster.name,
                    job_id=job_id,
                    workload=str(workload_id),
                )
        _log.info(
            "cluster_job_submitted",
            cluster=cluster.name,
            job_id=job_id,
            customer=str(principal.customer_id),
            gpus=compute.gpus,
            flop_bound=compute.flop_bound,
        )
        return status, out

    async def _training_gate(
        self, conn: asyncpg.Connection, ctx: RequestContext, policy: Policy, job_flop: float, bio: bool
    ) -> None:
        """Refuse a job that would take the customer's linked group to a ``hold`` or ``deny`` level.

        Call inside the transaction that records the job: it takes the group's advisory lock,
        which that transaction's commit releases once the job's row (counted as expected) is in.
        """
        from ..compute.gate import gate
        from ..compute.records import group_compute

        assert ctx.principal is not None
        acting = [t for t in policy.thresholds.training if t.action != "notify"]
        if not acting:
            return
        since = dt.datetime.now(_UTC) - dt.timedelta(days=policy.compute.window_days)
        _, total, bio_total = await group_compute(conn, ctx.principal.customer_id, since, lock=True)
        standing = self.standings.standing(ctx.principal.customer_id)
        refusal = gate(
            acting,
            group_flop=total,
            group_bio_flop=bio_total,
            job_flop=job_flop,
            job_bio=bio,
            kyc_level=standing.facts.kyc_level if standing is not None else "standard",
        )
        if refusal is not None:
            _log.info(
                "training_threshold_refusal",
                customer=str(ctx.principal.customer_id),
                code=refusal.code,
                threshold=refusal.threshold,
            )
            raise Forbidden(refusal.message, code=refusal.code)

    def _place(self, ctx: RequestContext, cluster: Cluster, gpus: int) -> None:
        """May this customer run a job of this many GPUs in the cluster's country, from here?"""
        assert ctx.principal is not None
        standing = self.standings.standing(ctx.principal.customer_id)
        if standing is None or standing.entitlement is None:
            raise Forbidden("the customer's identity verification is not complete", code="kyc_pending")
        decision = standing.entitlement.decide(
            RequestFacts("cluster_job", cluster.region, ctx.origin_country, gpus)
        )
        ctx.policy_hash = decision.policy_hash
        if decision.decision == "deny":
            raise Forbidden(decision.message, code=decision.code)
        caps = decision.caps
        if caps is not None and caps.max_gpus_per_job is not None and gpus > caps.max_gpus_per_job:
            raise Forbidden(
                f"jobs of jurisdiction tier {decision.tier} may use at most {caps.max_gpus_per_job} GPUs;"
                f" this one asks for {gpus}",
                code="gpu_cap_exceeded",
            )

    # -- plumbing -----------------------------------------------------------------------

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


def _version(version: str) -> str:
    if version not in slurm.SUPPORTED_VERSIONS:
        raise BadRequest(
            f"Slurm REST API {version} is not supported; use one of {', '.join(slurm.SUPPORTED_VERSIONS)}",
            code="unsupported_api_version",
        )
    return version
