"""Follow every cluster job submitted through the gateway to its end, and settle what it computed.

Each replica polls each cluster's job list every ``poll_seconds`` for the workloads the database
says are still queued or running, so jobs are picked up again after a restart. A job that has
ended is settled in one transaction that also marks it ended: whichever replica gets there first
settles it, the others find nothing left to do, and nothing is counted twice. Submissions a
gateway lost track of (it died before writing the job's id) are found again first
(:mod:`.reconcile`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import asyncpg
import structlog

from ..compute.flop import settled_flop
from . import repository, slurm
from .kubernetes import job_names, parse_job_status
from .reconcile import WORKLOAD_LABEL, match_slurm, verdict

if TYPE_CHECKING:
    from .proxy import Cluster

_log = structlog.get_logger("gateway.clusters")
_UTC = dt.UTC


def _when(epoch: int | None) -> dt.datetime | None:
    return None if epoch is None else dt.datetime.fromtimestamp(epoch, _UTC)


class Follower:
    def __init__(
        self, clusters: Sequence[Cluster], pool: asyncpg.Pool, *, wall: Callable[[], float] = time.time
    ) -> None:
        self.clusters = list(clusters)
        self.pool = pool
        self._wall = wall
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.clusters:
            self._task = asyncio.create_task(self._run(), name="cluster-follower")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        period = min(c.settings.poll_seconds for c in self.clusters)
        while True:
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                _log.warning("cluster_follow_failed", error=type(exc).__name__, detail=str(exc)[:200])
            await asyncio.sleep(period)

    async def poll_once(self) -> int:
        """Look at every open job once; the number of jobs settled now."""
        settled = 0
        for cluster in self.clusters:
            try:
                settled += await self.reconcile(cluster)
                if cluster.kind == "slurm":
                    settled += await self._poll_slurm(cluster)
                elif cluster.kind == "kubernetes":
                    settled += await self._poll_kubernetes(cluster)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one cluster down or talking nonsense must not stop the others
                _log.warning(
                    "cluster_follow_failed",
                    cluster=cluster.name,
                    error=type(exc).__name__,
                    detail=str(exc)[:200],
                )
        return settled

    async def _poll_slurm(self, cluster: Cluster) -> int:
        async with self.pool.acquire() as conn:
            rows = await repository.open_workloads(conn, cluster.name)
        if not rows:
            return 0
        settled = 0
        by_version: dict[str, list[repository.OpenWorkload]] = {}
        for row in rows:
            by_version.setdefault(row.api_version, []).append(row)
        for version, group in by_version.items():
            status, body = await cluster.call("GET", f"/slurm/{version}/jobs")
            if status != 200:
                _log.warning("cluster_jobs_unreadable", cluster=cluster.name, status=status)
                continue
            records = {r.job_id: r for r in slurm.parse_jobs(version, body)}
            for row in group:
                try:
                    settled += await self._follow_one(cluster, version, row, records)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # one job that cannot be followed must not stop the others
                    _log.warning(
                        "cluster_job_follow_failed",
                        cluster=cluster.name,
                        job_id=row.job_id,
                        error=str(exc)[:200],
                    )
        return settled

    async def _follow_one(
        self,
        cluster: Cluster,
        version: str,
        row: repository.OpenWorkload,
        records: dict[int, slurm.JobRecord],
    ) -> int:
        record = records.get(int(row.job_id))
        if record is None:  # no longer listed (MinJobAge): ask for it alone
            status, body = await cluster.call("GET", f"/slurm/{version}/job/{row.job_id}")
            found = slurm.parse_jobs(version, body) if status == 200 else []
            record = found[0] if found else None
        if record is None:  # forgotten by slurmctld: slurmdbd's accounting, where the cluster has it
            status, body = await cluster.call("GET", slurm.accounting_path(version, row.job_id))
            found = slurm.parse_accounting(version, body) if status == 200 else []
            # Only an end it records: slurmctld forgets ended jobs only, so anything else is stale.
            record = next((r for r in found if r.job_id == int(row.job_id) and r.finished), None)
        return await self._follow(row, record)

    async def _follow(self, row: repository.OpenWorkload, record: slurm.JobRecord | None) -> int:
        now = self._wall()
        async with self.pool.acquire() as conn:
            if record is None:
                # The cluster has forgotten the job. It cannot have run longer than it existed, nor
                # past its time limit: charge that, the most it can have computed.
                since = (row.started_at or row.submitted_at).timestamp()
                run = max(0.0, min(float(row.time_limit_seconds), now - since))
                return int(await self._settle(conn, row, "UNKNOWN", run, row.started_at, now))
            if record.finished:
                run = float(min(record.run_seconds(int(now)), row.time_limit_seconds))
                ended = record.end_time if record.end_time is not None else int(now)
                return int(await self._settle(conn, row, record.state, run, _when(record.start_time), ended))
            # A pending job has a start_time too (the expected start): only the state says it runs.
            state = "running" if record.state in ("RUNNING", "COMPLETING", "SUSPENDED") else "queued"
            if state != row.state:
                await repository.mark_progress(conn, row.id, state, record.state, _when(record.start_time))
        return 0

    async def _poll_kubernetes(self, cluster: Cluster) -> int:
        """One GET per open Job (``row.job_id`` is ``"namespace/name"``)."""
        async with self.pool.acquire() as conn:
            rows = await repository.open_workloads(conn, cluster.name)
        settled = 0
        for row in rows:
            try:
                settled += await self._follow_kubernetes(cluster, row)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one job that cannot be followed must not stop the others
                _log.warning(
                    "cluster_job_follow_failed", cluster=cluster.name, job_id=row.job_id, error=str(exc)[:200]
                )
        return settled

    async def _follow_kubernetes(self, cluster: Cluster, row: repository.OpenWorkload) -> int:
        namespace, _, name = row.job_id.partition("/")
        status, body = await cluster.call("GET", f"/apis/batch/v1/namespaces/{namespace}/jobs/{name}")
        now = self._wall()
        if status == 404:
            # The Job was deleted (by its owner, or by its ttlSecondsAfterFinished) before it was
            # seen to end: charge the most it can have computed, from its start (or submission) until
            # now, at most its time limit.
            since = (row.started_at or row.submitted_at).timestamp()
            run = max(0.0, min(float(row.time_limit_seconds), now - since))
            async with self.pool.acquire() as conn:
                return int(await self._settle(conn, row, "DELETED", run, row.started_at, now))
        if status != 200:
            raise RuntimeError(f"the cluster answered HTTP {status} for job {row.job_id}")
        job = parse_job_status(body)
        async with self.pool.acquire() as conn:
            if job.finished:
                run = float(min(job.run_seconds(int(now)), row.time_limit_seconds))
                ended = job.end_time if job.end_time is not None else int(now)
                native = "Complete" if job.completion_time is not None else "Failed"
                return int(await self._settle(conn, row, native, run, _when(job.start_time), ended))
            if (job.active > 0 or job.start_time is not None) and row.state != "running":
                await repository.mark_progress(conn, row.id, "running", "Active", _when(job.start_time))
        return 0

    async def reconcile(self, cluster: Cluster) -> int:
        """Find the jobs of lost submissions (see :mod:`.reconcile`); the number charged now."""
        now = self._wall()
        settings = cluster.settings
        # By then the replica that wrote the row has its answer from the cluster, or is gone.
        window = settings.connect_timeout + settings.read_timeout
        before = dt.datetime.fromtimestamp(now - window - settings.poll_seconds, _UTC)
        async with self.pool.acquire() as conn:
            lost = await repository.stale_submitting(conn, cluster.name, before)
        if not lost:
            return 0
        found: dict[object, tuple[int, str | None]] = {}
        if cluster.kind == "slurm":
            for version in {row.api_version for row in lost}:
                status, body = await cluster.call("GET", f"/slurm/{version}/jobs")
                if status != 200:
                    _log.warning("cluster_jobs_unreadable", cluster=cluster.name, status=status)
                    return 0  # nothing can be concluded from a list not seen
                jobs = slurm.parse_jobs(version, body)
                async with self.pool.acquire() as conn:
                    taken = await repository.claimed(conn, cluster.name, [str(j.job_id) for j in jobs])
                free = [j for j in jobs if str(j.job_id) not in taken]
                rows = [row for row in lost if row.api_version == version]
                matches = match_slurm(rows, free, user=settings.user, window_seconds=window)
                found.update({k: (n, None if j is None else str(j)) for k, (n, j) in matches.items()})
        else:
            for row in lost:
                namespace = row.signals.get("namespace")
                status, body = await cluster.call(
                    "GET",
                    f"/apis/batch/v1/namespaces/{namespace}/jobs",
                    query=f"labelSelector={WORKLOAD_LABEL}%3D{row.id}".encode(),
                )
                if status != 200:
                    _log.warning("cluster_jobs_unreadable", cluster=cluster.name, status=status)
                    return 0
                names = job_names(body)
                found[row.id] = (
                    (len(names), f"{namespace}/{names[0]}") if len(names) == 1 else (-len(names), None)
                )
        charged = 0
        for row in lost:
            count, job_id = found.get(row.id, (-1, None))
            charged += await self._conclude(cluster, row, count, job_id, now)
        return charged

    async def _conclude(
        self, cluster: Cluster, row: repository.Submitting, count: int, job_id: str | None, now: float
    ) -> int:
        age = now - row.submitted_at.timestamp()
        decided = verdict(count, age, cluster.settings.min_job_age_seconds)
        log = _log.bind(cluster=cluster.name, workload=str(row.id), verdict=decided)
        async with self.pool.acquire() as conn:
            if decided == "adopt" and job_id is not None:
                try:
                    adopted = await repository.mark_submitted(conn, row.id, job_id)
                except asyncpg.UniqueViolationError:  # another workload has it after all
                    adopted = False
                if adopted:
                    log.warning("cluster_lost_job_found", job_id=job_id)
            elif decided == "reject":
                await repository.reject(conn, row.id, "lost submission: the cluster never created the job")
                log.warning("cluster_lost_job_never_created")
            elif decided == "charge":
                run = max(0.0, min(float(row.time_limit_seconds), age))
                done = await repository.settle(
                    conn,
                    row.id,
                    native="LOST",
                    run_seconds=run,
                    gpu_seconds=row.gpus * run,
                    flop=settled_flop(row.gpus, run, row.peak_flops_per_gpu, row.utilisation),
                    started_at=None,
                    ended_at=dt.datetime.fromtimestamp(now, _UTC),
                )
                if done:
                    log.error("cluster_lost_job_charged", run_seconds=run, candidates=count)
                    return 1
        return 0

    @staticmethod
    async def _settle(
        conn: asyncpg.Connection,
        row: repository.OpenWorkload,
        native: str,
        run_seconds: float,
        started_at: dt.datetime | None,
        ended: float,
    ) -> bool:
        gpu_seconds = row.gpus * run_seconds
        flop = settled_flop(row.gpus, run_seconds, row.peak_flops_per_gpu, row.utilisation)
        done = await repository.settle(
            conn,
            row.id,
            native=native,
            run_seconds=run_seconds,
            gpu_seconds=gpu_seconds,
            flop=flop,
            started_at=started_at,
            ended_at=dt.datetime.fromtimestamp(ended, _UTC),
        )
        if done:
            _log.info(
                "cluster_job_settled",
                cluster=row.cluster,
                job_id=row.job_id,
                state=native,
                run_seconds=run_seconds,
                gpu_seconds=gpu_seconds,
                flop=flop,
            )
        return done
