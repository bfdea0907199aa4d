"""Finding the Slurm job of a submission whose answer was lost (see :mod:`gateway.clusters.reconcile`).

Slurm jobs carry nothing of the gateway's, so a job is recognised by what the workload row says of
it: submitted as the row's cluster user, within the submission's time, with the row's name, working
directory and time limit, and not already another workload's. Only a one-to-one match is taken.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .replies import JobRecord

if TYPE_CHECKING:
    from ..repository import Submitting

_CLOCK_SKEW_SECONDS = 5.0
"""Slurm's submit time and the gateway's clock may disagree this much."""


def match_slurm(
    lost: Sequence[Submitting], jobs: Sequence[JobRecord], *, user: str, window_seconds: float
) -> dict[uuid.UUID, tuple[int, int | None]]:
    """For each lost row, ``(candidates, job id)``: the job id only for a one-to-one match.

    ``jobs`` are the cluster's jobs that no workload has claimed; ``window_seconds`` is how long
    after the row was written the cluster can have taken the job (its submission timeouts).
    ``candidates`` is -1 when the only candidate could be another lost row's job as well.
    """
    could_be: dict[uuid.UUID, list[int]] = {}
    claimants: dict[int, int] = {}
    for row in lost:
        found = [job.job_id for job in jobs if _could_be(row, job, user, window_seconds)]
        could_be[row.id] = found
        for job_id in found:
            claimants[job_id] = claimants.get(job_id, 0) + 1
    out: dict[uuid.UUID, tuple[int, int | None]] = {}
    for row_id, found in could_be.items():
        if len(found) == 1 and claimants[found[0]] == 1:
            out[row_id] = (1, found[0])
        else:
            out[row_id] = (-1 if found else 0, None)
    return out


def _could_be(row: Submitting, job: JobRecord, user: str, window_seconds: float) -> bool:
    if job.array_job_id not in (None, job.job_id):
        return False  # a task of an array: the submission returned the array's own id
    if job.user_name is not None and job.user_name != (row.cluster_user or user):
        return False
    if job.submit_time is None:
        return False
    submitted = row.submitted_at.timestamp()
    if (
        not submitted - _CLOCK_SKEW_SECONDS
        <= job.submit_time
        <= submitted + window_seconds + _CLOCK_SKEW_SECONDS
    ):
        return False
    if job.time_limit_minutes is not None and job.time_limit_minutes * 60 != row.time_limit_seconds:
        return False
    name = row.signals.get("name")
    if name is not None and job.name is not None and job.name != name:
        return False
    directory = row.signals.get("working_directory")
    return directory is None or job.working_directory is None or job.working_directory == directory
