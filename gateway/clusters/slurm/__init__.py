"""Slurm REST (slurmrestd): the adapter (:mod:`.adapter`), its routes (:mod:`.routes`) and the
follower's readers (:mod:`.follow`, :mod:`.lost`); submissions read into a
:class:`~gateway.clusters.workload.Workload` (:mod:`.submit`), confined to the customer's own cluster
identity (:mod:`.confine`), and job replies read and filtered (:mod:`.replies`). The readers are pure
functions, no I/O."""

from .adapter import SlurmAdapter
from .common import FINISHED_STATES, NO_VAL, SUPPORTED_VERSIONS, version_of
from .replies import (
    JobRecord,
    accounting_path,
    filter_jobs,
    parse_accounting,
    parse_jobs,
    slurm_errors,
    submit_reply_job_id,
)
from .submit import parse_submit

__all__ = [
    "FINISHED_STATES",
    "NO_VAL",
    "SUPPORTED_VERSIONS",
    "JobRecord",
    "SlurmAdapter",
    "accounting_path",
    "filter_jobs",
    "parse_accounting",
    "parse_jobs",
    "parse_submit",
    "slurm_errors",
    "submit_reply_job_id",
    "version_of",
]
