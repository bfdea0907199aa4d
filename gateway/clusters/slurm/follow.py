"""What slurmrestd says of the gateway's open and lost jobs: the follower's readers for Slurm.

Open jobs are read from the job list (one call per REST version); a job no longer listed
(``MinJobAge``) is asked for alone, and one slurmctld has forgotten is read from slurmdbd's
accounting where the cluster has it. A job none of them knows is ``gone``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

import structlog

from ..adapter import Claimed, Found, Observation
from ..repository import OpenWorkload, Submitting
from .lost import match_slurm
from .replies import JobRecord, accounting_path, parse_accounting, parse_jobs

if TYPE_CHECKING:
    from ..cluster import Cluster

_log = structlog.get_logger("gateway.clusters")
_RUNNING = frozenset(("RUNNING", "COMPLETING", "SUSPENDED"))


async def observe(
    cluster: Cluster, rows: Sequence[OpenWorkload], now: int
) -> list[tuple[OpenWorkload, Observation]]:
    by_version: dict[str, list[OpenWorkload]] = {}
    for row in rows:
        by_version.setdefault(row.api_version, []).append(row)
    seen: list[tuple[OpenWorkload, Observation]] = []
    for version, group in by_version.items():
        status, body = await cluster.call("GET", f"/slurm/{version}/jobs")
        if status != 200:
            _log.warning("cluster_jobs_unreadable", cluster=cluster.name, status=status)
            continue
        records = {r.job_id: r for r in parse_jobs(version, body)}
        for row in group:
            try:
                record = records.get(int(row.job_id))
                if record is None:
                    record = await _unlisted(cluster, version, row.job_id)
                seen.append((row, _observation(record, now)))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one job that cannot be read must not stop the others
                _log.warning(
                    "cluster_job_follow_failed", cluster=cluster.name, job_id=row.job_id, error=str(exc)[:200]
                )
    return seen


async def _unlisted(cluster: Cluster, version: str, job_id: str) -> JobRecord | None:
    # No longer listed (MinJobAge): ask for it alone.
    status, body = await cluster.call("GET", f"/slurm/{version}/job/{job_id}")
    found = parse_jobs(version, body) if status == 200 else []
    if found:
        return found[0]
    # Forgotten by slurmctld: slurmdbd's accounting, where the cluster has it.
    status, body = await cluster.call("GET", accounting_path(version, job_id))
    found = parse_accounting(version, body) if status == 200 else []
    # Only an end it records: slurmctld forgets ended jobs only, so anything else is stale.
    return next((r for r in found if r.job_id == int(job_id) and r.finished), None)


def _observation(record: JobRecord | None, now: int) -> Observation:
    if record is None:
        return Observation(state="gone", native="UNKNOWN")
    if record.finished:
        return Observation(
            state="ended",
            native=record.state,
            started_at=record.start_time,
            ended_at=record.end_time,
            run_seconds=float(record.run_seconds(now)),
        )
    # A pending job has a start_time too (the expected start): only the state says it runs.
    if record.state in _RUNNING:
        return Observation(state="running", native=record.state, started_at=record.start_time)
    return Observation(state="queued", native=record.state, started_at=record.start_time)


async def find_lost(
    cluster: Cluster, rows: Sequence[Submitting], *, window_seconds: float, claimed: Claimed
) -> dict[uuid.UUID, Found] | None:
    found: dict[uuid.UUID, Found] = {}
    for version in {row.api_version for row in rows}:
        status, body = await cluster.call("GET", f"/slurm/{version}/jobs")
        if status != 200:
            _log.warning("cluster_jobs_unreadable", cluster=cluster.name, status=status)
            return None
        jobs = parse_jobs(version, body)
        taken = await claimed([str(j.job_id) for j in jobs])
        free = [j for j in jobs if str(j.job_id) not in taken]
        mine = [row for row in rows if row.api_version == version]
        matches = match_slurm(mine, free, user=cluster.settings.user, window_seconds=window_seconds)
        found.update({k: (n, None if j is None else str(j)) for k, (n, j) in matches.items()})
    return found
