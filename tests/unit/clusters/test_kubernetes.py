"""Kubernetes batch/v1 Jobs: a Job body read into a bounded workload, statuses read, job lists filtered."""

from __future__ import annotations

import copy
from typing import Any

import msgspec
import pytest

from gateway.clusters.kubernetes import K8sJobState, filter_job_list, parse_job, parse_job_status
from gateway.clusters.workload import Workload
from gateway.errors import BadRequest, UpstreamUnavailable

DROP = object()
"""In a table of changes: remove the key."""

# What `kubectl create -f job.yaml -o json --dry-run=client` sends for a two-container training job.
JOB: dict[str, Any] = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"name": "train-llm", "namespace": "team-a", "labels": {"app": "train"}},
    "spec": {
        "parallelism": 3,
        "completions": 3,
        "completionMode": "Indexed",
        "backoffLimit": 2,
        "activeDeadlineSeconds": 7200,
        "template": {
            "metadata": {"labels": {"app": "train"}},
            "spec": {
                "restartPolicy": "Never",
                "nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
                "containers": [
                    {
                        "name": "trainer",
                        "image": "registry.example.com/train:1.4",
                        "command": ["torchrun", "train.py"],
                        "resources": {
                            "limits": {"nvidia.com/gpu": "4", "cpu": "16", "memory": "128Gi"},
                            "requests": {"cpu": "8", "memory": "64Gi"},
                        },
                    },
                    {
                        "name": "evaluator",
                        "image": "registry.example.com/eval:1.4",
                        "resources": {"limits": {"nvidia.com/gpu": "4"}},
                    },
                ],
                "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
            },
        },
    },
}


def job_body(
    *,
    spec: dict[str, Any] | None = None,
    pod: dict[str, Any] | None = None,
    top: dict[str, Any] | None = None,
    containers: list[dict[str, Any]] | None = None,
) -> bytes:
    """``JOB`` with keys of its spec, pod spec and top level changed (``DROP`` removes one)."""
    out = copy.deepcopy(JOB)
    if containers is not None:
        out["spec"]["template"]["spec"]["containers"] = containers
    for target, changes in ((out["spec"]["template"]["spec"], pod), (out["spec"], spec), (out, top)):
        for key, value in (changes or {}).items():
            if value is DROP:
                target.pop(key, None)
            else:
                target[key] = value
    return msgspec.json.encode(out)


def gpus(
    limits: dict[str, Any] | None = None, requests: dict[str, Any] | None = None, **more: Any
) -> dict[str, Any]:
    """A container asking for these resources."""
    resources = {k: v for k, v in (("limits", limits), ("requests", requests)) if v is not None}
    return {"name": "c", "image": "busybox", "resources": resources, **more}


def refusal(raw: bytes) -> BadRequest:
    with pytest.raises(BadRequest) as refused:
        parse_job(raw)
    return refused.value


def test_two_containers_of_four_gpus_times_three_pods_is_24_gpus() -> None:
    workload = parse_job(msgspec.json.encode(JOB))
    assert workload == Workload(
        kind="kubernetes",
        gpus_per_node=8,
        nodes=3,
        array_tasks=1,
        gpu_type="h100",
        time_limit_seconds=7200,
        name="train-llm",
        namespace="team-a",
    )
    assert workload.gpus == 24
    assert workload.gpu_seconds_bound == 24 * 7200
    assert (workload.partition, workload.tasks) == (None, None)


@pytest.mark.parametrize(
    ("containers", "init", "per_pod"),
    [
        ([gpus({"nvidia.com/gpu": 2})], None, 2),  # an int quantity
        ([gpus({"amd.com/gpu": "1"})], None, 1),
        ([gpus({"nvidia.com/gpu": "2", "amd.com/gpu": "1"})], None, 3),
        ([gpus(requests={"nvidia.com/gpu": "2"})], None, 2),  # the API server refuses it; the bound counts it
        ([gpus({"nvidia.com/gpu": "2"}, {"nvidia.com/gpu": "2"})], None, 2),  # limit and request are one ask
        ([gpus({"nvidia.com/gpu": "1"}, {"nvidia.com/gpu": "3"})], None, 3),  # the larger one
        ([gpus({"cpu": 0.5, "memory": "1Gi"})], None, 0),  # a CPU-only job; numbers tolerated
        ([{"name": "c", "image": "busybox"}], None, 0),
        ([gpus({"nvidia.com/gpu": "0"})], None, 0),
        ([gpus({"google.com/tpu": "4"})], None, 0),  # not a GPU
        # init containers run one after the other, before the containers
        ([gpus({"nvidia.com/gpu": "2"})], [gpus({"nvidia.com/gpu": "8"})], 8),
        ([gpus({"nvidia.com/gpu": "4"})], [gpus({"nvidia.com/gpu": "1"}), gpus({"nvidia.com/gpu": "2"})], 4),
        # a sidecar (restartPolicy: Always) runs beside what starts after it
        ([gpus({"nvidia.com/gpu": "4"})], [gpus({"nvidia.com/gpu": "1"}, restartPolicy="Always")], 5),
        (
            [gpus({"nvidia.com/gpu": "4"})],
            [gpus({"nvidia.com/gpu": "1"}, restartPolicy="Always"), gpus({"nvidia.com/gpu": "8"})],
            9,
        ),
        (
            [gpus({"nvidia.com/gpu": "4"})],
            [gpus({"nvidia.com/gpu": "8"}), gpus({"nvidia.com/gpu": "1"}, restartPolicy="Always")],
            8,
        ),
        ([gpus({"nvidia.com/gpu": "1"})], [], 1),
    ],
)
def test_gpus_per_pod(
    containers: list[dict[str, Any]], init: list[dict[str, Any]] | None, per_pod: int
) -> None:
    pod = {"initContainers": init} if init is not None else {}
    workload = parse_job(job_body(containers=containers, pod=pod))
    assert workload.gpus_per_node == per_pod
    assert workload.gpus == per_pod * 3


@pytest.mark.parametrize(
    ("spec", "nodes"),
    [
        ({"parallelism": DROP}, 1),
        ({"parallelism": None}, 1),
        ({"parallelism": 8, "completions": 2}, 8),  # completions do not lower the bound
        ({"parallelism": 0}, 0),  # a Job that starts no pod yet
    ],
)
def test_parallelism_is_the_node_count(spec: dict[str, Any], nodes: int) -> None:
    workload = parse_job(job_body(spec=spec))
    assert (workload.nodes, workload.gpus) == (nodes, 8 * nodes)


@pytest.mark.parametrize(
    ("selector", "gpu_type"),
    [
        ({"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}, "h100"),
        ({"nvidia.com/gpu.product": "NVIDIA-H100-NVL"}, "h100"),
        ({"nvidia.com/gpu.product": "NVIDIA-H200"}, "h200"),
        ({"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}, "a100"),
        ({"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-40GB-MIG-1g.5gb"}, "a100"),
        ({"nvidia.com/gpu.product": "NVIDIA-B200"}, "b200"),
        ({"nvidia.com/gpu.product": "NVIDIA-GB200"}, "gb200"),
        ({"nvidia.com/gpu.product": "nvidia-gb200-nvl72"}, "gb200"),
        # Not an H200, and not a model of the short list: the catalog must know it (else the job is
        # refused with unknown_accelerator), never the cluster's default.
        ({"nvidia.com/gpu.product": "NVIDIA-GH200-480GB"}, "nvidia-gh200-480gb"),
        ({"nvidia.com/gpu.product": "Tesla-V100-SXM2-16GB"}, "tesla-v100-sxm2-16gb"),
        ({"nvidia.com/gpu.product": "NVIDIA-L40S"}, "nvidia-l40s"),
        ({"amd.com/gpu.product-name": "AMD_Instinct_MI300X_OAM"}, "mi300x"),
        ({"amd.com/gpu.product-name": "AMD-Instinct-MI325X"}, "mi325x"),
        ({"kubernetes.io/arch": "amd64"}, None),
        ({}, None),
        (DROP, None),
    ],
)
def test_the_gpu_type_comes_from_the_node_selector(selector: Any, gpu_type: str | None) -> None:
    assert parse_job(job_body(pod={"nodeSelector": selector})).gpu_type == gpu_type


H100 = "NVIDIA-H100-80GB-HBM3"
A100 = "NVIDIA-A100-SXM4-80GB"
B200 = "NVIDIA-B200"
REQUIRED = "spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"


def expression(
    values: list[str] | None, operator: str = "In", key: str = "nvidia.com/gpu.product"
) -> dict[str, Any]:
    out: dict[str, Any] = {"key": key, "operator": operator}
    if values is not None:
        out["values"] = values
    return out


def affinity(*terms: list[dict[str, Any]], preferred: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A pod spec's node affinity: required terms (each a list of match expressions), ORed."""
    node: dict[str, Any] = {}
    if terms:
        node["requiredDuringSchedulingIgnoredDuringExecution"] = {
            "nodeSelectorTerms": [{"matchExpressions": term} for term in terms]
        }
    if preferred is not None:
        node["preferredDuringSchedulingIgnoredDuringExecution"] = [
            {"weight": 100, "preference": {"matchExpressions": preferred}}
        ]
    return {"nodeAffinity": node}


def with_affinity(value: dict[str, Any], selector: Any = DROP) -> bytes:
    return job_body(pod={"affinity": value, "nodeSelector": selector})


AFFINITY_GPU_TYPES: list[tuple[dict[str, Any], Any, str | None]] = [
    (affinity([expression([H100])]), DROP, "h100"),
    (affinity([expression(["NVIDIA-H100-80GB-HBM3", "NVIDIA-H100-NVL"])]), DROP, "h100"),  # one model
    (affinity([expression([H100])], [expression(["NVIDIA-H100-NVL"])]), DROP, "h100"),
    (affinity([expression(["AMD_Instinct_MI300X_OAM"], key="amd.com/gpu.product-name")]), DROP, "mi300x"),
    (affinity([expression([B200]), expression(["amd64"], key="kubernetes.io/arch")]), DROP, "b200"),
    # Terms that name no GPU model: the cluster's default, as without any affinity.
    (affinity([expression(["amd64"], key="kubernetes.io/arch")]), DROP, None),
    (affinity([expression(["x"], operator="NotIn", key="example.com/pool")]), DROP, None),
    (affinity(), DROP, None),
    ({}, DROP, None),
    ({"podAntiAffinity": {}}, DROP, None),
    # nodeSelector and affinity both apply: the same model is fine.
    (affinity([expression([H100])]), {"nvidia.com/gpu.product": H100}, "h100"),
    (affinity([expression(["amd64"], key="kubernetes.io/arch")]), {"nvidia.com/gpu.product": B200}, "b200"),
    # A preference does not constrain: it can neither lower the charge nor replace a requirement.
    (affinity(preferred=[expression([A100])]), DROP, None),
    (affinity([expression([H100])], preferred=[expression([A100])]), DROP, "h100"),
    # A model the short list does not know goes to the catalog by its label value, never the default.
    (affinity([expression(["NVIDIA-L40S"])]), DROP, "nvidia-l40s"),
]


def test_the_gpu_type_comes_from_required_node_affinity_too() -> None:
    # One table, one test: the cases that name no model (the default) guard the ones that do.
    got = [parse_job(with_affinity(value, selector)).gpu_type for value, selector, _ in AFFINITY_GPU_TYPES]
    assert got == [gpu_type for _, _, gpu_type in AFFINITY_GPU_TYPES]


@pytest.mark.parametrize(
    ("value", "selector", "message"),
    [
        # Terms are ORed: the job may land on either model, and the gateway charges one.
        (
            affinity([expression([A100])], [expression([H100])]),
            DROP,
            f"{REQUIRED}.nodeSelectorTerms: the job may run on more than one GPU model (a100, h100) and is "
            "charged for one; name a single model",
        ),
        (affinity([expression([A100, H100])]), DROP, f"{REQUIRED}.nodeSelectorTerms: the job may run on"),
        (
            affinity(
                [expression([H100]), expression(["AMD-Instinct-MI325X"], key="amd.com/gpu.product-name")]
            ),
            DROP,
            f"{REQUIRED}.nodeSelectorTerms: the job may run on more than one GPU model (h100, mi325x)",
        ),
        # A term without a GPU model lets the job run on any GPU, beside the other term's model.
        (
            affinity([expression([A100])], [expression(["amd64"], key="kubernetes.io/arch")]),
            DROP,
            f"{REQUIRED}.nodeSelectorTerms[1]: this term names no GPU model while nodeSelectorTerms[0] names "
            "a100: the job could run on any GPU; name the model in every term",
        ),
        (
            affinity([expression([A100])], []),
            DROP,
            f"{REQUIRED}.nodeSelectorTerms[1]: this term names no GPU",
        ),
        # nodeSelector and affinity disagree.
        (
            affinity([expression([H100])]),
            {"nvidia.com/gpu.product": A100},
            "spec.template.spec: the job may run on more than one GPU model (a100, h100)",
        ),
        # Operators that do not name the models: the job could land on any of them.
        (
            affinity([expression([A100], operator="NotIn")]),
            DROP,
            f"{REQUIRED}.nodeSelectorTerms[0].matchExpressions[0].operator: 'NotIn' on nvidia.com/gpu.product "
            "does not say which GPU model the job runs on; use 'In' with the model's "
            "nvidia.com/gpu.product value",
        ),
        (
            affinity([expression(None, operator="Exists")]),
            DROP,
            f"{REQUIRED}.nodeSelectorTerms[0].matchExpressions[0].operator: 'Exists'",
        ),
        (
            affinity([expression(None, operator="DoesNotExist")]),
            DROP,
            f"{REQUIRED}.nodeSelectorTerms[0].matchExpressions[0].operator: 'DoesNotExist' on nvidia.com/gpu.product",
        ),
        (
            affinity([expression(["1"], operator="Gt", key="amd.com/gpu.product-name")]),
            DROP,
            f"{REQUIRED}.nodeSelectorTerms[0].matchExpressions[0].operator: 'Gt' on amd.com/gpu.product-name",
        ),
        (
            affinity([expression([H100]), expression([A100], operator="NotIn")]),
            DROP,
            f"{REQUIRED}.nodeSelectorTerms[0].matchExpressions[1].operator: 'NotIn' on nvidia.com",
        ),
    ],
)
def test_affinity_that_could_hide_a_pricier_gpu_is_refused(
    value: dict[str, Any], selector: Any, message: str
) -> None:
    refused = refusal(with_affinity(value, selector))
    assert (refused.code, refused.status) == ("unsupported_job", 400), refused.message
    assert refused.message.startswith(message), refused.message


@pytest.mark.parametrize(
    ("pod", "code", "message"),
    [
        (
            {"affinity": affinity([expression([])])},
            "invalid_job",
            f"{REQUIRED}.nodeSelectorTerms[0].matchExpressions[0].values: operator In needs at least one value",
        ),
        (
            {"affinity": affinity([expression([" "])])},
            "unknown_accelerator",
            f"{REQUIRED}.nodeSelectorTerms[0].matchExpressions[0].values[0]: ' ' names no GPU model",
        ),
        (
            {"nodeSelector": {"nvidia.com/gpu.product": ""}},
            "unknown_accelerator",
            "spec.template.spec.nodeSelector['nvidia.com/gpu.product']: '' names no GPU model",
        ),
        (
            {"affinity": affinity([{"key": "nvidia.com/gpu.product", "operator": "In", "values": H100}])},
            "invalid_job",
            f"{REQUIRED}.nodeSelectorTerms[0].matchExpressions[0].values: expected `array | null`",
        ),
        (
            {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {}}}},
            "invalid_job",
            f"{REQUIRED}.nodeSelectorTerms: is required",
        ),
    ],
)
def test_unreadable_affinity(pod: dict[str, Any], code: str, message: str) -> None:
    refused = refusal(job_body(pod=pod))
    assert refused.code == code, refused.message
    assert refused.message.startswith(message), refused.message


@pytest.mark.parametrize(
    ("metadata", "default", "name", "namespace"),
    [
        ({"name": "a", "namespace": "team-a"}, "default", "a", "team-a"),
        ({"name": "a"}, "team-b", "a", "team-b"),
        ({"name": "a"}, None, "a", None),
        ({"generateName": "sweep-"}, "team-b", "sweep-", "team-b"),
        ({"name": "a", "generateName": "sweep-"}, None, "a", None),
        ({}, "team-b", None, "team-b"),
        (DROP, "team-b", None, "team-b"),
    ],
)
def test_name_and_namespace(
    metadata: Any, default: str | None, name: str | None, namespace: str | None
) -> None:
    workload = parse_job(job_body(top={"metadata": metadata}), default_namespace=default)
    assert (workload.name, workload.namespace) == (name, namespace)


@pytest.mark.parametrize(
    ("raw", "code", "message"),
    [
        (b"{", "invalid_json", "the body is not valid JSON"),
        (b"apiVersion: batch/v1\nkind: Job\n", "invalid_json", "the body is not valid JSON"),  # YAML
        (b"[]", "invalid_job", "body: expected `object`, got `array`"),
        (b"{}", "invalid_job", "apiVersion: expected 'batch/v1', got None"),
        (b'{"apiVersion": 1}', "invalid_job", "apiVersion: expected `str | null`, got `int`"),
    ],
)
def test_unreadable_bodies(raw: bytes, code: str, message: str) -> None:
    refused = refusal(raw)
    assert (refused.code, refused.status) == (code, 400)
    assert refused.message.startswith(message), refused.message


@pytest.mark.parametrize(
    ("changes", "code", "message"),
    [
        ({"top": {"kind": "CronJob"}}, "invalid_job", "kind: expected 'Job', got 'CronJob'"),
        (
            {"top": {"kind": "Pod", "apiVersion": "v1"}},
            "invalid_job",
            "apiVersion: expected 'batch/v1', got 'v1'",
        ),
        ({"top": {"apiVersion": "batch/v1beta1"}}, "invalid_job", "apiVersion: expected 'batch/v1'"),
        ({"top": {"kind": DROP}}, "invalid_job", "kind: expected 'Job', got None"),
        (
            {"spec": {"activeDeadlineSeconds": DROP}},
            "unbounded_job",
            "spec.activeDeadlineSeconds: a job needs a finite time limit (its compute cannot be bounded "
            "otherwise); give a number of seconds > 0 (it is missing)",
        ),
        (
            {"spec": {"activeDeadlineSeconds": None}},
            "unbounded_job",
            "spec.activeDeadlineSeconds: a job needs",
        ),
        ({"spec": {"activeDeadlineSeconds": 0}}, "unbounded_job", "spec.activeDeadlineSeconds: a job needs"),
        (
            {"spec": {"activeDeadlineSeconds": -60}},
            "unbounded_job",
            "spec.activeDeadlineSeconds: a job needs",
        ),
        (
            {"spec": {"activeDeadlineSeconds": "3600"}},
            "invalid_job",
            "spec.activeDeadlineSeconds: expected `int | null`, got `str`",
        ),
        ({"spec": {"parallelism": -1}}, "invalid_job", "spec.parallelism: must not be negative (got -1)"),
        ({"spec": {"parallelism": "3"}}, "invalid_job", "spec.parallelism: expected `int | null`, got `str`"),
        ({"top": {"spec": DROP}}, "invalid_job", "spec: is required"),
        ({"spec": {"template": DROP}}, "invalid_job", "spec.template: is required"),
        ({"spec": {"template": {"metadata": {}}}}, "invalid_job", "spec.template.spec: is required"),
        ({"pod": {"containers": DROP}}, "invalid_job", "spec.template.spec.containers: is required"),
        (
            {"pod": {"containers": []}},
            "invalid_job",
            "spec.template.spec.containers: a pod needs at least one",
        ),
        ({"pod": {"containers": {}}}, "invalid_job", "spec.template.spec.containers: expected `array`"),
        ({"top": {"metadata": []}}, "invalid_job", "metadata: expected `object | null`, got `array`"),
        (
            {"containers": [gpus({"nvidia.com/gpu": "2.5"})]},
            "invalid_job",
            "spec.template.spec.containers[0].resources.limits['nvidia.com/gpu']: expected a whole number of "
            "GPUs, got '2.5'",
        ),
        (
            {"containers": [gpus({"nvidia.com/gpu": 1.0})]},
            "invalid_job",
            "spec.template.spec.containers[0].resources.limits['nvidia.com/gpu']: expected a whole number",
        ),
        (
            {"containers": [gpus({"cpu": "1"}), gpus(requests={"amd.com/gpu": "-1"})]},
            "invalid_job",
            "spec.template.spec.containers[1].resources.requests['amd.com/gpu']: expected a whole number",
        ),
        (
            {"containers": [gpus({"nvidia.com/gpu": "1k"})]},
            "invalid_job",
            "spec.template.spec.containers[0].resources.limits['nvidia.com/gpu']: expected a whole number",
        ),
        (
            {"containers": [gpus({"nvidia.com/gpu": True})]},
            "invalid_job",
            "spec.template.spec.containers[0].resources.limits[...]: expected `int | float | str`, got `bool`",
        ),
        (
            {"pod": {"initContainers": [gpus({"nvidia.com/gpu": "x"})]}},
            "invalid_job",
            "spec.template.spec.initContainers[0].resources.limits['nvidia.com/gpu']: expected a whole number",
        ),
        (
            {"containers": [gpus({"nvidia.com/mig-1g.10gb": "1"})]},
            "unsupported_job",
            "spec.template.spec.containers[0].resources.limits['nvidia.com/mig-1g.10gb']: the gateway counts "
            "whole GPUs only (nvidia.com/gpu, amd.com/gpu)",
        ),
        (
            {"containers": [gpus(requests={"nvidia.com/gpu.shared": "1"})]},
            "unsupported_job",
            "spec.template.spec.containers[0].resources.requests['nvidia.com/gpu.shared']",
        ),
        (
            {"pod": {"resourceClaims": [{"name": "gpu", "resourceClaimTemplateName": "one-gpu"}]}},
            "unsupported_job",
            "spec.template.spec.resourceClaims: devices from dynamic resource claims cannot be bounded",
        ),
        (
            {"containers": [{"name": "c", "resources": {"claims": [{"name": "gpu"}]}}]},
            "unsupported_job",
            "spec.template.spec.containers[0].resources.claims: devices from dynamic resource claims",
        ),
        (
            {"pod": {"nodeSelector": {"nvidia.com/gpu.product": 100}}},
            "invalid_job",
            "spec.template.spec.nodeSelector",
        ),
    ],
)
def test_refusals_name_the_field(changes: dict[str, Any], code: str, message: str) -> None:
    refused = refusal(job_body(**changes))
    assert refused.code == code, refused.message
    assert refused.message.startswith(message), refused.message


# --- status ---------------------------------------------------------------------------------------

START = 1_714_564_800  # 2024-05-01T12:00:00Z


def job_object(status: dict[str, Any] | None, **metadata: Any) -> dict[str, Any]:
    obj = copy.deepcopy(JOB)
    obj["metadata"] = {"name": "train-llm", "namespace": "team-a", "uid": "4f1c", **metadata}
    if status is not None:
        obj["status"] = status
    return obj


@pytest.mark.parametrize(
    ("status", "state", "now", "seconds"),
    [
        (
            {"active": 3, "ready": 3, "startTime": "2024-05-01T12:00:00Z", "uncountedTerminatedPods": {}},
            K8sJobState("train-llm", "team-a", 3, 0, 0, START, None, False, None),
            START + 100,
            100,
        ),
        (
            {
                "succeeded": 3,
                "startTime": "2024-05-01T12:00:00Z",
                "completionTime": "2024-05-01T12:20:00Z",
                "conditions": [
                    {
                        "type": "SuccessCriteriaMet",
                        "status": "True",
                        "lastTransitionTime": "2024-05-01T12:19:58Z",
                    },
                    {"type": "Complete", "status": "True", "lastTransitionTime": "2024-05-01T12:20:00Z"},
                ],
            },
            K8sJobState("train-llm", "team-a", 0, 3, 0, START, START + 1200, True, START + 1200),
            START + 9999,
            1200,
        ),
        (
            {
                "failed": 3,
                "startTime": "2024-05-01T12:00:00Z",
                "conditions": [
                    {"type": "FailureTarget", "status": "True", "lastTransitionTime": "2024-05-01T14:00:00Z"},
                    {
                        "type": "Failed",
                        "status": "True",
                        "reason": "DeadlineExceeded",
                        "lastTransitionTime": "2024-05-01T14:00:01Z",
                    },
                ],
            },
            K8sJobState("train-llm", "team-a", 0, 0, 3, START, None, True, START + 7201),
            START + 9999,
            7201,
        ),
        (
            {
                "active": 1,
                "startTime": "2024-05-01T12:00:00Z",
                "conditions": [{"type": "Complete", "status": "False"}],
            },
            K8sJobState("train-llm", "team-a", 1, 0, 0, START, None, False, None),
            START + 60,
            60,
        ),
        ({}, K8sJobState("train-llm", "team-a", 0, 0, 0, None, None, False, None), START, 0),
        (None, K8sJobState("train-llm", "team-a", 0, 0, 0, None, None, False, None), START, 0),
        (
            {"active": None, "startTime": "2024-05-01T14:00:00.123456+02:00"},  # an offset, fractions
            K8sJobState("train-llm", "team-a", 0, 0, 0, START, None, False, None),
            START + 30,
            30,
        ),
        (
            {"active": 1, "startTime": "2024-05-01T12:00:00Z"},
            K8sJobState("train-llm", "team-a", 1, 0, 0, START, None, False, None),
            START - 30,  # clocks disagree: never negative
            0,
        ),
    ],
)
def test_job_status(status: dict[str, Any] | None, state: K8sJobState, now: int, seconds: int) -> None:
    obj = job_object(status)
    assert parse_job_status(msgspec.json.encode(obj)) == state
    assert parse_job_status(obj) == state  # an object already decoded, e.g. from a watch event
    assert state.run_seconds(now) == seconds


def test_status_without_namespace_or_name() -> None:
    obj = {"kind": "Job", "metadata": {"generateName": "sweep-"}, "status": {"active": 1}}
    assert parse_job_status(obj) == K8sJobState("sweep-", None, 1, 0, 0, None, None, False)
    assert parse_job_status({"kind": "Job"}).name == ""


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (b"not json", "unreadable Kubernetes Job reply: not JSON"),
        (b"[]", "unreadable Kubernetes Job reply: body: expected `object`, got `array`"),
        (
            {"status": {"active": "1"}},
            "unreadable Kubernetes Job reply: status.active: expected `int | null`",
        ),
        (
            {"status": {"startTime": "yesterday"}},
            "unreadable Kubernetes Job reply: status.startTime: 'yesterday'",
        ),
        (
            {"status": {"conditions": [{"type": "Failed", "status": "True", "lastTransitionTime": "soon"}]}},
            "unreadable Kubernetes Job reply: status.conditions[].lastTransitionTime: 'soon' is not an RFC 3339",
        ),
    ],
)
def test_unreadable_statuses_are_the_clusters_fault(obj: Any, message: str) -> None:
    with pytest.raises(UpstreamUnavailable) as failed:
        parse_job_status(obj)
    assert failed.value.code == "invalid_upstream_reply"
    assert failed.value.message.startswith(message), failed.value.message


# --- lists ----------------------------------------------------------------------------------------


def listed(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "team-a"}, "spec": {}, "status": {"active": 1}}


JOB_LIST: dict[str, Any] = {
    "kind": "JobList",
    "apiVersion": "batch/v1",
    "metadata": {"resourceVersion": "81234"},
    "items": [listed("a"), listed("b"), listed("c")],
}


def test_filter_job_list_keeps_the_allowed_items_and_every_other_key() -> None:
    out = msgspec.json.decode(filter_job_list(msgspec.json.encode(JOB_LIST), {"a", "c", "z"}))
    assert list(out) == ["kind", "apiVersion", "metadata", "items"]
    assert out["metadata"] == {"resourceVersion": "81234"}
    assert out["items"] == [listed("a"), listed("c")]


def test_filter_job_list_filters_the_table_kubectl_get_asks_for() -> None:
    table = {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": "81234"},
        "columnDefinitions": [{"name": "Name", "type": "string"}],
        "rows": [
            {"cells": ["a"], "object": {"kind": "PartialObjectMetadata", "metadata": {"name": "a"}}},
            {"cells": ["b"], "object": {"kind": "PartialObjectMetadata", "metadata": {"name": "b"}}},
            {"cells": ["c"]},
        ],
    }
    out = msgspec.json.decode(filter_job_list(msgspec.json.encode(table), ["a", "c"]))
    assert [row["cells"] for row in out["rows"]] == [["a"]]
    assert out["columnDefinitions"] == table["columnDefinitions"]


@pytest.mark.parametrize(
    ("items", "kept"),
    [
        ([listed("a"), {"metadata": {"name": 1}}, {"metadata": None}, {}, "a", None], [listed("a")]),
        (None, []),
        ([], []),
    ],
)
def test_filter_job_list_drops_what_it_cannot_attribute(items: Any, kept: list[Any]) -> None:
    out = msgspec.json.decode(
        filter_job_list(msgspec.json.encode({"kind": "JobList", "items": items}), {"a"})
    )
    assert out["items"] == kept


@pytest.mark.parametrize(
    "reply",
    [
        b'{"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden", "code": 403}',
        b"<html>404 Not Found</html>",
        b"",
    ],
)
def test_filter_job_list_passes_replies_that_list_nothing(reply: bytes) -> None:
    assert filter_job_list(reply, {"a"}) is reply


@pytest.mark.parametrize(
    "reply",
    [
        b'{"kind": "JobList", "items": [',
        b'{"kind": "JobList", "items": {"a": 1}}',
        b"[]",
        b'{"kind": "Table", "rows": 1}',
    ],
)
def test_filter_job_list_never_passes_what_it_cannot_read(reply: bytes) -> None:
    with pytest.raises(UpstreamUnavailable) as failed:
        filter_job_list(reply, {"a"})
    assert failed.value.code == "invalid_upstream_reply"
