"""Workload records: every cluster job submitted through the gateway, from submission to settlement.

The row exists before the cluster sees the job (``submitting``), so that no job runs without
its record; it ends in ``ended`` exactly once (:func:`end`), in the transaction that settles the
job's quota reservations (:mod:`.settlement`), so a job is counted once whatever restarts or
replicas do.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
import msgspec

from ..quota.store import CounterKey


class Reservation(msgspec.Struct, frozen=True):
    """Part of a job's bound, reserved on one quota counter."""

    key: CounterKey
    amount: float


class OpenWorkload(msgspec.Struct, frozen=True):
    """What the follower needs of a job that has not ended."""

    id: uuid.UUID
    cluster: str
    job_id: str
    api_version: str
    state: str
    gpus: int
    time_limit_seconds: int
    peak_flops_per_gpu: float
    utilisation: float
    submitted_at: dt.datetime
    started_at: dt.datetime | None


_encode = msgspec.json.Encoder().encode
_reservations = msgspec.json.Decoder(list[Reservation]).decode


async def insert_submitting(
    conn: asyncpg.Connection,
    *,
    cluster: str,
    customer_id: uuid.UUID,
    project_id: uuid.UUID,
    key_id: str,
    kind: str,
    api_version: str,
    accelerator: str,
    gpus: int,
    time_limit_seconds: int,
    peak_flops_per_gpu: float,
    utilisation: float,
    gpu_seconds_bound: float,
    flop_bound: float,
    flop_expected: float,
    price_per_gpu_hour: float | None,
    bio: bool,
    signals: dict[str, Any],
    reservations: Sequence[Reservation],
    cluster_user: str | None = None,
) -> uuid.UUID:
    workload_id = uuid.uuid4()
    await conn.execute(
        """
        insert into workloads
            (id, cluster, customer_id, project_id, key_id, kind, api_version, state, accelerator, gpus,
             time_limit_seconds, peak_flops_per_gpu, utilisation, gpu_seconds_bound, flop_bound,
             flop_expected, bio, signals, reservations, price_per_gpu_hour, cluster_user)
        values ($1, $2, $3, $4, $5, $6, $7, 'submitting', $8, $9, $10, $11, $12, $13, $14, $15, $16,
                $17::jsonb, $18::jsonb, $19, $20)
        """,
        workload_id,
        cluster,
        customer_id,
        project_id,
        key_id,
        kind,
        api_version,
        accelerator,
        gpus,
        time_limit_seconds,
        peak_flops_per_gpu,
        utilisation,
        gpu_seconds_bound,
        flop_bound,
        flop_expected,
        bio,
        _encode(signals).decode(),
        _encode(list(reservations)).decode(),
        price_per_gpu_hour,
        cluster_user,
    )
    return workload_id


async def mark_submitted(conn: asyncpg.Connection, workload_id: uuid.UUID, job_id: str) -> bool:
    """The cluster took the job under ``job_id``: follow it from now on (False: not submitting any more)."""
    done = await conn.fetchval(
        "update workloads set job_id = $2, state = 'queued', updated_at = now()"
        " where id = $1 and state = 'submitting' returning true",
        workload_id,
        job_id,
    )
    return bool(done)


class Submitting(msgspec.Struct, frozen=True):
    """A job recorded before submission whose cluster job id was never written (see :mod:`.reconcile`)."""

    id: uuid.UUID
    api_version: str
    gpus: int
    time_limit_seconds: int
    peak_flops_per_gpu: float
    utilisation: float
    submitted_at: dt.datetime
    signals: dict[str, Any]
    cluster_user: str | None = None
    """The cluster user it was submitted as; None: the cluster's own user (before identities)."""


async def stale_submitting(conn: asyncpg.Connection, cluster: str, before: dt.datetime) -> list[Submitting]:
    rows = await conn.fetch(
        """
        select id, api_version, gpus, time_limit_seconds, peak_flops_per_gpu, utilisation, submitted_at,
               signals::text as signals, cluster_user
        from workloads where cluster = $1 and state = 'submitting' and submitted_at < $2
        order by submitted_at
        """,
        cluster,
        before,
    )
    return [Submitting(**{**dict(r), "signals": msgspec.json.decode(r["signals"])}) for r in rows]


async def claimed(conn: asyncpg.Connection, cluster: str, job_ids: Sequence[str]) -> set[str]:
    """Which of these cluster job ids a workload of the gateway already has."""
    rows = await conn.fetch(
        "select job_id from workloads where cluster = $1 and job_id = any($2::text[])", cluster, list(job_ids)
    )
    return {r[0] for r in rows}


async def reject(conn: asyncpg.Connection, workload_id: uuid.UUID, reason: str) -> list[Reservation] | None:
    """The cluster refused the job (or could not be reached): its reservations, to release in the
    same transaction (None: it was not being submitted any more)."""
    raw = await conn.fetchval(
        "update workloads set state = 'rejected', native_state = $2, updated_at = now()"
        " where id = $1 and state = 'submitting' returning reservations::text",
        workload_id,
        reason[:200],
    )
    return None if raw is None else _reservations(raw)


async def owned_job_ids(conn: asyncpg.Connection, cluster: str, customer_id: uuid.UUID) -> list[str]:
    """Every job id on this cluster that this customer submitted through the gateway."""
    rows = await conn.fetch(
        "select job_id from workloads where cluster = $1 and customer_id = $2 and job_id is not null",
        cluster,
        customer_id,
    )
    return [r[0] for r in rows]


async def owned_among(
    conn: asyncpg.Connection, cluster: str, customer_id: uuid.UUID, job_ids: Sequence[str]
) -> set[str]:
    """Which of ``job_ids`` on this cluster are this customer's."""
    rows = await conn.fetch(
        "select job_id from workloads where cluster = $1 and customer_id = $2 and job_id = any($3::text[])",
        cluster,
        customer_id,
        list(job_ids),
    )
    return {r[0] for r in rows}


async def job_user(
    conn: asyncpg.Connection, cluster: str, customer_id: uuid.UUID, job_id: str
) -> tuple[bool, str | None]:
    """``(owned, cluster user)``: whether the job is this customer's, and the user it runs as."""
    row = await conn.fetchrow(
        "select cluster_user from workloads where cluster = $1 and job_id = $2 and customer_id = $3",
        cluster,
        job_id,
        customer_id,
    )
    return (row is not None, row["cluster_user"] if row is not None else None)


async def owns(conn: asyncpg.Connection, cluster: str, customer_id: uuid.UUID, job_id: str) -> bool:
    found = await conn.fetchval(
        "select 1 from workloads where cluster = $1 and job_id = $2 and customer_id = $3",
        cluster,
        job_id,
        customer_id,
    )
    return found is not None


async def open_workloads(conn: asyncpg.Connection, cluster: str) -> list[OpenWorkload]:
    rows = await conn.fetch(
        """
        select id, cluster, job_id, api_version, state, gpus, time_limit_seconds, peak_flops_per_gpu,
               utilisation, submitted_at, started_at
        from workloads where cluster = $1 and state in ('queued', 'running') and job_id is not null
        order by submitted_at
        """,
        cluster,
    )
    return [OpenWorkload(**dict(r)) for r in rows]


async def mark_progress(
    conn: asyncpg.Connection, workload_id: uuid.UUID, state: str, native: str, started_at: dt.datetime | None
) -> None:
    await conn.execute(
        """
        update workloads set state = $2, native_state = $3, started_at = coalesce(started_at, $4),
               updated_at = now()
        where id = $1 and state in ('queued', 'running')
        """,
        workload_id,
        state,
        native,
        started_at,
    )


class Ended(msgspec.Struct, frozen=True, kw_only=True):
    """A job as it was settled: what the ledger's compute event and the quota settlement need."""

    id: uuid.UUID
    cluster: str
    kind: str
    job_id: str | None
    customer_id: uuid.UUID
    project_id: uuid.UUID | None
    key_id: str | None
    accelerator: str
    gpus: int
    submitted_at: dt.datetime
    started_at: dt.datetime | None
    ended_at: dt.datetime
    run_seconds: float
    gpu_seconds_settled: float
    flop_bound: float
    flop_expected: float
    flop_settled: float
    price_per_gpu_hour: float | None
    bio: bool
    native_state: str | None
    reservations: list[Reservation]


_ENDED = """
    id, cluster, kind, job_id, customer_id, project_id, key_id, accelerator, gpus, submitted_at,
    started_at, ended_at, coalesce(run_seconds, 0) as run_seconds, gpu_seconds_settled, flop_bound,
    flop_expected, flop_settled, price_per_gpu_hour, bio, native_state, reservations::text as reservations
"""


def _ended(row: asyncpg.Record) -> Ended:
    return Ended(**{**dict(row), "reservations": _reservations(row["reservations"])})


async def end(
    conn: asyncpg.Connection,
    workload_id: uuid.UUID,
    *,
    native: str,
    run_seconds: float,
    gpu_seconds: float,
    flop: float,
    started_at: dt.datetime | None,
    ended_at: dt.datetime,
) -> Ended | None:
    """Record the job's end, once: the job as ended, or None if another replica got there first.
    Call in the transaction that settles its reservations."""
    row = await conn.fetchrow(
        f"""
        update workloads
        set state = 'ended', native_state = $2, run_seconds = $3, gpu_seconds_settled = $4,
            flop_settled = $5, started_at = coalesce(started_at, $6), ended_at = $7, updated_at = now()
        where id = $1 and state in ('submitting', 'queued', 'running')
        returning {_ENDED}
        """,  # noqa: S608 - _ENDED is a constant
        workload_id,
        native,
        run_seconds,
        gpu_seconds,
        flop,
        started_at,
        ended_at,
    )
    return None if row is None else _ended(row)


async def ended_without_event(
    conn: asyncpg.Connection, since: dt.datetime, before: dt.datetime
) -> list[Ended]:
    """Jobs that ended in ``[since, before)`` with no compute event in the ledger: their event was
    lost with the process that settled them (it is written in batches, after the settlement)."""
    rows = await conn.fetch(
        f"""
        select {_ENDED} from workloads w
        where state = 'ended' and ended_at >= $1 and ended_at < $2
          and not exists (
              select 1 from compute_events e where e.workload_id = w.id and e.occurred_at = w.ended_at
          )
        order by ended_at
        """,  # noqa: S608 - _ENDED is a constant
        since,
        before,
    )
    return [_ended(r) for r in rows]
