"""Job admission: bound, place, reserve and record a cluster job before the cluster sees it.

Shared by every kind of cluster, and fed what the front stages found (who calls, and the customer's
standing as KYC checked it): an adapter reads the job into a
:class:`~gateway.clusters.workload.Workload` and calls :meth:`JobAdmission.submit` with a
``forward`` that hands the job to the cluster. The workload row exists before the cluster sees
the job; if ``forward`` fails, the row is marked rejected and the reservation released.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import asyncpg
import msgspec
import structlog

from ..compute.flop import job_compute
from ..compute.gate import gate
from ..compute.records import group_compute
from ..errors import BadRequest, Forbidden
from ..policy import trail as policy_trail
from ..policy.decide import Decision, RequestFacts
from ..quota.model import Usage
from . import repository
from .repository import Reservation
from .settlement import release
from .workload import Workload

if TYPE_CHECKING:
    from ..audit.entry import AuditEntry
    from ..policy.model import Policy
    from ..proxy.context import RequestContext
    from ..quota.meter import QuotaMeter
    from .cluster import Cluster

_log = structlog.get_logger("gateway.clusters")
_UTC = dt.UTC
BIO_HEADER = b"x-training-data"
"""A job that declares ``x-training-data: biological-sequences`` counts toward the biology threshold."""

_SIGNALS = frozenset(
    ("name", "array_tasks", "dependency", "working_directory", "comment", "partition", "nodes", "tasks",
     "gpus_per_node", "gpu_type", "namespace")
)  # fmt: skip
"""What a job says of itself that helps find a run split over many jobs."""

Forward = Callable[[uuid.UUID], Awaitable[tuple[int, bytes, str]]]
"""Hand the job to the cluster, given its workload id (the mark a Kubernetes Job carries):
``(status, body, job id)``."""


class JobAdmission:
    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        policy: Callable[[], Policy],
        meter: QuotaMeter | None,
        audit: Callable[[AuditEntry], None] | None = None,
    ) -> None:
        self.pool = pool
        self.policy = policy
        self.meter = meter
        self.audit = audit
        """Where policy refusals are logged (the audit writer's ``record``)."""

    async def submit(
        self,
        ctx: RequestContext,
        cluster: Cluster,
        workload: Workload,
        version: str,
        forward: Forward,
        *,
        cluster_user: str | None = None,
    ) -> tuple[int, bytes]:
        """Bound, place, reserve and record a job, then ``forward`` it: the cluster's ``(status, body)``."""
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
        self.place(ctx, cluster, workload.gpus)
        bio = ctx.headers.get(BIO_HEADER, b"").strip().lower() == b"biological-sequences"
        gpu_price = policy.prices.gpus.get(compute.accelerator)
        per_gpu_hour = None if gpu_price is None else gpu_price.per_gpu_hour
        if self.meter is not None:
            standing = ctx.standing  # checked by the front stages (KnowCustomer)
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
                await self.training_gate(conn, ctx, policy, compute.flop_expected, bio)
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
                await release(conn, workload_id, getattr(exc, "message", type(exc).__name__))
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

    async def training_gate(
        self, conn: asyncpg.Connection, ctx: RequestContext, policy: Policy, job_flop: float, bio: bool
    ) -> None:
        """Refuse a job that would take the customer's linked group to a ``hold`` or ``deny`` level.

        Call inside the transaction that records the job: it takes the group's advisory lock,
        which that transaction's commit releases once the job's row (counted as expected) is in.
        """
        assert ctx.principal is not None
        acting = [t for t in policy.thresholds.training if t.action != "notify"]
        if not acting:
            return
        since = dt.datetime.now(_UTC) - dt.timedelta(days=policy.compute.window_days)
        _, total, bio_total = await group_compute(conn, ctx.principal.customer_id, since, lock=True)
        standing = ctx.standing
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

    def place(self, ctx: RequestContext, cluster: Cluster, gpus: int) -> None:
        """May this customer run a job of this many GPUs in the cluster's country, from here?"""
        standing = ctx.standing  # as the front stages checked it (KnowCustomer)
        if standing is None or standing.entitlement is None:
            raise Forbidden("the customer's identity verification is not complete", code="kyc_pending")
        decision = standing.entitlement.decide(
            RequestFacts("cluster_job", cluster.region, ctx.origin_country, gpus)
        )
        ctx.policy_hash = decision.policy_hash
        if decision.decision == "deny":
            self._refused(ctx, cluster, decision)
            raise Forbidden(decision.message, code=decision.code)
        caps = decision.caps
        if caps is not None and caps.max_gpus_per_job is not None and gpus > caps.max_gpus_per_job:
            self._refused(ctx, cluster, decision, code="gpu_cap_exceeded")
            raise Forbidden(
                f"jobs of jurisdiction tier {decision.tier} may use at most {caps.max_gpus_per_job} GPUs;"
                f" this one asks for {gpus}",
                code="gpu_cap_exceeded",
            )

    def _refused(
        self, ctx: RequestContext, cluster: Cluster, decision: Decision, code: str | None = None
    ) -> None:
        if self.audit is not None and ctx.principal is not None:
            self.audit(
                policy_trail.refused(
                    decision,
                    customer_id=str(ctx.principal.customer_id),
                    action="cluster_job",
                    region=cluster.region,
                    origin_country=ctx.origin_country,
                    at=ctx.occurred_at,
                    code=code,
                )
            )
