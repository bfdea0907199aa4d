"""Slurm REST (slurmrestd) bodies: submissions read into a :class:`Workload`, job replies read and filtered.

Pure functions, no I/O. A submission is decoded into the Structs of its API version, tolerant of the
fields the gateway does not read (slurmrestd validates those) and strict about the ones it does: a
field of the wrong type, a count that is not a whole number, a time limit that is missing, zero or
infinite is refused before the job reaches the cluster.

How the GPU bound is read (every rule rounds up, never down):

* GPUs per node come from ``gres`` (v0.0.38: ``"gpu:4"``, ``"gpu:h100:4"``, comma lists),
  ``gpus_per_node`` (``"2"``, ``"h100:2"``) and ``tres_per_node`` (v0.0.39+: ``"gres/gpu:h100:8"``,
  ``"gres/gpu=8"``); several of them add up.
* GPUs for the whole job come from ``gpus`` (v0.0.38), ``tres_per_job`` (v0.0.39+) or GPUs per task
  (``gpus_per_task``, ``tres_per_task``) x ``tasks``. Spread over ``nodes`` that is
  ``ceil(total / nodes)`` per node, so ``Workload.gpus`` is at least the total (conservative when the
  total does not divide evenly). Slurm itself requires an explicit task count for GPUs per task.
* ``nodes`` is the upper end of what the job accepts (``4``, ``"2-4"``, ``[2, 4]``, ``"1,5,9"``,
  ``maximum_nodes``). A job that asks GPUs per node but gives no node count may still be spread over
  several nodes when it has several tasks (each node runs at least one): its bound is then ``tasks``
  nodes. Give ``nodes`` to get a tighter bound.
* GPUs per socket cannot be bounded (the socket count of a node is not known here) and GPU shards /
  MPS cannot be counted in whole GPUs: both are refused, as are heterogeneous jobs (``jobs``).
* An array (``"0-49"``, ``"0-49%5"``, ``"1,3,5"``, ``"0-15:4"``) multiplies by its number of tasks;
  the ``%`` throttle limits how many run at once, not how many run, so it does not lower the bound.
"""

from __future__ import annotations

import math
import re
from typing import Any, NamedTuple

import msgspec

from ..workload import (
    Workload,
    decode_job,
    invalid_job,
    unbounded_job,
    unsupported_job,
)
from .asks import Ask, array_tasks, gpu_count_field, gres_field, node_bound
from .common import NO_VAL, NoVal, require_supported

_LIMIT_HINT = "a job needs a finite time limit (its compute cannot be bounded otherwise)"


class _Strict(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A field the gateway does not know is refused, not forwarded: it could widen what the job
    holds or who it runs as (``user_id``, ``clusters``, ``core_specification``, ...)."""


class _JobCommon(_Strict):
    """Fields every supported version names alike; the gateway reads the first group, passes the
    rest on (they shape how the job runs inside what it holds, not how much it holds)."""

    name: str | None = None
    partition: str | None = None
    array: str | None = None
    dependency: str | None = None
    current_working_directory: str | None = None
    standard_output: str | None = None
    standard_error: str | None = None
    standard_input: str | None = None
    comment: str | None = None
    tasks: int | None = None
    tasks_per_node: int | None = None
    gpus_per_node: int | str | None = None
    # Whole-node asks: charged as every GPU of the node.
    exclusive: bool | str | list[str] | None = None
    # Set by the provider (clusters.slurm.confine), typed here so that the refusal can say so.
    account: str | None = None
    qos: str | None = None
    reservation: str | None = None
    wckey: str | None = None
    # Passed on as they are.
    argv: list[str] | None = None
    cpus_per_task: int | None = None
    constraints: str | None = None
    contiguous: bool | None = None
    cpu_binding: str | None = None
    distribution: str | None = None
    hold: bool | None = None
    kill_on_invalid_dependency: bool | None = None
    requeue: bool | None = None
    threads_per_core: int | None = None
    tasks_per_core: int | None = None
    tasks_per_socket: int | None = None
    sockets_per_node: int | None = None
    cores_per_socket: int | None = None
    minimum_cpus_per_node: int | None = None
    delay_boot: int | None = None


class _JobV38(_JobCommon):
    nodes: int | str | list[int] | None = None
    gres: str | None = None
    gpus: int | str | None = None
    gpus_per_task: int | str | None = None
    gpus_per_socket: int | str | None = None
    cpus_per_gpu: int | None = None
    memory_per_gpu: int | None = None
    time_limit: int | None = None
    time_minimum: int | None = None
    begin_time: int | None = None
    memory_per_cpu: int | None = None
    memory_per_node: int | None = None
    gres_flags: str | None = None
    gpu_binding: str | None = None
    open_mode: str | None = None
    signal: str | None = None
    environment: dict[str, str] | None = None


class _SubmitV38(_Strict):
    script: str | None = None
    job: _JobV38 | None = None
    jobs: Any = None


class _JobV39(_JobCommon):
    script: str | None = None
    nodes: int | str | None = None
    tres_per_node: str | None = None
    tres_per_job: str | None = None
    tres_per_task: str | None = None
    tres_per_socket: str | None = None
    cpus_per_tres: str | None = None
    memory_per_tres: str | None = None
    minimum_nodes: int | None = None
    maximum_nodes: int | None = None
    required_nodes: list[str] | None = None
    excluded_nodes: list[str] | str | None = None
    minimum_cpus: int | None = None
    shared: list[str] | str | None = None
    oversubscribe: bool | None = None
    time_limit: int | NoVal | None = None
    time_minimum: int | NoVal | None = None
    begin_time: int | NoVal | None = None
    memory_per_cpu: int | NoVal | None = None
    memory_per_node: int | NoVal | None = None
    open_mode: str | list[str] | None = None
    environment: list[str] | None = None


class _SubmitV39(_Strict):
    script: str | None = None
    job: _JobV39 | None = None
    jobs: Any = None


class _Shape(NamedTuple):
    """What the versions have in common once read: GPU requests by scope, node and task counts."""

    per_node: list[Ask]
    per_job: list[Ask]
    per_task: list[Ask]
    per_socket: list[Ask]
    max_nodes: int | None
    """The upper end of the node counts the job gives, None when it gives none."""
    min_nodes: int
    tasks: int | None
    tasks_per_node: int | None
    spreads: list[str]
    """Fields that may spread the job over nodes it did not count (v0.0.39+: node lists, CPUs)."""
    whole_nodes: str | None
    """The field that makes the job hold its nodes whole (``exclusive``, all of a node's memory)."""


def parse_submit(version: str, body: bytes, *, node_gpus: int | None = None) -> Workload:
    """The workload of a ``POST /slurm/{version}/job/submit`` body, or a :class:`BadRequest` naming the field.

    Codes: ``unsupported_api_version``, ``invalid_json``, ``invalid_job`` (wrong type, missing or
    impossible value), ``unbounded_job`` (no finite time limit, GPUs that cannot be bounded),
    ``unsupported_job`` (heterogeneous jobs, GPU shards, several GPU types in one job).

    Unknown fields are refused (``invalid_job``), as are ``#SBATCH`` lines in the script. A job
    that holds whole nodes is charged ``node_gpus`` GPUs per node (refused when it is None).
    """
    require_supported(version)
    if version == "v0.0.38":
        return _read_v38(decode_job(body, _SubmitV38), node_gpus)
    return _read_v39(decode_job(body, _SubmitV39), node_gpus)


def _refuse_het_job(jobs: Any) -> None:
    if jobs is not None:
        raise unsupported_job(
            "jobs: heterogeneous jobs (a list of job components) are not supported; submit one `job`"
        )


def _read_v38(submit: _SubmitV38, node_gpus: int | None) -> Workload:
    _refuse_het_job(submit.jobs)
    _require_script(submit.script, "script")
    _refuse_directives("script", submit.script)
    job = submit.job
    if job is None:
        raise invalid_job("job: is required (an object with the job's properties)")
    if job.environment is None:
        raise invalid_job(
            'job.environment: is required by slurmrestd v0.0.38 (an object such as {"PATH": "/usr/bin:/bin"})'
        )
    shape = _Shape(
        per_node=[
            *gres_field("job.gres", job.gres),
            *gpu_count_field("job.gpus_per_node", job.gpus_per_node),
        ],
        per_job=gpu_count_field("job.gpus", job.gpus),
        per_task=gpu_count_field("job.gpus_per_task", job.gpus_per_task),
        per_socket=gpu_count_field("job.gpus_per_socket", job.gpus_per_socket),
        max_nodes=node_bound("job.nodes", job.nodes),
        min_nodes=0,
        tasks=_count("job.tasks", job.tasks, minimum=1),
        tasks_per_node=_count("job.tasks_per_node", job.tasks_per_node, minimum=1),
        spreads=[],
        whole_nodes=_whole_nodes(job.exclusive, None, job.memory_per_node),
    )
    return _workload(
        shape,
        node_gpus=node_gpus,
        minutes=_minutes("job.time_limit", job.time_limit),
        array=job.array,
        name=job.name,
        partition=job.partition,
        dependency=job.dependency,
        working_directory=job.current_working_directory,
        comment=job.comment,
    )


def _read_v39(submit: _SubmitV39, node_gpus: int | None) -> Workload:
    _refuse_het_job(submit.jobs)
    job = submit.job
    if job is None:
        raise invalid_job("job: is required (an object with the job's properties)")
    given = (("script", submit.script), ("job.script", job.script))
    scripts = [(field, text) for field, text in given if text is not None]
    if not scripts:
        _require_script(None, "script", "give `script` or `job.script`")
    if not any(text.strip() for _, text in scripts):
        _require_script(None, scripts[0][0])
    for field, text in scripts:
        _refuse_directives(field, text)
    for i, variable in enumerate(job.environment or ()):
        if "=" not in variable:
            raise invalid_job(f"job.environment[{i}]: expected NAME=value, got {variable!r}")
    maximum = [
        bound
        for bound in (
            node_bound("job.nodes", job.nodes),
            _count("job.maximum_nodes", job.maximum_nodes, minimum=1),
        )
        if bound is not None
    ]
    spreads = [
        field
        for field, value in (
            ("job.required_nodes", job.required_nodes),
            ("job.minimum_cpus", (_count("job.minimum_cpus", job.minimum_cpus, minimum=0) or 0) > 1),
        )
        if value
    ]
    shape = _Shape(
        per_node=[
            *gres_field("job.tres_per_node", job.tres_per_node),
            *gpu_count_field("job.gpus_per_node", job.gpus_per_node),
        ],
        per_job=gres_field("job.tres_per_job", job.tres_per_job),
        per_task=gres_field("job.tres_per_task", job.tres_per_task),
        per_socket=gres_field("job.tres_per_socket", job.tres_per_socket),
        max_nodes=max(maximum) if maximum else None,
        min_nodes=_count("job.minimum_nodes", job.minimum_nodes, minimum=0) or 0,
        tasks=_count("job.tasks", job.tasks, minimum=1),
        tasks_per_node=_count("job.tasks_per_node", job.tasks_per_node, minimum=1),
        spreads=spreads,
        whole_nodes=_whole_nodes(job.exclusive, job.shared, job.memory_per_node),
    )
    return _workload(
        shape,
        node_gpus=node_gpus,
        minutes=_minutes("job.time_limit", job.time_limit),
        array=job.array,
        name=job.name,
        partition=job.partition,
        dependency=job.dependency,
        working_directory=job.current_working_directory,
        comment=job.comment,
    )


def _require_script(script: str | None, field: str, hint: str = "a non-empty string") -> None:
    if script is None or not script.strip():
        raise invalid_job(f"{field}: a batch job needs a script ({hint}, e.g. '#!/bin/bash ...')")


_DIRECTIVE = re.compile(r"#\s*(?:SBATCH|PBS)\b", re.IGNORECASE)


def _refuse_directives(field: str, script: str | None) -> None:
    """Refuse ``#SBATCH`` (and ``#PBS``) lines: the gateway bounds and confines a job by its fields,
    and a directive could ask for more (``--gres``, ``--exclusive``, ``--account``, ``--output``)
    wherever a Slurm release reads them. sbatch reads them up to the first command line."""
    for number, line in enumerate((script or "").splitlines(), start=1):
        text = line.strip()
        if number == 1 and text.startswith("#!"):
            continue
        if text and not text.startswith("#"):
            return
        if _DIRECTIVE.match(text):
            raise invalid_job(
                f"{field}: line {number}: {text[:60]!r}: #SBATCH directives are refused; "
                "give the job's options as fields of `job`"
            )


_NOT_EXCLUSIVE = frozenset({"false", "no", "0", ""})


def _whole_nodes(
    exclusive: bool | str | list[str] | None, shared: list[str] | str | None, memory: int | NoVal | None
) -> str | None:
    """The field that makes the job hold whole nodes, or None.

    ``exclusive`` (v0.0.38 ``"user"``/``"mcs"``/``"true"``, later a list of them), ``shared: none``
    (what ``--exclusive`` sets from v0.0.39) and ``memory_per_node: 0`` (all of a node's memory:
    no other job fits beside it).
    """
    values = exclusive if isinstance(exclusive, list) else [exclusive]
    if any(v is True or (isinstance(v, str) and v.strip().lower() not in _NOT_EXCLUSIVE) for v in values):
        return "job.exclusive"
    modes = shared if isinstance(shared, list) else [shared]
    if any(isinstance(m, str) and m.strip().lower() in ("none", "exclusive") for m in modes):
        return "job.shared"
    if isinstance(memory, NoVal):
        return "job.memory_per_node" if memory.infinite or (memory.set and memory.number == 0) else None
    return "job.memory_per_node" if memory == 0 else None


def _workload(
    shape: _Shape,
    *,
    node_gpus: int | None,
    minutes: int,
    array: str | None,
    name: str | None,
    partition: str | None,
    dependency: str | None,
    working_directory: str | None,
    comment: str | None,
) -> Workload:
    for ask in shape.per_socket:
        if ask.gpus:
            raise unbounded_job(
                f"{ask.field}: GPUs per socket cannot be bounded (the gateway does not know how many "
                "sockets a node has); ask for GPUs per node or per job instead"
            )
    per_node = sum(ask.gpus for ask in shape.per_node)
    if shape.whole_nodes is not None:
        if node_gpus is None:
            raise unbounded_job(
                f"{shape.whole_nodes}: a job that takes whole nodes holds every GPU of them, and "
                "this cluster's GPUs per node are not configured (node_gpus); ask for the GPUs you "
                "need instead"
            )
        per_node = max(per_node, node_gpus)
    if shape.max_nodes is not None:
        nodes = max(shape.max_nodes, shape.min_nodes, 1)
    elif per_node:
        if shape.spreads:
            raise unbounded_job(
                f"{shape.spreads[0]}: a job that asks GPUs per node and may be spread over several "
                "nodes needs a node count; give job.nodes (or job.maximum_nodes)"
            )
        # Without a node count Slurm may spread the tasks over up to one node per task.
        nodes = max(shape.tasks or 1, shape.min_nodes, 1)
    else:
        nodes = max(shape.min_nodes, 1)

    per_job = sum(ask.gpus for ask in shape.per_job)
    per_task = sum(ask.gpus for ask in shape.per_task)
    if per_task:
        if shape.tasks is not None:
            task_count: int | None = shape.tasks
        elif shape.tasks_per_node is not None and shape.max_nodes is not None:
            task_count = shape.tasks_per_node * nodes
        else:
            task_count = None
        if task_count is not None:
            per_job = max(per_job, per_task * task_count)
        elif not per_job:  # with a job total Slurm derives the task count from it
            raise unbounded_job(
                f"{shape.per_task[0].field}: GPUs per task need an explicit task count "
                "(job.tasks, or job.tasks_per_node with job.nodes), as Slurm itself requires"
            )

    asks = [ask for ask in (*shape.per_node, *shape.per_job, *shape.per_task) if ask.gpus]
    types = sorted({ask.gpu_type or "(any)" for ask in asks})
    if len(types) > 1:
        where = ", ".join(f"{ask.gpu_type or '(any type)'} in {ask.field}" for ask in asks)
        raise unsupported_job(
            f"job: GPUs of more than one type in one job are not supported ({where}); ask for one GPU type"
        )
    return Workload(
        kind="slurm",
        gpus_per_node=max(per_node, math.ceil(per_job / nodes)),
        nodes=nodes,
        array_tasks=array_tasks("job.array", array),
        gpu_type=asks[0].gpu_type if asks else None,
        time_limit_seconds=minutes * 60,
        tasks=shape.tasks,
        partition=partition,
        name=name,
        dependency=dependency,
        working_directory=working_directory,
        comment=comment,
    )


def _minutes(field: str, value: int | NoVal | None) -> int:
    if value is None:
        raise unbounded_job(f"{field}: {_LIMIT_HINT}; give it in minutes")
    path = field
    if isinstance(value, NoVal):
        if value.infinite:
            raise unbounded_job(f"{field}.infinite: an infinite time limit is refused: {_LIMIT_HINT}")
        if not value.set:
            raise unbounded_job(
                f"{field}.set: must be true (an unset limit falls back to the partition's, "
                f"which may be unlimited): {_LIMIT_HINT}"
            )
        if value.number is None:
            raise invalid_job(f"{field}.number: is required when `set` is true (minutes)")
        path, minutes = f"{field}.number", value.number
    else:
        minutes = value
    if minutes < 0:
        raise invalid_job(f"{path}: must not be negative (got {minutes})")
    if minutes == 0:
        raise unbounded_job(f"{path}: 0 means no time limit to Slurm: {_LIMIT_HINT}")
    if minutes >= NO_VAL:
        raise unbounded_job(
            f"{path}: {minutes} minutes is what Slurm reads as unset or INFINITE: {_LIMIT_HINT}"
        )
    return minutes


def _count(field: str, value: int | None, *, minimum: int) -> int | None:
    if value is None:
        return None
    if value < 0:
        raise invalid_job(f"{field}: must not be negative (got {value})")
    if value < minimum:
        raise invalid_job(f"{field}: must be at least {minimum} (got {value})")
    return value
