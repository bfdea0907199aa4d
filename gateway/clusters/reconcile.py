"""Jobs whose submission the gateway lost: find them on the cluster, or decide they never were.

A job's workload row is written (``submitting``) before the cluster sees the job, and gets the
cluster's job id once the cluster answers. A gateway that dies in between leaves a row without a
job id: the job may be running, unfollowed, or may never have been created. Once no submission
can still be in flight (the cluster's timeouts have passed), the follower looks for it:

- **Kubernetes**: the gateway labels every Job it creates with its workload id
  (:data:`WORKLOAD_LABEL`), so the Job is found by that label, or is not there.
- **Slurm** jobs carry nothing of the gateway's, so the job is recognised by what the row says
  of it: submitted as the row's cluster user (the customer's identity), within the submission's
  time, with the row's name, working directory and time limit, and not already another
  workload's. Only a one-to-one match is taken: a job two lost rows could be, or a row two jobs
  could be, is never guessed at.

The verdicts (:func:`verdict`): a job found is **adopted** (followed and settled like any
other). No job found while the cluster would still list it, even had it ended (younger than
``min_job_age``), means it was never created: the row is **rejected** and its reservation
released. Past that, or with the match still ambiguous, nobody can tell: the row is **charged**
the most the job can have computed (its GPUs for the time since submission, at most its time
limit), the same rule as for a job the cluster has forgotten. That fails closed: quota and
training compute may be over-counted, never under-counted.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Literal

from .repository import Submitting
from .slurm import JobRecord

WORKLOAD_LABEL = "kyc-gateway.io/workload"
"""The label on every Kubernetes Job the gateway creates: the id of its workload record."""

_CLOCK_SKEW_SECONDS = 5.0
"""Slurm's submit time and the gateway's clock may disagree this much."""

Verdict = Literal["adopt", "reject", "charge", "wait"]


def verdict(found: int, age_seconds: float, min_job_age_seconds: float) -> Verdict:
    """What to do with a lost submission, given how many jobs could be it (-1: ambiguous)."""
    if found == 1:
        return "adopt"
    if age_seconds >= min_job_age_seconds:
        return "charge"  # an ended job may already be gone from the cluster's lists
    return "reject" if found == 0 else "wait"


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
