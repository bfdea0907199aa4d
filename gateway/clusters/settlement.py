"""Settling a cluster job: its end recorded once, its quota reservations settled to what it
computed through the quota meter's settle path, and its compute event written to the ledger.

The end and the reservations are one transaction, so a job is counted once whatever restarts or
replicas do. The compute event follows through the ledger's batched writer; one lost with a
process (buffered, not yet written) is written again by :func:`record_missing`, which the
follower runs, and the ledger keeps one event per job however often it is written.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Protocol, cast

import asyncpg
import structlog

from ..compute.flop import settled_flop
from ..ledger.events import ComputeEvent
from ..quota.model import Dimension, Usage
from ..quota.writer import settle_reserved
from . import repository
from .repository import Ended

if TYPE_CHECKING:
    from ..ledger.writer import LedgerWriter

_log = structlog.get_logger("gateway.clusters")
_UTC = dt.UTC


class Bounded(Protocol):
    """What settling needs of a job's record: which one, and how it turns run time into compute."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def gpus(self) -> int: ...
    @property
    def peak_flops_per_gpu(self) -> float: ...
    @property
    def utilisation(self) -> float: ...


async def settle_job(
    conn: asyncpg.Connection,
    ledger: LedgerWriter,
    job: Bounded,
    *,
    native: str,
    run_seconds: float,
    started_at: dt.datetime | None,
    ended_at: float,
) -> Ended | None:
    """The job ran ``run_seconds`` on its GPUs: settle it, once. None if it was settled already."""
    gpu_seconds = job.gpus * run_seconds
    flop = settled_flop(job.gpus, run_seconds, job.peak_flops_per_gpu, job.utilisation)
    async with conn.transaction():
        ended = await repository.end(
            conn,
            job.id,
            native=native,
            run_seconds=run_seconds,
            gpu_seconds=gpu_seconds,
            flop=flop,
            started_at=started_at,
            ended_at=dt.datetime.fromtimestamp(ended_at, _UTC),
        )
        if ended is None:
            return None  # another replica settled it first
        used = Usage(gpu_seconds=gpu_seconds, flop=flop, spend=_spend(ended))
        await settle_reserved(
            conn, [(r.key, r.amount, used.get(cast(Dimension, r.key.dimension))) for r in ended.reservations]
        )
    ledger.record_compute(compute_event(ended))
    return ended


async def release(conn: asyncpg.Connection, workload_id: uuid.UUID, reason: str) -> None:
    """The cluster never took the job: mark it rejected and give its whole reservation back."""
    async with conn.transaction():
        held = await repository.reject(conn, workload_id, reason)
        if held:
            await settle_reserved(conn, [(r.key, r.amount, 0.0) for r in held])


async def record_missing(
    conn: asyncpg.Connection, ledger: LedgerWriter, since: dt.datetime, before: dt.datetime
) -> int:
    """Write again the compute events of jobs that ended in ``[since, before)`` without one."""
    missing = await repository.ended_without_event(conn, since, before)
    for ended in missing:
        ledger.record_compute(compute_event(ended))
    if missing:
        _log.warning("compute_events_recorded_again", jobs=len(missing))
    return len(missing)


def _spend(ended: Ended) -> float:
    # At the price the job was admitted with; none: no spend limit applied to it.
    price = ended.price_per_gpu_hour
    return 0.0 if price is None else ended.gpu_seconds_settled * price / 3600.0


def compute_event(ended: Ended) -> ComputeEvent:
    return ComputeEvent(
        workload_id=ended.id,
        occurred_at=ended.ended_at,
        customer_id=ended.customer_id,
        project_id=ended.project_id,
        key_id=ended.key_id,
        cluster=ended.cluster,
        kind=ended.kind,
        job_id=ended.job_id,
        accelerator=ended.accelerator,
        gpus=ended.gpus,
        submitted_at=ended.submitted_at,
        started_at=ended.started_at,
        run_seconds=ended.run_seconds,
        gpu_seconds=ended.gpu_seconds_settled,
        flop_bound=ended.flop_bound,
        flop_expected=ended.flop_expected,
        flop_settled=ended.flop_settled,
        spend=None if ended.price_per_gpu_hour is None else _spend(ended),
        bio=ended.bio,
        native_state=ended.native_state,
    )
