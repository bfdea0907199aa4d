"""The ledger's two kinds of record: what one API call was (:class:`UsageEvent`) and what one
cluster job computed (:class:`ComputeEvent`). Regulator reports and detection read both, through
:mod:`.repository`, and nothing else."""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec


class UsageEvent(msgspec.Struct, frozen=True):
    request_id: uuid.UUID
    occurred_at: dt.datetime
    customer_id: uuid.UUID
    project_id: uuid.UUID
    key_id: str
    upstream: str | None
    route: str
    model: str | None
    stream: bool
    status: int
    error_code: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    usage_complete: bool
    """False when the tokens are partial or estimated (a stream cut short)."""
    duration_ms: float
    bytes_in: int
    bytes_out: int
    client_ip: str | None
    origin_country: str | None = None
    """The client address's country, when known."""
    policy_hash: str | None = None
    """The jurisdiction policy version that decided the request, when it was decided."""


class ComputeEvent(msgspec.Struct, frozen=True, kw_only=True):
    """What one cluster job computed, recorded once, when it is settled.

    The calls that submitted, read and cancelled the job are usage events of their own; this is
    the job itself: its bound and expectation from admission beside what it settled at.
    """

    workload_id: uuid.UUID
    """The job's workload record: at most one compute event each."""
    occurred_at: dt.datetime
    """When the job ended (or was concluded to have: a lost or forgotten job)."""
    customer_id: uuid.UUID
    project_id: uuid.UUID | None
    key_id: str | None
    cluster: str
    kind: str
    """The cluster's API: ``slurm`` or ``kubernetes``."""
    job_id: str | None
    """The cluster's job id; None for a submission lost before the cluster answered."""
    accelerator: str
    gpus: int
    submitted_at: dt.datetime
    started_at: dt.datetime | None
    run_seconds: float
    gpu_seconds: float
    flop_bound: float
    """The most it could compute: GPUs x time limit x peak, reserved at admission."""
    flop_expected: float
    """The bound x the policy's utilisation: what it was expected to compute."""
    flop_settled: float
    """What it is counted to have computed: GPUs x run time x peak x utilisation."""
    spend: float | None
    """GPU-hours at the price it was admitted with; None: it had no price (no spend limit)."""
    bio: bool
    """Declared as training on biological sequences."""
    native_state: str | None
    """The cluster's last word on it (``COMPLETED``, ``Failed``, ``LOST`` ...)."""


USAGE_COLUMNS: tuple[str, ...] = tuple(f.name for f in msgspec.structs.fields(UsageEvent))
COMPUTE_COLUMNS: tuple[str, ...] = tuple(f.name for f in msgspec.structs.fields(ComputeEvent))
