"""Follow every cluster job submitted through the gateway to its end, and settle what it computed.

Each replica polls each cluster every ``poll_seconds`` for the workloads the database says are
still queued or running, so jobs are picked up again after a restart. The cluster's adapter says
what became of each (:meth:`~gateway.clusters.adapter.ClusterAdapter.observe`); a job that has
ended is settled (:mod:`.settlement`) in one transaction that also marks it ended: whichever
replica gets there first settles it, the others find nothing left to do, and nothing is counted
twice. Submissions a gateway lost track of (it died before writing the job's id) are found again
first (:mod:`.reconcile`).
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

from . import repository
from .adapter import Observation
from .reconcile import verdict
from .settlement import Bounded, record_missing, release, settle_job

if TYPE_CHECKING:
    from ..ledger.writer import LedgerWriter
    from .cluster import Cluster

_log = structlog.get_logger("gateway.clusters")
_UTC = dt.UTC
_BACKFILL_EVERY_SECONDS = 300.0
"""How often the ledger is checked for compute events lost with a process (:func:`record_missing`)."""
_BACKFILL_HORIZON = dt.timedelta(days=2)
_BACKFILL_GRACE_SECONDS = 60.0
"""A job's event is only missing once the writer has had this long to write it."""


def _when(epoch: int | None) -> dt.datetime | None:
    return None if epoch is None else dt.datetime.fromtimestamp(epoch, _UTC)


class Follower:
    def __init__(
        self,
        clusters: Sequence[Cluster],
        pool: asyncpg.Pool,
        ledger: LedgerWriter,
        *,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.clusters = list(clusters)
        self.pool = pool
        self.ledger = ledger
        self._wall = wall
        self._task: asyncio.Task[None] | None = None
        self._backfilled_at = -float("inf")

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
                now = self._wall()
                if now - self._backfilled_at >= _BACKFILL_EVERY_SECONDS:
                    await self.backfill()
                    self._backfilled_at = now
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
                settled += await self.follow(cluster)
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

    async def follow(self, cluster: Cluster) -> int:
        """Ask the cluster about its open jobs and record what it says; the number settled now."""
        async with self.pool.acquire() as conn:
            rows = await repository.open_workloads(conn, cluster.name)
        if not rows:
            return 0
        settled = 0
        for row, seen in await cluster.adapter.observe(cluster, rows, int(self._wall())):
            try:
                settled += await self._apply(row, seen)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one job that cannot be followed must not stop the others
                _log.warning(
                    "cluster_job_follow_failed", cluster=cluster.name, job_id=row.job_id, error=str(exc)[:200]
                )
        return settled

    async def _apply(self, row: repository.OpenWorkload, seen: Observation) -> int:
        now = self._wall()
        if seen.state == "gone":
            # The cluster has forgotten the job, or it was deleted before it was seen to end. It
            # cannot have run longer than it existed, nor past its time limit: charge that, the most
            # it can have computed.
            since = (row.started_at or row.submitted_at).timestamp()
            run = max(0.0, min(float(row.time_limit_seconds), now - since))
            return await self._settle(row, seen.native, run, row.started_at, now)
        if seen.state == "ended":
            run = min(seen.run_seconds or 0.0, float(row.time_limit_seconds))
            ended = seen.ended_at if seen.ended_at is not None else int(now)
            return await self._settle(row, seen.native, run, _when(seen.started_at), ended)
        if seen.state != row.state:
            async with self.pool.acquire() as conn:
                await repository.mark_progress(conn, row.id, seen.state, seen.native, _when(seen.started_at))
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

        async def claimed(job_ids: Sequence[str]) -> set[str]:
            async with self.pool.acquire() as conn:
                return await repository.claimed(conn, cluster.name, job_ids)

        found = await cluster.adapter.find_lost(cluster, lost, window_seconds=window, claimed=claimed)
        if found is None:
            return 0  # nothing can be concluded from a list not seen
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
        if decided == "adopt" and job_id is not None:
            async with self.pool.acquire() as conn:
                try:
                    adopted = await repository.mark_submitted(conn, row.id, job_id)
                except asyncpg.UniqueViolationError:  # another workload has it after all
                    adopted = False
            if adopted:
                log.warning("cluster_lost_job_found", job_id=job_id)
        elif decided == "reject":
            async with self.pool.acquire() as conn:
                await release(conn, row.id, "lost submission: the cluster never created the job")
            log.warning("cluster_lost_job_never_created")
        elif decided == "charge":
            run = max(0.0, min(float(row.time_limit_seconds), age))
            if await self._settle(row, "LOST", run, None, now, quiet=True):
                log.error("cluster_lost_job_charged", run_seconds=run, candidates=count)
                return 1
        return 0

    async def _settle(
        self,
        job: Bounded,
        native: str,
        run_seconds: float,
        started_at: dt.datetime | None,
        ended: float,
        *,
        quiet: bool = False,
    ) -> int:
        async with self.pool.acquire() as conn:
            done = await settle_job(
                conn,
                self.ledger,
                job,
                native=native,
                run_seconds=run_seconds,
                started_at=started_at,
                ended_at=ended,
            )
        if done is None:
            return 0
        if not quiet:
            _log.info(
                "cluster_job_settled",
                cluster=done.cluster,
                job_id=done.job_id,
                state=native,
                run_seconds=run_seconds,
                gpu_seconds=done.gpu_seconds_settled,
                flop=done.flop_settled,
            )
        return 1

    async def backfill(self) -> int:
        """Write again the compute events lost with a process (see :mod:`.settlement`)."""
        now = self._wall()
        before = dt.datetime.fromtimestamp(now - _BACKFILL_GRACE_SECONDS, _UTC)
        async with self.pool.acquire() as conn:
            return await record_missing(conn, self.ledger, before - _BACKFILL_HORIZON, before)
