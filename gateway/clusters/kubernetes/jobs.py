"""Kubernetes ``batch/v1`` Jobs: a submission read into a :class:`Workload`, statuses read, lists filtered.

Pure functions, no I/O; bodies are JSON (kubectl sends JSON to the API server).

How the GPU bound is read:

* GPUs per pod are the ``nvidia.com/gpu`` and ``amd.com/gpu`` resources of the pod template's
  containers (the larger of limit and request, as a whole number). Regular containers run together
  and add up; init containers run one after the other before them, so the pod needs
  ``max(sum(containers), max(init containers))``. Sidecars (init containers with
  ``restartPolicy: Always``) keep running beside everything started after them, so they are added to
  both sides, as the scheduler does.
* ``nodes`` is ``spec.parallelism`` (default 1): the pods that run at once. ``spec.completions`` does
  not lower it: when completions < parallelism fewer pods run, so the bound stays conservative.
* ``time_limit_seconds`` is ``spec.activeDeadlineSeconds``, required: it bounds the whole Job, retries
  included, so ``gpu_seconds_bound`` covers every pod the Job may start. (Suspending and resuming a
  Job restarts that clock: a gateway that allows ``spec.suspend`` updates must account for it.)
* Other devices of those vendors (``nvidia.com/mig-1g.10gb``, ...) and dynamic resource claims
  cannot be counted in whole GPUs and are refused (``unsupported_job``).

How the GPU model is read (:func:`_gpu_type`): from the GPU product labels (:data:`GPU_PRODUCT_LABELS`)
the pod requires, in ``nodeSelector`` and in ``affinity.nodeAffinity.requiredDuringScheduling...``.
A job that names no model is charged as the cluster's ``default_accelerator``, so the reading must
never let a job that can land on a pricier GPU pass as one that names none, or as a cheaper one:

* node selector terms are ORed, so every model any term names is one the job may run on; the
  gateway charges one model, so more than one (across terms, values, labels, or ``nodeSelector``
  and affinity together) is refused, as is a term naming none beside one that names a model;
* ``NotIn``, ``Exists``, ``DoesNotExist``, ``Gt`` and ``Lt`` on a product label say where the job
  may not run, not which model it gets: refused;
* a product the short list does not know is passed on as its label value, for the catalog to
  know (by name or alias) or refuse with ``unknown_accelerator``; an empty one is refused here;
* ``preferredDuringScheduling...`` does not constrain where the job runs: it is ignored.

Pod security (:mod:`.pod_security`) is checked on the same body as soon as it reads as a Job,
before anything about its compute: a Job that breaks the cluster's Pod Security Standard is refused
(403) whatever else is wrong with it.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from ...errors import BadRequest
from ..workload import (
    Workload,
    decode_job,
    invalid_job,
    unbounded_job,
    unsupported_job,
    whole_number,
)
from .pod_security import Profile, check_job

__all__ = ["GPU_PRODUCT_LABELS", "GPU_RESOURCES", "parse_job"]


GPU_RESOURCES = ("nvidia.com/gpu", "amd.com/gpu")
"""The device-plugin resources counted as GPUs."""
_GPU_VENDOR_PREFIXES = ("nvidia.com/", "amd.com/")
GPU_PRODUCT_LABELS = ("nvidia.com/gpu.product", "amd.com/gpu.product-name")
"""Node labels a pod's ``nodeSelector`` may name the GPU model with (GPU feature discovery)."""
_SHORT_GPU_NAME = re.compile(r"(?<![a-z0-9])(gb200|b200|h200|h100|a100|mi325x|mi300x)")
"""Matched at the start of a word, so "NVIDIA-GH200-480GB" is not read as an H200."""


class _Head(msgspec.Struct, rename="camel"):
    api_version: str | None = None
    kind: str | None = None


class _Metadata(msgspec.Struct, rename="camel"):
    name: str | None = None
    generate_name: str | None = None
    namespace: str | None = None


class _Resources(msgspec.Struct):
    limits: dict[str, str | int | float] | None = None
    requests: dict[str, str | int | float] | None = None
    claims: list[Any] | None = None


class _Container(msgspec.Struct, rename="camel"):
    resources: _Resources | None = None
    restart_policy: str | None = None
    """On an init container, ``Always`` makes it a sidecar."""


class _Requirement(msgspec.Struct, kw_only=True):
    key: str
    operator: str
    values: list[str] | None = None


class _Term(msgspec.Struct, rename="camel"):
    match_expressions: list[_Requirement] | None = None
    match_fields: list[Any] | None = None


class _NodeSelector(msgspec.Struct, rename="camel"):
    node_selector_terms: list[_Term]


class _NodeAffinity(msgspec.Struct):
    required: _NodeSelector | None = msgspec.field(
        default=None, name="requiredDuringSchedulingIgnoredDuringExecution"
    )


class _Affinity(msgspec.Struct, rename="camel"):
    node_affinity: _NodeAffinity | None = None


class _PodSpec(msgspec.Struct, kw_only=True, rename="camel"):
    containers: list[_Container]
    init_containers: list[_Container] | None = None
    node_selector: dict[str, str] | None = None
    affinity: _Affinity | None = None
    resource_claims: list[Any] | None = None


class _PodTemplate(msgspec.Struct):
    spec: _PodSpec


class _JobSpec(msgspec.Struct, kw_only=True, rename="camel"):
    template: _PodTemplate
    parallelism: int | None = None
    active_deadline_seconds: int | None = None


class _Job(msgspec.Struct, kw_only=True):
    metadata: _Metadata | None = None
    spec: _JobSpec


def parse_job(
    body: bytes, default_namespace: str | None = None, pod_security: Profile = "baseline"
) -> Workload:
    """The workload of a ``batch/v1`` Job body, or a :class:`BadRequest` naming the field.

    Codes: ``invalid_json``, ``invalid_job`` (not a batch/v1 Job, wrong type, missing or impossible
    value), ``unbounded_job`` (no ``spec.activeDeadlineSeconds`` > 0), ``unsupported_job``
    (GPU partitions such as MIG slices, dynamic resource claims, node affinity that does not name
    one GPU model), ``unknown_accelerator`` (an empty GPU product label); and a
    :class:`~gateway.errors.Forbidden` ``pod_security_violation`` when the pod template breaks
    the ``pod_security`` profile (see :mod:`.pod_security`).
    """
    head = decode_job(body, _Head)
    if head.api_version != "batch/v1":
        raise invalid_job(f"apiVersion: expected 'batch/v1', got {head.api_version!r}")
    if head.kind != "Job":
        raise invalid_job(f"kind: expected 'Job', got {head.kind!r}")
    job = decode_job(body, _Job)
    check_job(body, pod_security)  # before anything about compute: a refusal here is final
    metadata = job.metadata or _Metadata()
    spec = job.spec
    pod = spec.template.spec
    if not pod.containers:
        raise invalid_job("spec.template.spec.containers: a pod needs at least one container")
    if pod.resource_claims:
        raise unsupported_job(
            "spec.template.spec.resourceClaims: devices from dynamic resource claims cannot be "
            f"bounded by the gateway; ask for {' or '.join(GPU_RESOURCES)} in the containers' limits"
        )
    parallelism = 1 if spec.parallelism is None else spec.parallelism
    if parallelism < 0:
        raise invalid_job(f"spec.parallelism: must not be negative (got {parallelism})")
    deadline = spec.active_deadline_seconds
    if deadline is None or deadline <= 0:
        got = "it is missing" if deadline is None else f"got {deadline}"
        raise unbounded_job(
            "spec.activeDeadlineSeconds: a job needs a finite time limit (its compute cannot be "
            f"bounded otherwise); give a number of seconds > 0 ({got})"
        )
    return Workload(
        kind="kubernetes",
        gpus_per_node=_pod_gpus(pod),
        nodes=parallelism,
        gpu_type=_gpu_type(pod),
        time_limit_seconds=deadline,
        name=metadata.name or metadata.generate_name,
        namespace=metadata.namespace or default_namespace,
    )


def _pod_gpus(pod: _PodSpec) -> int:
    """GPUs a pod holds at its peak, as the scheduler reckons a pod's effective request."""
    regular = sum(
        _container_gpus(f"spec.template.spec.containers[{i}]", container)
        for i, container in enumerate(pod.containers)
    )
    sidecars = peak_init = 0
    for i, container in enumerate(pod.init_containers or ()):
        gpus = _container_gpus(f"spec.template.spec.initContainers[{i}]", container)
        if container.restart_policy == "Always":
            sidecars += gpus
            peak_init = max(peak_init, sidecars)
        else:
            peak_init = max(peak_init, sidecars + gpus)
    return max(regular + sidecars, peak_init)


def _container_gpus(path: str, container: _Container) -> int:
    resources = container.resources
    if resources is None:
        return 0
    if resources.claims:
        raise unsupported_job(
            f"{path}.resources.claims: devices from dynamic resource claims cannot be bounded by the "
            f"gateway; ask for {' or '.join(GPU_RESOURCES)} in the limits"
        )
    asked = (("limits", resources.limits or {}), ("requests", resources.requests or {}))
    for kind, amounts in asked:
        for resource in amounts:
            if resource.startswith(_GPU_VENDOR_PREFIXES) and resource not in GPU_RESOURCES:
                raise unsupported_job(
                    f"{path}.resources.{kind}[{resource!r}]: the gateway counts whole GPUs only "
                    f"({', '.join(GPU_RESOURCES)}); GPU partitions and other devices cannot be bounded"
                )
    # A limit and a request of the same resource are one ask: the larger one counts.
    return sum(
        max(_quantity(f"{path}.resources.{kind}", name, amounts.get(name, 0)) for kind, amounts in asked)
        for name in GPU_RESOURCES
    )


def _quantity(path: str, resource: str, amount: str | int | float) -> int:
    count = whole_number(amount.strip()) if isinstance(amount, str) else amount
    if isinstance(count, int) and count >= 0:
        return count
    raise invalid_job(f"{path}[{resource!r}]: expected a whole number of GPUs, got {amount!r}")


_POD = "spec.template.spec"
_REQUIRED = f"{_POD}.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"


def _gpu_type(pod: _PodSpec) -> str | None:
    """The one GPU model the pod can run on, lower case (``"h100"``); None if it names none.

    See the module's docstring: a pod that may land on more than one model, or on models it does not
    name, is refused rather than charged as one of them or as the default.
    """
    selected = {
        _model(f"{_POD}.nodeSelector[{label!r}]", product)
        for label, product in (pod.node_selector or {}).items()
        if label in GPU_PRODUCT_LABELS
    }
    affinity = pod.affinity.node_affinity if pod.affinity is not None else None
    required = affinity.required if affinity is not None else None
    terms = [
        _term_models(f"{_REQUIRED}.nodeSelectorTerms[{t}]", term)
        for t, term in enumerate(required.node_selector_terms if required is not None else ())
    ]
    models = sorted(selected.union(*terms))  # sorted: the same message for the same body
    if len(models) > 1:
        where = f"{_REQUIRED}.nodeSelectorTerms" if not selected else _POD
        raise unsupported_job(
            f"{where}: the job may run on more than one GPU model ({', '.join(models)}) and is charged "
            f"for one; name a single model in nodeSelector or in every node selector term "
            f"({' or '.join(GPU_PRODUCT_LABELS)} In [...])"
        )
    if not models:
        return None
    if not selected:
        # Terms are ORed: one that names no model lets the pod onto any GPU beside the named one.
        # (An empty term matches no node in current releases; it is refused all the same.)
        named = next(t for t, term in enumerate(terms) if term)
        for t, term in enumerate(terms):
            if not term:
                raise unsupported_job(
                    f"{_REQUIRED}.nodeSelectorTerms[{t}]: this term names no GPU model while "
                    f"nodeSelectorTerms[{named}] names {models[0]}: the job could run on any GPU; name "
                    "the model in every term"
                )
    return models[0]


def _term_models(path: str, term: _Term) -> set[str]:
    """The models one node selector term requires (its expressions are ANDed: all of them count)."""
    found: set[str] = set()
    for e, requirement in enumerate(term.match_expressions or ()):
        if requirement.key not in GPU_PRODUCT_LABELS:
            continue
        at = f"{path}.matchExpressions[{e}]"
        if requirement.operator != "In":
            raise unsupported_job(
                f"{at}.operator: {requirement.operator!r} on {requirement.key} does not say which GPU model "
                f"the job runs on; use 'In' with the model's {requirement.key} value"
            )
        if not requirement.values:
            raise invalid_job(f"{at}.values: operator In needs at least one value")
        found.update(_model(f"{at}.values[{v}]", value) for v, value in enumerate(requirement.values))
    return found


def _model(path: str, product: str) -> str:
    """``"NVIDIA-H100-80GB-HBM3"`` -> ``"h100"``; a product outside the short list as its label value,
    lower case, for the catalog to know or refuse (never None: that would be the default)."""
    if match := _SHORT_GPU_NAME.search(product.lower()):
        return match[1]
    if not product.strip():
        raise BadRequest(f"{path}: {product!r} names no GPU model", code="unknown_accelerator")
    return product.strip().lower()
