"""Cluster job APIs (Slurm REST, Kubernetes batch/v1 Jobs): what a job asks for, read from its body.

Pure functions, no I/O: a submission becomes a typed :class:`Workload` (an upper bound on the GPUs
and GPU-seconds it may use), job replies become typed records, and list replies are filtered down
to the jobs a caller may see.
"""

from . import kubernetes, slurm
from .kubernetes import K8sJobState, filter_job_list, parse_job, parse_job_status
from .slurm import (
    SUPPORTED_VERSIONS,
    JobRecord,
    filter_jobs,
    parse_jobs,
    parse_submit,
    slurm_errors,
    submit_reply_job_id,
    version_of,
)
from .workload import Workload

__all__ = [
    "SUPPORTED_VERSIONS",
    "JobRecord",
    "K8sJobState",
    "Workload",
    "filter_job_list",
    "filter_jobs",
    "kubernetes",
    "parse_job",
    "parse_job_status",
    "parse_jobs",
    "parse_submit",
    "slurm",
    "slurm_errors",
    "submit_reply_job_id",
    "version_of",
]
