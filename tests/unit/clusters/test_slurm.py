"""Slurm REST bodies: submissions of every API version read into a bounded workload, job replies read and filtered."""

from __future__ import annotations

import copy
from typing import Any

import msgspec
import pytest

from gateway.clusters.slurm import (
    SUPPORTED_VERSIONS,
    JobRecord,
    filter_jobs,
    parse_jobs,
    parse_submit,
    slurm_errors,
    submit_reply_job_id,
    version_of,
)
from gateway.clusters.workload import Workload
from gateway.errors import BadRequest, UpstreamUnavailable

DROP = object()
"""In a table of changes: remove the key."""

# The job the README submits to a real slurmrestd v0.0.38 (Slurm 22.05).
V38: dict[str, Any] = {
    "script": "#!/bin/bash\nsleep 5\n",
    "job": {
        "name": "train-1",
        "partition": "gpu",
        "gres": "gpu:4",
        "time_limit": 10,
        "current_working_directory": "/home/alice/jobs",
        "environment": {"PATH": "/usr/bin:/bin"},
    },
}

# The same kind of job in the newer shapes: TRES strings, time limit objects, script inside the job.
V40: dict[str, Any] = {
    "job": {
        "script": "#!/bin/bash\nsrun python train.py\n",
        "name": "train-2",
        "partition": "gpu",
        "tres_per_node": "gres/gpu:h100:8",
        "nodes": "2-4",
        "time_limit": {"set": True, "infinite": False, "number": 2880},
        "current_working_directory": "/home/alice/jobs",
        "environment": ["PATH=/usr/bin:/bin", "OMP_NUM_THREADS=8"],
    }
}

NEWER = ("v0.0.39", "v0.0.40", "v0.0.41", "v0.0.42", "v0.0.43", "v0.0.44")


def body(base: dict[str, Any], job: dict[str, Any] | None = None, top: dict[str, Any] | None = None) -> bytes:
    """``base`` with some keys of ``job`` and of the top level changed (``DROP`` removes one)."""
    out = copy.deepcopy(base)
    for target, changes in ((out["job"], job or {}), (out, top or {})):
        for key, value in changes.items():
            if value is DROP:
                target.pop(key, None)
            else:
                target[key] = value
    return msgspec.json.encode(out)


def refusal(call: Any, *args: Any) -> BadRequest:
    with pytest.raises(BadRequest) as refused:
        call(*args)
    return refused.value


# --- the workload ---------------------------------------------------------------------------------


def test_the_readme_job_is_four_gpus_for_ten_minutes() -> None:
    workload = parse_submit("v0.0.38", msgspec.json.encode(V38))
    assert workload == Workload(
        kind="slurm",
        gpus_per_node=4,
        nodes=1,
        array_tasks=1,
        gpu_type=None,
        time_limit_seconds=600,
        tasks=None,
        partition="gpu",
        name="train-1",
        working_directory="/home/alice/jobs",
    )
    assert (workload.gpus, workload.gpu_seconds_bound) == (4, 2400)


def test_the_bound_multiplies_devices_nodes_array_tasks_and_time() -> None:
    workload = Workload(
        kind="slurm", gpus_per_node=8, nodes=4, array_tasks=10, gpu_type="h100", time_limit_seconds=3600
    )
    assert workload.gpus == 320
    assert workload.gpu_seconds_bound == 320 * 3600
    cpu_only = Workload(kind="slurm", gpus_per_node=0, nodes=16, time_limit_seconds=60)
    assert (cpu_only.gpus, cpu_only.gpu_seconds_bound) == (0, 0)


@pytest.mark.parametrize(
    ("job", "expected"),
    [
        # (gpus_per_node, nodes, gpu_type, gpus)
        ({"gres": "gpu:4"}, (4, 1, None, 4)),
        ({"gres": "gpu:H100:4"}, (4, 1, "h100", 4)),  # types are lower-cased
        ({"gres": "gpu:h100:4,license:x"}, (4, 1, "h100", 4)),  # other resources are not GPUs
        ({"gres": "gres:gpu:2"}, (2, 1, None, 2)),  # the form slurmrestd itself reports
        ({"gres": "gpu"}, (1, 1, None, 1)),
        ({"gres": "gpu:a100"}, (1, 1, "a100", 1)),
        ({"gres": "gpu:h100=4"}, (4, 1, "h100", 4)),
        ({"gres": "license:matlab:1"}, (0, 1, None, 0)),
        ({"gres": ""}, (0, 1, None, 0)),
        ({"gres": DROP}, (0, 1, None, 0)),  # a CPU-only job
        ({"gres": "gpu:0"}, (0, 1, None, 0)),
        # `gpus`: a total for the job
        ({"gres": DROP, "gpus": "3"}, (3, 1, None, 3)),
        ({"gres": DROP, "gpus": 3}, (3, 1, None, 3)),
        ({"gres": DROP, "gpus": "h100:8"}, (8, 1, "h100", 8)),
        ({"gres": DROP, "gpus": "8", "nodes": 2}, (4, 2, None, 8)),
        ({"gres": DROP, "gpus": "3", "nodes": 2}, (2, 2, None, 4)),  # rounded up: conservative
        # `gpus_per_node`
        ({"gres": DROP, "gpus_per_node": "2"}, (2, 1, None, 2)),
        ({"gres": DROP, "gpus_per_node": 2}, (2, 1, None, 2)),
        ({"gres": DROP, "gpus_per_node": "h100:2", "nodes": 4}, (2, 4, "h100", 8)),
        ({"gres": "gpu:2", "gpus_per_node": "2"}, (4, 1, None, 4)),  # several per-node asks add up
        ({"gres": DROP, "gpus_per_node": "4", "gpus": "8", "nodes": 2}, (4, 2, None, 8)),
        # node counts: the upper end is the bound
        ({"nodes": 2}, (4, 2, None, 8)),
        ({"nodes": "2-4"}, (4, 4, None, 16)),
        ({"nodes": [2, 4]}, (4, 4, None, 16)),  # the v0.0.38 schema's [min, max]
        ({"nodes": [3]}, (4, 3, None, 12)),
        ({"nodes": "1,5,9"}, (4, 9, None, 36)),
        ({"nodes": "1-15:4"}, (4, 13, None, 52)),
        ({"nodes": "0-2"}, (4, 2, None, 8)),
        # tasks: without a node count Slurm may put each task on its own node
        ({"tasks": 8}, (4, 8, None, 32)),
        ({"tasks": 8, "nodes": 1}, (4, 1, None, 4)),
        ({"tasks": 8, "gres": DROP, "gpus": "8"}, (8, 1, None, 8)),  # a job total is not multiplied
        # GPUs per task x tasks: a job total
        ({"gres": DROP, "gpus_per_task": "1", "tasks": 8}, (8, 1, None, 8)),
        ({"gres": DROP, "gpus_per_task": "h100:2", "tasks": 8, "nodes": 2}, (8, 2, "h100", 16)),
        ({"gres": DROP, "gpus_per_task": "1", "tasks_per_node": 4, "nodes": 2}, (4, 2, None, 8)),
        ({"gres": DROP, "gpus_per_task": "2", "gpus": "8"}, (8, 1, None, 8)),  # Slurm derives the tasks
        ({"gres": DROP, "gpus_per_socket": "0"}, (0, 1, None, 0)),
    ],
)
def test_v0_0_38_gpu_requests(job: dict[str, Any], expected: tuple[int, int, str | None, int]) -> None:
    workload = parse_submit("v0.0.38", body(V38, job))
    assert (workload.gpus_per_node, workload.nodes, workload.gpu_type, workload.gpus) == expected
    assert workload.gpu_seconds_bound == expected[3] * 600


@pytest.mark.parametrize(
    ("array", "tasks"),
    [
        (DROP, 1),
        ("0-49", 50),
        ("0-49%5", 50),  # the throttle limits what runs at once, not what runs
        ("1,3,5", 3),
        ("0-15:4", 4),  # 0, 4, 8, 12
        ("1-15:4", 4),  # 1, 5, 9, 13
        ("1-5,7", 6),
        ("0-9,5-14", 15),  # overlapping indexes count once
        ("7", 1),
        (" 0 - 3 ", 4),
        ("0-3999999", 4_000_000),
    ],
)
def test_array_tasks_multiply_the_bound(array: Any, tasks: int) -> None:
    workload = parse_submit("v0.0.38", body(V38, {"array": array}))
    assert workload.array_tasks == tasks
    assert workload.gpus == 4 * tasks
    assert workload.gpu_seconds_bound == 4 * tasks * 600


def test_the_job_fields_are_carried() -> None:
    workload = parse_submit(
        "v0.0.38",
        body(V38, {"dependency": "afterok:41", "comment": "sweep 3", "tasks": 2, "nodes": 1}),
    )
    assert workload.dependency == "afterok:41"
    assert workload.comment == "sweep 3"
    assert workload.tasks == 2
    assert workload.namespace is None


@pytest.mark.parametrize(
    ("version", "job", "top", "path"),
    [
        ("v0.0.38", {"mail_type": "END"}, None, "job.mail_type"),
        ("v0.0.38", {"core_specification": 4}, None, "job.core_specification"),
        ("v0.0.38", None, {"extra": 1}, "extra"),
        ("v0.0.40", {"user_id": "0"}, None, "job.user_id"),
        ("v0.0.40", {"clusters": "other"}, None, "job.clusters"),
        ("v0.0.44", {"flags": ["SPREAD_JOB"]}, None, "job.flags"),
    ],
)
def test_unknown_fields_are_refused_not_forwarded(version: str, job: Any, top: Any, path: str) -> None:
    refused = refusal(parse_submit, version, body(V38 if version == "v0.0.38" else V40, job, top))
    assert refused.code == "invalid_job"
    assert refused.message == (
        f"{path}: is not a field the gateway accepts (it refuses what it cannot bound or confine)"
    )


@pytest.mark.parametrize(
    ("raw", "code", "message"),
    [
        (b"{", "invalid_json", "the body is not valid JSON"),
        (b"", "invalid_json", "the body is not valid JSON"),
        (b"Unable to parse", "invalid_json", "the body is not valid JSON"),
        (b"[]", "invalid_job", "body: expected `object`, got `array`"),
        (b'{"job": {}}', "invalid_job", "script: a batch job needs a script"),
        (b'{"script": "#!/bin/sh\\n"}', "invalid_job", "job: is required"),
    ],
)
def test_unreadable_v0_0_38_bodies(raw: bytes, code: str, message: str) -> None:
    refused = refusal(parse_submit, "v0.0.38", raw)
    assert refused.code == code
    assert refused.message.startswith(message), refused.message
    assert refused.status == 400


@pytest.mark.parametrize(
    ("job", "top", "code", "message"),
    [
        # time limit
        (
            {"time_limit": DROP},
            {},
            "unbounded_job",
            "job.time_limit: a job needs a finite time limit (its compute cannot be bounded otherwise)",
        ),
        ({"time_limit": None}, {}, "unbounded_job", "job.time_limit: a job needs a finite time limit"),
        ({"time_limit": 0}, {}, "unbounded_job", "job.time_limit: 0 means no time limit to Slurm"),
        ({"time_limit": 4294967295}, {}, "unbounded_job", "job.time_limit: 4294967295 minutes"),
        ({"time_limit": 4294967294}, {}, "unbounded_job", "job.time_limit: 4294967294 minutes"),
        ({"time_limit": -5}, {}, "invalid_job", "job.time_limit: must not be negative (got -5)"),
        ({"time_limit": "10"}, {}, "invalid_job", "job.time_limit: expected `int | null`, got `str`"),
        ({"time_limit": 1.5}, {}, "invalid_job", "job.time_limit: expected `int | null`, got `float`"),
        # what slurmrestd v0.0.38 requires
        ({"environment": DROP}, {}, "invalid_job", "job.environment: is required by slurmrestd v0.0.38"),
        (
            {"environment": ["PATH=/bin"]},
            {},
            "invalid_job",
            "job.environment: expected `object | null`, got `array`",
        ),
        ({}, {"script": DROP}, "invalid_job", "script: a batch job needs a script"),
        ({}, {"script": "  \n"}, "invalid_job", "script: a batch job needs a script"),
        ({}, {"script": 7}, "invalid_job", "script: expected `str | null`, got `int`"),
        ({}, {"job": DROP}, "invalid_job", "job: is required"),
        ({}, {"job": "train"}, "invalid_job", "job: expected `object | null`, got `str`"),
        ({}, {"jobs": [{"gres": "gpu:8"}]}, "unsupported_job", "jobs: heterogeneous jobs"),
        # GPU requests
        ({"gres": "gpu:-1"}, {}, "invalid_job", "job.gres: 'gpu:-1': a GPU count must not be negative"),
        ({"gres": "gpu:h100:x"}, {}, "invalid_job", "job.gres: 'gpu:h100:x' has no valid GPU count"),
        ({"gres": "gpu:1k"}, {}, "invalid_job", "job.gres: cannot read 'gpu:1k' as a GPU request"),
        ({"gres": "gpu:h100:2k"}, {}, "invalid_job", "job.gres: 'gpu:h100:2k' has no valid GPU count"),
        ({"gres": "gpu:a:b:2"}, {}, "invalid_job", "job.gres: cannot read 'gpu:a:b:2' as a GPU request"),
        ({"gres": "gpu:"}, {}, "invalid_job", "job.gres: cannot read 'gpu:' as a GPU request"),
        ({"gres": "gpu:h100:"}, {}, "invalid_job", "job.gres: 'gpu:h100:' has no valid GPU count"),
        ({"gres": "gpu:2M"}, {}, "invalid_job", "job.gres: cannot read 'gpu:2M' as a GPU request"),
        ({"gres": "gpu:4,,gpu:2"}, {}, "invalid_job", "job.gres: empty entry in 'gpu:4,,gpu:2'"),
        ({"gres": 4}, {}, "invalid_job", "job.gres: expected `str | null`, got `int`"),
        ({"gres": "shard:2"}, {}, "unsupported_job", "job.gres: 'shard:2' asks for a share of GPUs"),
        ({"gres": "gpu:1,mps:100"}, {}, "unsupported_job", "job.gres: 'mps:100' asks for a share"),
        ({"gres": DROP, "gpus": "-2"}, {}, "invalid_job", "job.gpus: '-2': a GPU count must not be negative"),
        ({"gres": DROP, "gpus": -2}, {}, "invalid_job", "job.gpus: must not be negative (got -2)"),
        ({"gres": DROP, "gpus": "h100"}, {}, "invalid_job", "job.gpus: cannot read 'h100' as a GPU request"),
        (
            {"gres": DROP, "gpus": 2.5},
            {},
            "invalid_job",
            "job.gpus: expected `int | str | null`, got `float`",
        ),
        ({"gpus_per_node": True}, {}, "invalid_job", "job.gpus_per_node: expected `int | str | null`"),
        ({"gpus_per_socket": "1"}, {}, "unbounded_job", "job.gpus_per_socket: GPUs per socket cannot be"),
        ({"gres": DROP, "gpus_per_task": "1"}, {}, "unbounded_job", "job.gpus_per_task: GPUs per task need"),
        (
            {"gres": DROP, "gpus_per_task": "1", "tasks_per_node": 2},
            {},
            "unbounded_job",
            "job.gpus_per_task: GPUs per task need an explicit task count",
        ),
        (
            {"gres": "gpu:h100:4", "gpus_per_node": "a100:1"},
            {},
            "unsupported_job",
            "job: GPUs of more than one type in one job are not supported "
            "(h100 in job.gres, a100 in job.gpus_per_node)",
        ),
        ({"gres": "gpu:h100:2,gpu:2"}, {}, "unsupported_job", "job: GPUs of more than one type"),
        # node and task counts
        ({"nodes": -1}, {}, "invalid_job", "job.nodes: must not be negative (got -1)"),
        ({"nodes": 0}, {}, "invalid_job", "job.nodes: a job needs at least one node"),
        ({"nodes": [0, -2]}, {}, "invalid_job", "job.nodes: must not be negative (got -2)"),
        ({"nodes": "4-2"}, {}, "invalid_job", "job.nodes: cannot read '4-2' in '4-2' as a node count"),
        ({"nodes": "two"}, {}, "invalid_job", "job.nodes: cannot read 'two'"),
        ({"nodes": "-3"}, {}, "invalid_job", "job.nodes: cannot read '-3'"),
        ({"nodes": [1, 2, 3]}, {}, "invalid_job", "job.nodes: expected [count] or [minimum, maximum]"),
        ({"nodes": 2.0}, {}, "invalid_job", "job.nodes: expected `int | str | array | null`, got `float`"),
        ({"tasks": -1}, {}, "invalid_job", "job.tasks: must not be negative (got -1)"),
        ({"tasks": 0}, {}, "invalid_job", "job.tasks: must be at least 1 (got 0)"),
        ({"tasks_per_node": -4}, {}, "invalid_job", "job.tasks_per_node: must not be negative"),
        # arrays
        ({"array": ""}, {}, "invalid_job", "job.array: no array indexes in ''"),
        ({"array": "%4"}, {}, "invalid_job", "job.array: no array indexes in '%4'"),
        ({"array": "5-1"}, {}, "invalid_job", "job.array: cannot read '5-1' in '5-1' as an array index"),
        ({"array": "0-9%x"}, {}, "invalid_job", "job.array: the limit after '%' in '0-9%x'"),
        ({"array": "0-9:0"}, {}, "invalid_job", "job.array: cannot read '0-9:0'"),
        ({"array": "1,,3"}, {}, "invalid_job", "job.array: cannot read ''"),
        ({"array": "-1-3"}, {}, "invalid_job", "job.array: cannot read '-1-3'"),
        ({"array": "0-4000001"}, {}, "invalid_job", "job.array: index 4000001 is above Slurm's largest"),
        ({"array": 10}, {}, "invalid_job", "job.array: expected `str | null`, got `int`"),
        # other fields read are typed
        ({"name": 5}, {}, "invalid_job", "job.name: expected `str | null`, got `int`"),
        ({"partition": ["gpu"]}, {}, "invalid_job", "job.partition: expected `str | null`, got `array`"),
        ({"current_working_directory": 1}, {}, "invalid_job", "job.current_working_directory: expected"),
    ],
)
def test_v0_0_38_refusals_name_the_field(
    job: dict[str, Any], top: dict[str, Any], code: str, message: str
) -> None:
    refused = refusal(parse_submit, "v0.0.38", body(V38, job, top))
    assert refused.code == code, refused.message
    assert refused.message.startswith(message), refused.message


@pytest.mark.parametrize("version", NEWER)
def test_the_newer_shape(version: str) -> None:
    workload = parse_submit(version, msgspec.json.encode(V40))
    assert workload == Workload(
        kind="slurm",
        gpus_per_node=8,
        nodes=4,
        gpu_type="h100",
        time_limit_seconds=2880 * 60,
        partition="gpu",
        name="train-2",
        working_directory="/home/alice/jobs",
    )
    assert workload.gpus == 32
    assert workload.gpu_seconds_bound == 32 * 2880 * 60


@pytest.mark.parametrize("version", ["v0.0.40", "v0.0.44"])
@pytest.mark.parametrize(
    ("job", "top", "expected"),
    [
        # (gpus_per_node, nodes, gpu_type, gpus, time_limit_seconds)
        ({"tres_per_node": "gres/gpu=8"}, {}, (8, 4, None, 32, 172800)),
        ({"tres_per_node": "gres/gpu:8"}, {}, (8, 4, None, 32, 172800)),
        ({"tres_per_node": "gres/gpu:H200=4"}, {}, (4, 4, "h200", 16, 172800)),
        ({"tres_per_node": "cpu=4,gres/gpu:a100=2,mem=8G"}, {}, (2, 4, "a100", 8, 172800)),
        ({"tres_per_node": "gres/gpu"}, {}, (1, 4, None, 4, 172800)),
        ({"tres_per_node": "cpu=16,mem=64G"}, {}, (0, 4, None, 0, 172800)),
        ({"tres_per_node": "gres/gpu:h100:8", "nodes": 2}, {}, (8, 2, "h100", 16, 172800)),
        ({"tres_per_node": DROP, "tres_per_job": "gres/gpu:h100:16"}, {}, (4, 4, "h100", 16, 172800)),
        ({"tres_per_node": DROP, "tres_per_job": "gres/gpu=6", "nodes": 4}, {}, (2, 4, None, 8, 172800)),
        (
            {"tres_per_node": DROP, "tres_per_task": "cpu=4,gres/gpu=1", "tasks": 16, "nodes": 2},
            {},
            (8, 2, None, 16, 172800),
        ),
        ({"tres_per_node": DROP, "tres_per_task": "cpu=4"}, {}, (0, 4, None, 0, 172800)),
        ({"tres_per_node": DROP, "gpus_per_node": "h100:2"}, {}, (2, 4, "h100", 8, 172800)),
        ({"tres_per_socket": "gres/gpu:0"}, {}, (8, 4, "h100", 32, 172800)),
        # time limits: plain minutes or the object
        ({"time_limit": 60}, {}, (8, 4, "h100", 32, 3600)),
        ({"time_limit": {"set": True, "number": 90}}, {}, (8, 4, "h100", 32, 5400)),
        # node counts
        ({"nodes": 2}, {}, (8, 2, "h100", 16, 172800)),
        ({"nodes": "2", "maximum_nodes": 6}, {}, (8, 6, "h100", 48, 172800)),
        ({"nodes": DROP, "minimum_nodes": 3}, {}, (8, 3, "h100", 24, 172800)),
        ({"nodes": DROP, "tasks": 4}, {}, (8, 4, "h100", 32, 172800)),  # one node per task at most
        ({"nodes": DROP}, {}, (8, 1, "h100", 8, 172800)),
        ({"nodes": "2", "required_nodes": ["gpu[01-02]"]}, {}, (8, 2, "h100", 16, 172800)),
        # the script at the top level, the environment left out
        ({"script": DROP, "environment": DROP}, {"script": "#!/bin/sh\n"}, (8, 4, "h100", 32, 172800)),
    ],
)
def test_newer_gpu_requests(
    version: str, job: dict[str, Any], top: dict[str, Any], expected: tuple[int, int, str | None, int, int]
) -> None:
    workload = parse_submit(version, body(V40, job, top))
    got = (
        workload.gpus_per_node,
        workload.nodes,
        workload.gpu_type,
        workload.gpus,
        workload.time_limit_seconds,
    )
    assert got == expected
    assert workload.gpu_seconds_bound == expected[3] * expected[4]


@pytest.mark.parametrize("version", ["v0.0.40", "v0.0.44"])
@pytest.mark.parametrize(("array", "tasks"), [("0-49", 50), ("0-49%5", 50), ("1,3,5", 3), ("0-15:4", 4)])
def test_newer_arrays(version: str, array: str, tasks: int) -> None:
    workload = parse_submit(version, body(V40, {"array": array}))
    assert (workload.array_tasks, workload.gpus) == (tasks, 32 * tasks)


@pytest.mark.parametrize("version", ["v0.0.39", "v0.0.40", "v0.0.44"])
@pytest.mark.parametrize(
    ("job", "top", "code", "message"),
    [
        ({"time_limit": DROP}, {}, "unbounded_job", "job.time_limit: a job needs a finite time limit"),
        (
            {"time_limit": {"set": True, "infinite": True, "number": 0}},
            {},
            "unbounded_job",
            "job.time_limit.infinite: an infinite time limit is refused",
        ),
        (
            {"time_limit": {"set": False, "infinite": False, "number": 60}},
            {},
            "unbounded_job",
            "job.time_limit.set: must be true",
        ),
        ({"time_limit": {"number": 60}}, {}, "unbounded_job", "job.time_limit.set: must be true"),
        (
            {"time_limit": {"set": True, "infinite": False, "number": 0}},
            {},
            "unbounded_job",
            "job.time_limit.number: 0 means no time limit to Slurm",
        ),
        (
            {"time_limit": {"set": True, "number": 4294967294}},
            {},
            "unbounded_job",
            "job.time_limit.number: 4294967294 minutes is what Slurm reads as unset or INFINITE",
        ),
        ({"time_limit": {"set": True}}, {}, "invalid_job", "job.time_limit.number: is required"),
        (
            {"time_limit": {"set": True, "number": -1}},
            {},
            "invalid_job",
            "job.time_limit.number: must not be",
        ),
        ({"time_limit": {"set": "yes"}}, {}, "invalid_job", "job.time_limit.set: expected `bool`, got `str`"),
        ({"time_limit": 0}, {}, "unbounded_job", "job.time_limit: 0 means no time limit"),
        (
            {"time_limit": "60"},
            {},
            "invalid_job",
            "job.time_limit: expected `int | object | null`, got `str`",
        ),
        # script
        (
            {"script": DROP},
            {},
            "invalid_job",
            "script: a batch job needs a script (give `script` or `job.script`",
        ),
        ({"script": ""}, {}, "invalid_job", "job.script: a batch job needs a script"),
        ({"script": DROP}, {"script": " "}, "invalid_job", "script: a batch job needs a script"),
        ({}, {"job": DROP, "script": "#!/bin/sh\n"}, "invalid_job", "job: is required"),
        ({}, {"jobs": [{"tres_per_node": "gres/gpu:8"}]}, "unsupported_job", "jobs: heterogeneous jobs"),
        # environment: a list of NAME=value
        ({"environment": {"PATH": "/bin"}}, {}, "invalid_job", "job.environment: expected `array | null`"),
        (
            {"environment": ["PATH=/bin", "HOME"]},
            {},
            "invalid_job",
            "job.environment[1]: expected NAME=value",
        ),
        ({"environment": [1]}, {}, "invalid_job", "job.environment[0]: expected `str`, got `int`"),
        # GPUs
        ({"tres_per_socket": "gres/gpu:1"}, {}, "unbounded_job", "job.tres_per_socket: GPUs per socket"),
        (
            {"tres_per_node": DROP, "tres_per_task": "gres/gpu:1"},
            {},
            "unbounded_job",
            "job.tres_per_task: GPUs per task need an explicit task count",
        ),
        ({"tres_per_node": "gres/shard:4"}, {}, "unsupported_job", "job.tres_per_node: 'gres/shard:4' asks"),
        (
            {"tres_per_node": "gres/gpu:h100=x"},
            {},
            "invalid_job",
            "job.tres_per_node: 'gres/gpu:h100=x' has no",
        ),
        (
            {"tres_per_node": "gres/gpu=-8"},
            {},
            "invalid_job",
            "job.tres_per_node: 'gres/gpu=-8': a GPU count",
        ),
        (
            {"tres_per_job": "gres/gpu=8.5"},
            {},
            "invalid_job",
            "job.tres_per_job: 'gres/gpu=8.5' has no valid",
        ),
        (
            {"tres_per_job": "gres/gpu:a100:8"},
            {},
            "unsupported_job",
            "job: GPUs of more than one type in one job are not supported",
        ),
        # nodes that the job could be spread over without a count
        (
            {"nodes": DROP, "required_nodes": ["gpu[01-10]"]},
            {},
            "unbounded_job",
            "job.required_nodes: a job that asks GPUs per node and may be spread over several nodes",
        ),
        ({"nodes": DROP, "minimum_cpus": 512}, {}, "unbounded_job", "job.minimum_cpus: a job that asks GPUs"),
        ({"nodes": [2, 4]}, {}, "invalid_job", "job.nodes: expected `int | str | null`, got `array`"),
        ({"nodes": "2-"}, {}, "invalid_job", "job.nodes: cannot read '2-'"),
        ({"maximum_nodes": 0}, {}, "invalid_job", "job.maximum_nodes: must be at least 1 (got 0)"),
        ({"minimum_nodes": -1}, {}, "invalid_job", "job.minimum_nodes: must not be negative (got -1)"),
        ({"tasks": -2}, {}, "invalid_job", "job.tasks: must not be negative (got -2)"),
        ({"array": "0-9%"}, {}, "invalid_job", "job.array: the limit after '%'"),
    ],
)
def test_newer_refusals_name_the_field(
    version: str, job: dict[str, Any], top: dict[str, Any], code: str, message: str
) -> None:
    refused = refusal(parse_submit, version, body(V40, job, top))
    assert refused.code == code, refused.message
    assert refused.message.startswith(message), refused.message


def test_newer_versions_refuse_the_v0_0_38_names() -> None:
    # `gres` and `gpus` are not job_desc_msg fields any more: a release that reads them after all
    # must not get GPUs the bound never counted, so they are refused like any unknown field.
    refused = refusal(parse_submit, "v0.0.41", body(V40, {"tres_per_node": DROP, "gres": "gpu:8"}))
    assert refused.message.startswith("job.gres: is not a field the gateway accepts")


@pytest.mark.parametrize("version", ["v0.0.37", "v0.0.45", "v1", "", "latest"])
def test_unsupported_versions_are_refused_with_the_list(version: str) -> None:
    for call, args in (
        (parse_submit, (version, msgspec.json.encode(V38))),
        (parse_jobs, (version, b'{"jobs": []}')),
    ):
        refused = refusal(call, *args)
        assert refused.code == "unsupported_api_version"
        assert f"{version!r} is not supported" in refused.message
        assert "v0.0.38, v0.0.39, v0.0.40, v0.0.41, v0.0.42, v0.0.43, v0.0.44" in refused.message


def test_supported_versions() -> None:
    assert SUPPORTED_VERSIONS == ("v0.0.38", "v0.0.39", "v0.0.40", "v0.0.41", "v0.0.42", "v0.0.43", "v0.0.44")


@pytest.mark.parametrize(
    ("path", "version"),
    [
        ("/slurm/v0.0.38/job/submit", "v0.0.38"),
        ("/slurm/v0.0.44/jobs", "v0.0.44"),
        ("/slurm/v0.0.40/job/12", "v0.0.40"),
        ("/slurm/v0.0.38", "v0.0.38"),
        ("/slurm/v0.0.43?update_time=0", "v0.0.43"),
        ("/slurmdb/v0.0.41/jobs/", "v0.0.41"),
        ("/clusters/gpu-east/slurm/v0.0.42/ping", "v0.0.42"),
        ("/slurm/v0.0.37/jobs", "v0.0.37"),  # returned; the readers refuse it
        ("/slurm/latest/jobs", None),
        ("/slurm/v0.0.38x/jobs", None),
        ("/notslurm/v0.0.38/jobs", None),
        ("/v1/chat/completions", None),
        ("", None),
    ],
)
def test_version_of(path: str, version: str | None) -> None:
    assert version_of(path) == version


# --- job replies ----------------------------------------------------------------------------------

META_38 = {
    "plugin": {"type": "openapi/v0.0.38", "name": "Slurm OpenAPI v0.0.38"},
    "Slurm": {"version": {"major": 22, "micro": 8, "minor": 5}, "release": "22.05.8"},
}
JOBS_38: dict[str, Any] = {
    "meta": META_38,
    "errors": [],
    "jobs": [
        {
            "account": "",
            "job_id": 1,
            "name": "train-1",
            "job_state": "RUNNING",
            "state_reason": "None",
            "user_name": "alice",
            "partition": "gpu",
            "tres_per_node": "gres:gpu:4",
            "tres_per_job": "",
            "gres_detail": ["gpu:4(IDX:0-3)"],
            "time_limit": 10,
            "submit_time": 1_700_000_000,
            "start_time": 1_700_000_005,
            "end_time": 1_700_000_605,  # start + limit while it runs
            "exit_code": 0,
            "array_job_id": 0,
        },
        {
            "job_id": 2,
            "name": "train-2",
            "job_state": "PENDING",
            "state_reason": "Resources",
            "user_name": "bob",
            "time_limit": 60,
            "submit_time": 1_700_000_100,
            "start_time": 1_700_003_600,  # the expected start of a pending job
            "end_time": 1_700_007_200,
            "exit_code": 0,
        },
        {
            "job_id": 3,
            "name": "done",
            "job_state": "COMPLETED",
            "user_name": "alice",
            "time_limit": 4294967295,  # INFINITE
            "submit_time": 1_699_999_000,
            "start_time": 1_699_999_010,
            "end_time": 1_699_999_130,
            "exit_code": 256,
        },
        {
            "job_id": 4,
            "job_state": "CANCELLED",
            "start_time": 0,
            "end_time": 1_700_000_050,
            "submit_time": 1_700_000_040,
        },
    ],
}


def test_v0_0_38_job_records() -> None:
    records = parse_jobs("v0.0.38", msgspec.json.encode(JOBS_38))
    assert records == [
        JobRecord(1, "RUNNING", "alice", "train-1", 1_700_000_000, 1_700_000_005, 1_700_000_605, 10, 0),
        JobRecord(2, "PENDING", "bob", "train-2", 1_700_000_100, 1_700_003_600, 1_700_007_200, 60, 0),
        JobRecord(3, "COMPLETED", "alice", "done", 1_699_999_000, 1_699_999_010, 1_699_999_130, None, 256),
        JobRecord(4, "CANCELLED", None, None, 1_700_000_040, None, 1_700_000_050),
    ]
    now = 1_700_000_105
    assert [r.finished for r in records] == [False, False, True, True]
    assert [r.run_seconds(now) for r in records] == [100, 0, 120, 0]


def _noval(number: int, *, set_: bool = True, infinite: bool = False) -> dict[str, Any]:
    return {"set": set_, "infinite": infinite, "number": number}


JOBS_41: dict[str, Any] = {
    "jobs": [
        {
            "job_id": 7,
            "job_state": ["RUNNING"],
            "user_name": "alice",
            "name": "train-7",
            "submit_time": _noval(1_700_000_000),
            "start_time": _noval(1_700_000_010),
            "end_time": _noval(1_700_172_810),
            "time_limit": _noval(2880),
            "exit_code": {
                "status": ["PENDING"],
                "return_code": _noval(0, set_=False),
                "signal": {"id": _noval(0, set_=False), "name": ""},
            },
            "array_job_id": _noval(0),
            "tres_per_node": "gres/gpu:h100:8",
        },
        {
            "job_id": 8,
            "job_state": ["COMPLETED"],
            "user_name": "alice",
            "submit_time": _noval(1_700_000_000),
            "start_time": _noval(1_700_000_100),
            "end_time": _noval(1_700_000_400),
            "time_limit": _noval(0, set_=False, infinite=True),
            "exit_code": {"status": ["SUCCESS"], "return_code": _noval(0), "signal": {"name": ""}},
        },
        {
            "job_id": 9,
            "job_state": ["FAILED", "REQUEUED"],
            "start_time": _noval(1_700_000_100),
            "end_time": _noval(1_700_000_160),
            "exit_code": {"status": ["ERROR"], "return_code": _noval(1)},
            "array_job_id": _noval(5),
        },
        {"job_id": 10, "job_state": ["PENDING"], "start_time": _noval(0, set_=False)},
        {"job_id": 11, "job_state": []},
    ],
    "last_backfill": _noval(1_700_000_000),
    "last_update": _noval(1_700_000_000),
    "meta": {"plugin": {"type": "openapi/slurmctld", "data_parser": "data_parser/v0.0.41"}},
    "errors": [],
    "warnings": [],
}


def test_v0_0_41_job_records_unwrap_lists_and_objects() -> None:
    records = parse_jobs("v0.0.41", msgspec.json.encode(JOBS_41))
    assert records == [
        JobRecord(7, "RUNNING", "alice", "train-7", 1_700_000_000, 1_700_000_010, 1_700_172_810, 2880, None),
        JobRecord(8, "COMPLETED", "alice", None, 1_700_000_000, 1_700_000_100, 1_700_000_400, None, 0),
        JobRecord(9, "FAILED", None, None, None, 1_700_000_100, 1_700_000_160, None, 1, array_job_id=5),
        JobRecord(10, "PENDING"),
        JobRecord(11, "UNKNOWN"),
    ]
    now = 1_700_001_010
    assert [r.run_seconds(now) for r in records] == [1000, 300, 60, 0, 0]
    assert [r.finished for r in records] == [False, True, True, False, False]


@pytest.mark.parametrize(
    ("job", "record"),
    [
        # v0.0.39: exit codes and limits as objects, times plain
        (
            {"job_id": 5, "job_state": "TIMEOUT", "exit_code": _noval(0), "time_limit": _noval(30)},
            JobRecord(5, "TIMEOUT", time_limit_minutes=30, exit_code=0),
        ),
        ({"job_id": 5, "job_state": "running"}, JobRecord(5, "RUNNING")),
        ({"job_id": 5, "job_state": " completed "}, JobRecord(5, "COMPLETED")),
        ({"job_id": 5}, JobRecord(5, "UNKNOWN")),
        ({"job_id": 5, "job_state": None, "exit_code": None}, JobRecord(5, "UNKNOWN")),
        # slurmrestd's "complex" mode: plain numbers, null and "Infinity"
        (
            {
                "job_id": 5,
                "job_state": ["RUNNING"],
                "start_time": 100,
                "time_limit": "Infinity",
                "end_time": None,
            },
            JobRecord(5, "RUNNING", start_time=100),
        ),
        ({"job_id": 5, "exit_code": _noval(0, infinite=True)}, JobRecord(5, "UNKNOWN")),
    ],
)
def test_job_record_shapes(job: dict[str, Any], record: JobRecord) -> None:
    assert parse_jobs("v0.0.40", msgspec.json.encode({"jobs": [job]})) == [record]


@pytest.mark.parametrize(
    "state",
    [
        "COMPLETED",
        "CANCELLED",
        "FAILED",
        "TIMEOUT",
        "NODE_FAIL",
        "PREEMPTED",
        "OUT_OF_MEMORY",
        "BOOT_FAIL",
        "DEADLINE",
    ],
)
def test_finished_states(state: str) -> None:
    assert JobRecord(1, state).finished


@pytest.mark.parametrize("state", ["PENDING", "RUNNING", "SUSPENDED", "COMPLETING", "CONFIGURING", "UNKNOWN"])
def test_unfinished_states(state: str) -> None:
    assert not JobRecord(1, state).finished


@pytest.mark.parametrize(
    ("record", "now", "seconds"),
    [
        (JobRecord(1, "PENDING", start_time=None), 1000, 0),
        (JobRecord(1, "PENDING", start_time=500), 1000, 0),  # an expected start, not a start
        (JobRecord(1, "RUNNING", start_time=400, end_time=4000), 1000, 600),
        (JobRecord(1, "RUNNING", start_time=1500), 1000, 0),  # clocks disagree: never negative
        (JobRecord(1, "COMPLETED", start_time=400, end_time=700), 1000, 300),
        (JobRecord(1, "COMPLETED", start_time=400, end_time=300), 1000, 0),
        (JobRecord(1, "FAILED", start_time=400, end_time=None), 1000, 600),
        (JobRecord(1, "CANCELLED", start_time=None, end_time=700), 1000, 0),
    ],
)
def test_run_seconds(record: JobRecord, now: int, seconds: int) -> None:
    assert record.run_seconds(now) == seconds


@pytest.mark.parametrize(
    "reply",
    [
        b'{"meta": {}, "errors": [{"error_number": 2017, "error": "Invalid job id specified"}]}',
        b'{"jobs": []}',
        b'{"jobs": null}',
    ],
)
def test_replies_without_jobs(reply: bytes) -> None:
    assert parse_jobs("v0.0.38", reply) == []


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (b"Unable to parse query.", "unreadable slurmrestd jobs reply: not JSON"),
        (b'{"jobs": [{"name": "x"}]}', "unreadable slurmrestd jobs reply: jobs[0].job_id: is required"),
        (b'{"jobs": [{"job_id": "1"}]}', "unreadable slurmrestd jobs reply: jobs[0].job_id: expected `int`"),
        (b'{"jobs": {}}', "unreadable slurmrestd jobs reply: jobs: expected `array | null`, got `object`"),
        (b"[]", "unreadable slurmrestd jobs reply: body: expected `object`"),
    ],
)
def test_unreadable_job_replies_are_the_clusters_fault(reply: bytes, message: str) -> None:
    with pytest.raises(UpstreamUnavailable) as failed:
        parse_jobs("v0.0.38", reply)
    assert failed.value.code == "invalid_upstream_reply"
    assert failed.value.status == 502
    assert failed.value.message.startswith(message), failed.value.message


# --- filtering, submit replies, errors ------------------------------------------------------------


def test_filter_jobs_keeps_the_allowed_jobs_and_every_other_key() -> None:
    reply = dict(JOBS_38, warnings=[{"description": "deprecated"}])
    out = msgspec.json.decode(filter_jobs(msgspec.json.encode(reply), {1, 3, 99}))
    assert list(out) == ["meta", "errors", "jobs", "warnings"]
    assert (
        out["meta"] == META_38 and out["errors"] == [] and out["warnings"] == [{"description": "deprecated"}]
    )
    assert [job["job_id"] for job in out["jobs"]] == [1, 3]
    assert out["jobs"][0] == JOBS_38["jobs"][0]  # a kept job is unchanged


def test_filter_jobs_of_a_newer_version() -> None:
    out = msgspec.json.decode(filter_jobs(msgspec.json.encode(JOBS_41), [8, 5]))
    # job 9 is a task of array 5: the array's id is the one its submission returned
    assert [job["job_id"] for job in out["jobs"]] == [8, 9]
    assert out["last_update"] == JOBS_41["last_update"] and out["warnings"] == []


@pytest.mark.parametrize(
    ("jobs", "kept"),
    [
        ([{"job_id": 1}, {"job_id": 2}], [{"job_id": 1}]),
        ([{"job_id": True}], []),  # not an id, even though True == 1
        ([{"job_id": "1"}, {"name": "no id"}, 1, None], []),
        ([{"job_id": 2, "array_job_id": 1}], [{"job_id": 2, "array_job_id": 1}]),
        ([{"job_id": 2, "array_job_id": {"set": True, "infinite": False, "number": 1}}], None),
        ([{"job_id": 2, "array_job_id": {"set": False, "infinite": False, "number": 1}}], []),
        ([], []),
    ],
)
def test_filter_jobs_drops_what_it_cannot_attribute(jobs: list[Any], kept: list[Any] | None) -> None:
    out = msgspec.json.decode(filter_jobs(msgspec.json.encode({"jobs": jobs}), {1}))
    assert out["jobs"] == (jobs if kept is None else kept)


@pytest.mark.parametrize(
    "reply", [b"Unable to parse query.", b"", b'{"meta": {}, "errors": [{"error": "no"}]}', b"Not Found\n"]
)
def test_filter_jobs_passes_replies_without_jobs(reply: bytes) -> None:
    assert filter_jobs(reply, {1}) is reply


@pytest.mark.parametrize(
    "reply", [b'{"jobs": [{"job_id": 1}', b' [{"job_id": 2}]', b'{"jobs": {"job_id": 2}}']
)
def test_filter_jobs_never_passes_what_it_cannot_read(reply: bytes) -> None:
    with pytest.raises(UpstreamUnavailable) as failed:
        filter_jobs(reply, {1})
    assert failed.value.code == "invalid_upstream_reply"


@pytest.mark.parametrize(
    ("reply", "job_id"),
    [
        (b'{"errors": [], "job_id": 1, "step_id": "BATCH", "job_submit_user_msg": ""}', 1),  # v0.0.38
        (
            b'{"result": {"job_id": 42, "step_id": "batch", "error_code": 0, "error": "", '
            b'"job_submit_user_msg": ""}, "job_id": 42, "step_id": "batch", "meta": {}, '
            b'"errors": [], "warnings": []}',
            42,
        ),
        (b'{"result": {"job_id": 43}, "errors": []}', 43),
        (
            b'{"errors": [{"error_number": 2014, "error": "Requested node configuration is not available"}]}',
            None,
        ),
        (b'{"job_id": 0}', None),
        (b'{"job_id": "7"}', None),
        (b'{"job_id": true}', None),
        (b'{"result": "7"}', None),
        (b"[1]", None),
        (b"Unable to parse query.", None),
        (b"", None),
    ],
)
def test_submit_reply_job_id(reply: bytes, job_id: int | None) -> None:
    assert submit_reply_job_id(reply) == job_id


@pytest.mark.parametrize(
    ("reply", "errors"),
    [
        (
            b'{"meta": {}, "errors": [{"error_number": 2017, "error": "Invalid job id specified", '
            b'"error_code": 2017, "description": "_handle_job_get: unknown job 9"}]}',
            [
                {
                    "error_number": 2017,
                    "error": "Invalid job id specified",
                    "error_code": 2017,
                    "description": "_handle_job_get: unknown job 9",
                }
            ],
        ),
        (b'{"errors": [], "job_id": 1}', []),
        (b'{"errors": [{"error": "x"}, "plain", 3]}', [{"error": "x"}]),
        (b'{"errors": "boom"}', []),
        (b'{"jobs": []}', []),
        (b"Unable to parse query.", []),
        (b"[]", []),
        (b"", []),
    ],
)
def test_slurm_errors(reply: bytes, errors: list[dict[str, Any]]) -> None:
    assert slurm_errors(reply) == errors
