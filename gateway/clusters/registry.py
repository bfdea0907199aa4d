"""Which adapter serves which kind of cluster: the one place that knows them all."""

from __future__ import annotations

from collections.abc import Mapping

from ..settings import ClusterSettings
from .adapter import ClusterAdapter
from .cluster import Cluster
from .kubernetes import KubernetesAdapter
from .slurm import SlurmAdapter


def adapter_for(settings: ClusterSettings, environ: Mapping[str, str]) -> ClusterAdapter:
    if settings.kind == "slurm":
        return SlurmAdapter(settings, environ)
    return KubernetesAdapter(settings, environ)


def open_cluster(settings: ClusterSettings, environ: Mapping[str, str]) -> Cluster:
    """The configured cluster, with its HTTP client and its kind's adapter."""
    return Cluster(settings, adapter_for(settings, environ))
