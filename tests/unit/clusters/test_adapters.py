"""The cluster adapters behind the one seam: each reads its own kind's job bodies, says who it calls
the cluster as, and answers refusals in the shape its clients read."""

from __future__ import annotations

import msgspec
import pytest

from gateway.clusters.registry import adapter_for
from gateway.errors import BadRequest, NotFound
from gateway.settings import ClusterSettings

SLURM = ClusterSettings(name="lab", kind="slurm", base_url="http://lab", region="US", user="gw", node_gpus=8)
KUBE = ClusterSettings(name="kube", kind="kubernetes", base_url="http://kube", region="US", token_env="T")
SUBMISSION = {
    "script": "#!/bin/bash\nsrun train.py\n",
    "job": {"name": "t", "gres": "gpu:h100:4", "nodes": 2, "time_limit": 10, "environment": {"A": "1"}},
}
JOB = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"name": "train"},
    "spec": {
        "parallelism": 3,
        "activeDeadlineSeconds": 600,
        "template": {
            "spec": {
                "containers": [{"name": "c", "image": "i", "resources": {"limits": {"nvidia.com/gpu": 2}}}]
            }
        },
    },
}


def test_the_registry_picks_each_kinds_adapter() -> None:
    assert adapter_for(SLURM, {}).kind == "slurm"
    assert adapter_for(KUBE, {"T": "t"}).kind == "kubernetes"


def test_slurm_reads_a_submission_of_any_supported_version_into_its_bound() -> None:
    slurm = adapter_for(SLURM, {})
    work = slurm.read_job("/slurm/v0.0.38/job/submit", msgspec.json.encode(SUBMISSION))
    assert (work.kind, work.gpus, work.gpu_type, work.time_limit_seconds) == ("slurm", 8, "h100", 600)
    with pytest.raises(NotFound):
        slurm.read_job("/slurm/v0.0.38/jobs", b"{}")  # not a submission
    with pytest.raises(BadRequest) as refused:
        slurm.read_job("/slurm/v0.0.99/job/submit", msgspec.json.encode(SUBMISSION))
    assert refused.value.code == "unsupported_api_version"


def test_kubernetes_reads_a_job_in_the_namespace_of_its_path() -> None:
    kube = adapter_for(KUBE, {"T": "t"})
    work = kube.read_job("/apis/batch/v1/namespaces/c-0123456789ab/jobs", msgspec.json.encode(JOB))
    assert (work.kind, work.gpus, work.namespace, work.time_limit_seconds) == (
        "kubernetes",
        6,
        "c-0123456789ab",
        600,
    )
    with pytest.raises(NotFound):
        kube.read_job("/api/v1/namespaces/c-0123456789ab", msgspec.json.encode(JOB))


def test_each_calls_its_cluster_with_the_clusters_own_credential() -> None:
    kube = adapter_for(KUBE, {"T": "secret"})
    assert kube.auth_headers("alice") == [("Authorization", "Bearer secret")]  # Jobs run in namespaces
    slurm = adapter_for(msgspec.structs.replace(SLURM, token_env="S"), {"S": "tok"})
    assert slurm.auth_headers("alice") == [("X-SLURM-USER-NAME", "alice"), ("X-SLURM-USER-TOKEN", "tok")]
    assert slurm.auth_headers(None)[0] == ("X-SLURM-USER-NAME", "gw")  # the gateway's own user


def test_refusals_come_in_the_shape_each_kinds_clients_read() -> None:
    err = NotFound("no job 7 of yours", code="job_not_found")
    slurm = msgspec.json.decode(adapter_for(SLURM, {}).error_body(err, "r1"))
    assert slurm["error"]["code"] == "job_not_found" and slurm["error"]["request_id"] == "r1"
    kube = msgspec.json.decode(adapter_for(KUBE, {}).error_body(err, "r1"))
    assert (kube["kind"], kube["reason"], kube["code"]) == ("Status", "NotFound", 404)
    assert kube["message"] == "no job 7 of yours (job_not_found; request id r1)"
