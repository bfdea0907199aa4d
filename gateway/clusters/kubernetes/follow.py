"""What the API server says of the gateway's open and lost Jobs: the follower's readers for Kubernetes.

One GET per open Job (its job id is ``"namespace/name"``). A Job that is gone (deleted by its owner
or by its ``ttlSecondsAfterFinished`` before it was seen to end) cannot say how long it ran. A lost
submission is looked for by the workload label every Job the gateway creates carries.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

import structlog

from ..adapter import Claimed, Found, Observation
from ..repository import OpenWorkload, Submitting
from .replies import WORKLOAD_LABEL, job_names, parse_job_status

if TYPE_CHECKING:
    from ..cluster import Cluster

_log = structlog.get_logger("gateway.clusters")


async def observe(
    cluster: Cluster, rows: Sequence[OpenWorkload], now: int
) -> list[tuple[OpenWorkload, Observation]]:
    seen: list[tuple[OpenWorkload, Observation]] = []
    for row in rows:
        try:
            seen.append((row, await _observe(cluster, row, now)))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # one job that cannot be read must not stop the others
            _log.warning(
                "cluster_job_follow_failed", cluster=cluster.name, job_id=row.job_id, error=str(exc)[:200]
            )
    return seen


async def _observe(cluster: Cluster, row: OpenWorkload, now: int) -> Observation:
    namespace, _, name = row.job_id.partition("/")
    status, body = await cluster.call("GET", f"/apis/batch/v1/namespaces/{namespace}/jobs/{name}")
    if status == 404:
        return Observation(state="gone", native="DELETED")
    if status != 200:
        raise RuntimeError(f"the cluster answered HTTP {status} for job {row.job_id}")
    job = parse_job_status(body)
    if job.finished:
        return Observation(
            state="ended",
            native="Complete" if job.completion_time is not None else "Failed",
            started_at=job.start_time,
            ended_at=job.end_time,
            run_seconds=float(job.run_seconds(now)),
        )
    if job.active > 0 or job.start_time is not None:
        return Observation(state="running", native="Active", started_at=job.start_time)
    return Observation(state="queued", native="Pending")


async def find_lost(
    cluster: Cluster, rows: Sequence[Submitting], *, window_seconds: float, claimed: Claimed
) -> dict[uuid.UUID, Found] | None:
    # A Job carries its workload's id: found by it, or not there. No guessing, so no claims to check.
    found: dict[uuid.UUID, Found] = {}
    for row in rows:
        namespace = row.signals.get("namespace")
        status, body = await cluster.call(
            "GET",
            f"/apis/batch/v1/namespaces/{namespace}/jobs",
            query=f"labelSelector={WORKLOAD_LABEL}%3D{row.id}".encode(),
        )
        if status != 200:
            _log.warning("cluster_jobs_unreadable", cluster=cluster.name, status=status)
            return None
        names = job_names(body)
        found[row.id] = (len(names), f"{namespace}/{names[0]}") if len(names) == 1 else (-len(names), None)
    return found
