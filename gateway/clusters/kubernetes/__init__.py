"""Kubernetes ``batch/v1`` Jobs, as kubectl uses them: the adapter (:mod:`.adapter`), its routes
(:mod:`.routes`, confined to the customer's namespaces, :mod:`.namespaces`; errors as ``Status``
objects, :mod:`.status`) and the follower's readers (:mod:`.follow`); submissions read into a
:class:`~gateway.clusters.workload.Workload` (:mod:`.jobs`) under the cluster's Pod Security Standard
(:mod:`.pod_security`), and replies read and filtered (:mod:`.replies`). The readers are pure
functions, no I/O."""

from .adapter import KubernetesAdapter
from .jobs import GPU_PRODUCT_LABELS, GPU_RESOURCES, parse_job
from .replies import WORKLOAD_LABEL, K8sJobState, filter_job_list, job_names, parse_job_status, with_label

__all__ = [
    "GPU_PRODUCT_LABELS",
    "GPU_RESOURCES",
    "WORKLOAD_LABEL",
    "K8sJobState",
    "KubernetesAdapter",
    "filter_job_list",
    "job_names",
    "parse_job",
    "parse_job_status",
    "with_label",
]
