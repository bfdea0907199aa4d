"""``/clusters/<name>/slurm/<version>/...``: the slurmrestd calls a customer may make.

Ping; submit (read, confined to the customer's cluster identity, admitted, then sent as that
user); list (filtered to the customer's own jobs); and read or cancel one of its own jobs, as
the job's own user. Anything else is 404 ``route_not_found``.
"""

from __future__ import annotations

import re
import uuid

import msgspec

from ...errors import Forbidden, GatewayError, NotFound, UnprocessableEntity, UpstreamUnavailable
from .. import identities, repository
from ..adapter import ClusterCall
from . import confine
from .common import require_supported
from .replies import filter_jobs, slurm_errors, submit_reply_job_id
from .submit import parse_submit

_PING = re.compile(r"^/slurm/(v0\.0\.\d+)/ping$")
_SUBMIT = re.compile(r"^/slurm/(v0\.0\.\d+)/job/submit$")
_JOB = re.compile(r"^/slurm/(v0\.0\.\d+)/job/(\d+)$")
_JOBS = re.compile(r"^/slurm/(v0\.0\.\d+)/jobs$")


def submit_version(path: str) -> str | None:
    """The REST version of a submission path, or None if ``path`` is not one."""
    m = _SUBMIT.match(path)
    return m.group(1) if m else None


async def serve(call: ClusterCall, node_gpus: int | None) -> tuple[int, bytes, str]:
    cluster, method, path, ctx = call.cluster, call.method, call.path, call.ctx
    base = f"/clusters/{cluster.name}/slurm"
    if _PING.match(path) and method == "GET":
        status, out = await cluster.call("GET", path)
        return status, out, f"{base}/{{v}}/ping"
    if (m := _SUBMIT.match(path)) and method == "POST":
        status, out = await _submit(call, m.group(1), node_gpus)
        return status, out, f"{base}/{{v}}/job/submit"
    if (m := _JOBS.match(path)) and method == "GET":
        require_supported(m.group(1))
        status, out = await cluster.call("GET", path, query=ctx.query)
        if status != 200:
            raise cluster_error(status, out, "list jobs")
        async with call.jobs.pool.acquire() as conn:
            mine = await repository.owned_job_ids(conn, cluster.name, call.customer)
        return 200, filter_jobs(out, {int(j) for j in mine}), f"{base}/{{v}}/jobs"
    if (m := _JOB.match(path)) and method in ("GET", "DELETE"):
        require_supported(m.group(1))
        job_id = m.group(2)
        async with call.jobs.pool.acquire() as conn:
            owned, user = await repository.job_user(conn, cluster.name, call.customer, job_id)
        if not owned:
            # Another customer's job and a job that does not exist look the same.
            raise NotFound(f"no job {job_id} of yours on {cluster.name!r}", code="job_not_found")
        # As the job's own user: Slurm lets only the owner (or an operator) cancel it.
        status, out = await cluster.call(method, path, query=ctx.query, user=user)
        if status != 200:
            raise cluster_error(status, out, "cancel the job" if method == "DELETE" else "read the job")
        return status, out, f"{base}/{{v}}/job/{{id}}"
    raise NotFound(f"{method} {path} is not a cluster API the gateway serves", code="route_not_found")


async def _submit(call: ClusterCall, version: str, node_gpus: int | None) -> tuple[int, bytes]:
    cluster, customer = call.cluster, call.customer
    settings = cluster.settings
    workload = parse_submit(version, call.body, node_gpus=node_gpus)
    async with call.jobs.pool.acquire() as conn:
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
        call.body,
        user=identity.user,
        home=identity.home,
        account=identity.account or settings.account,
        qos=identity.qos or settings.qos,
        partitions=settings.partitions,
    )
    workload = msgspec.structs.replace(workload, working_directory=confined.working_directory)

    async def forward(workload_id: uuid.UUID) -> tuple[int, bytes, str]:
        # Nothing of ours can ride along on a Slurm job: a lost submission is found by what
        # the job says of itself (slurm.lost).
        status, out = await cluster.call("POST", call.path, confined.body, user=identity.user)
        job_id = submit_reply_job_id(out) if status == 200 else None
        if job_id is None:
            raise cluster_error(status, out, "submit")
        return status, out, str(job_id)

    return await call.jobs.submit(call.ctx, cluster, workload, version, forward, cluster_user=identity.user)


def cluster_error(status: int, body: bytes, what: str) -> GatewayError:
    """The cluster said no: its own words, under one of ours."""
    errors = slurm_errors(body)
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
