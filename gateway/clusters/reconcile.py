"""Jobs whose submission the gateway lost: find them on the cluster, or decide they never were.

A job's workload row is written (``submitting``) before the cluster sees the job, and gets the
cluster's job id once the cluster answers. A gateway that dies in between leaves a row without a
job id: the job may be running, unfollowed, or may never have been created. Once no submission
can still be in flight (the cluster's timeouts have passed), the follower looks for it:

- **Kubernetes**: the gateway labels every Job it creates with its workload id
  (:data:`~gateway.clusters.kubernetes.replies.WORKLOAD_LABEL`), so the Job is found by that
  label, or is not there.
- **Slurm** jobs carry nothing of the gateway's, so the job is recognised by what the row says
  of it: submitted as the row's cluster user (the customer's identity), within the submission's
  time, with the row's name, working directory and time limit, and not already another
  workload's (:mod:`~gateway.clusters.slurm.lost`). Only a one-to-one match is taken: a job two
  lost rows could be, or a row two jobs could be, is never guessed at.

The verdicts (:func:`verdict`): a job found is **adopted** (followed and settled like any
other). No job found while the cluster would still list it, even had it ended (younger than
``min_job_age``), means it was never created: the row is **rejected** and its reservation
released. Past that, or with the match still ambiguous, nobody can tell: the row is **charged**
the most the job can have computed (its GPUs for the time since submission, at most its time
limit), the same rule as for a job the cluster has forgotten. That fails closed: quota and
training compute may be over-counted, never under-counted.
"""

from __future__ import annotations

from typing import Literal

Verdict = Literal["adopt", "reject", "charge", "wait"]


def verdict(found: int, age_seconds: float, min_job_age_seconds: float) -> Verdict:
    """What to do with a lost submission, given how many jobs could be it (-1: ambiguous)."""
    if found == 1:
        return "adopt"
    if age_seconds >= min_job_age_seconds:
        return "charge"  # an ended job may already be gone from the cluster's lists
    return "reject" if found == 0 else "wait"
