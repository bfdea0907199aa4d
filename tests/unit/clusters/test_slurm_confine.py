"""A Slurm job confined to its customer: fields the provider sets, paths inside the customer's area,
dependencies read, whole-node asks charged, directives and unknown fields refused."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import msgspec
import pytest

from gateway.clusters import identities
from gateway.clusters.slurm import parse_submit
from gateway.clusters.slurm.confine import confine_submission, dependency_job_ids
from gateway.clusters.slurm.tokens import SlurmTokens
from gateway.errors import Forbidden, GatewayError

HOME = "/home/gw-acme"
JOB: dict[str, Any] = {
    "script": "#!/bin/bash\nsleep 5\n",
    "job": {
        "name": "train-1",
        "gres": "gpu:h100:1",
        "time_limit": 10,
        "environment": {"PATH": "/usr/bin:/bin"},
    },
}


def submission(**job: Any) -> bytes:
    out = copy.deepcopy(JOB)
    out["job"].update(job)
    return msgspec.json.encode(out)


def confine(raw: bytes, *, account: str | None = "acme", qos: str | None = None, partitions=("gpu",)) -> Any:
    confined = confine_submission(
        "v0.0.38", raw, user="gw-acme", home=HOME, account=account, qos=qos, partitions=partitions
    )
    return confined, msgspec.json.decode(confined.body)["job"]


def refused(call: Any, *args: Any, **kwargs: Any) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        call(*args, **kwargs)
    return caught.value


def test_the_provider_sets_account_qos_and_partition_and_the_job_runs_in_its_home() -> None:
    confined, job = confine(submission(), qos="normal")
    assert job["account"] == "acme" and job["qos"] == "normal" and job["partition"] == "gpu"
    assert job["current_working_directory"] == HOME == confined.working_directory
    assert "reservation" not in job and "wckey" not in job


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "account",
            "other-lab",
            "job.account: 'other-lab' is not yours to choose: the provider sets the account",
        ),
        ("qos", "high", "job.qos: is set by the provider, not by the job (remove it)"),
        ("reservation", "maint", "job.reservation: is set by the provider, not by the job (remove it)"),
        ("wckey", "x", "job.wckey: is set by the provider, not by the job (remove it)"),
    ],
)
def test_account_qos_reservation_and_wckey_never_come_from_the_body(
    field: str, value: str, message: str
) -> None:
    error = refused(confine, submission(**{field: value}))
    assert isinstance(error, Forbidden) and error.code == "field_not_allowed"
    assert error.message.startswith(message), error.message


def test_the_identitys_own_account_may_be_repeated() -> None:
    _, job = confine(submission(account="acme"))
    assert job["account"] == "acme"


def test_a_partition_outside_the_list_is_refused_and_one_inside_is_kept() -> None:
    _, job = confine(submission(partition="big"), partitions=("gpu", "big"))
    assert job["partition"] == "big"
    error = refused(confine, submission(partition="debug"), partitions=("gpu", "big"))
    assert error.code == "partition_not_allowed"
    assert error.message == (
        "job.partition: 'debug' is not a partition you may use; use one of 'gpu', 'big', or none for 'gpu'"
    )
    error = refused(confine, submission(partition="gpu"), partitions=())
    assert error.message == "job.partition: 'gpu' is not a partition you may use; remove it"
    _, job = confine(submission(), partitions=())
    assert "partition" not in job


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"current_working_directory": "runs/7"}, {"current_working_directory": f"{HOME}/runs/7"}),
        ({"current_working_directory": f"{HOME}/a/../b"}, {"current_working_directory": f"{HOME}/b"}),
        ({"standard_output": "out-%j.txt"}, {"standard_output": f"{HOME}/out-%j.txt"}),
        (
            {"current_working_directory": "runs", "standard_error": "../err.txt"},
            {"standard_error": f"{HOME}/err.txt"},
        ),
        ({"standard_input": f"{HOME}/in.txt"}, {"standard_input": f"{HOME}/in.txt"}),
    ],
)
def test_paths_are_made_absolute_inside_the_home(fields: dict[str, str], expected: dict[str, str]) -> None:
    _, job = confine(submission(**fields))
    for key, value in expected.items():
        assert job[key] == value


@pytest.mark.parametrize(
    ("field", "path"),
    [
        ("current_working_directory", "/tmp"),
        ("current_working_directory", "/home/gw-acme-other"),  # a prefix of the name is not inside
        ("current_working_directory", "../gw-bob"),
        ("standard_output", "/etc/cron.d/x"),
        ("standard_output", "../../etc/passwd"),
        ("standard_error", "//etc/x"),
        ("standard_input", "/home/gw-bob/slurm-1.out"),
    ],
)
def test_paths_outside_the_home_are_refused(field: str, path: str) -> None:
    error = refused(confine, submission(**{field: path}))
    assert isinstance(error, Forbidden) and error.code == "path_not_allowed"
    assert error.message.startswith(f"job.{field}: {path!r} is outside your area on this cluster ({HOME})")


def test_a_job_name_with_a_slash_is_refused_since_percent_x_expands_to_it() -> None:
    error = refused(confine, submission(name="../../etc/x", standard_output="%x.out"))
    assert error.code == "invalid_job" and error.message == "job.name: '../../etc/x' must not contain '/'"


def test_a_duplicate_key_reaches_the_cluster_once_as_the_gateway_read_it() -> None:
    raw = submission().replace(b'"name":"train-1"', b'"account":"other","name":"train-1","account":"acme"')
    assert raw.count(b'"account"') == 2
    confined, job = confine(raw)
    assert confined.body.count(b'"account"') == 1 and job["account"] == "acme"


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        (None, []),
        ("singleton", []),
        ("afterok:12", ["12"]),
        ("afterok:12:13,afterany:14_2", ["12", "13", "14"]),
        ("after:15+30?afternotok:16_*", ["15", "16"]),
        ("aftercorr:17,singleton", ["17"]),
    ],
)
def test_dependencies_name_their_job_ids(text: str | None, ids: list[str]) -> None:
    assert dependency_job_ids("job.dependency", text) == ids


@pytest.mark.parametrize("text", ["afterok", "afterok:", "afterok:x", "before:12", "afterok:12;rm"])
def test_unreadable_dependencies_are_refused(text: str) -> None:
    error = refused(dependency_job_ids, "job.dependency", text)
    assert error.code == "invalid_job" and error.message.startswith("job.dependency: ")


# --- what a job holds ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "job", "field"),
    [
        ("v0.0.38", {"exclusive": "exclusive"}, None),
        ("v0.0.38", {"exclusive": "user"}, None),
        ("v0.0.38", {"exclusive": True}, None),
        ("v0.0.38", {"memory_per_node": 0}, "job.memory_per_node"),
        ("v0.0.40", {"exclusive": ["true"]}, None),
        ("v0.0.40", {"shared": ["none"]}, "job.shared"),
        (
            "v0.0.44",
            {"memory_per_node": {"set": True, "infinite": False, "number": 0}},
            "job.memory_per_node",
        ),
    ],
)
def test_a_job_that_takes_whole_nodes_is_charged_every_gpu_of_them(
    version: str, job: dict[str, Any], field: str | None
) -> None:
    base: dict[str, Any] = (
        copy.deepcopy(JOB)
        if version == "v0.0.38"
        else {
            "job": {
                "script": "#!/bin/bash\ntrue\n",
                "tres_per_node": "gres/gpu:h100:1",
                "nodes": 2,
                "time_limit": {"set": True, "infinite": False, "number": 10},
                "environment": ["PATH=/bin"],
            }
        }
    )
    base["job"].update(job)
    raw = msgspec.json.encode(base)
    error = refused(parse_submit, version, raw)  # the node's size unknown: cannot be bounded
    assert error.code == "unbounded_job" and error.message.startswith(f"{field or 'job.exclusive'}: ")
    workload = parse_submit(version, raw, node_gpus=8)
    assert workload.gpus == 8 * workload.nodes == (8 if version == "v0.0.38" else 16)


def test_whole_nodes_are_refused_where_the_node_size_is_unknown() -> None:
    error = refused(parse_submit, "v0.0.38", submission(exclusive="exclusive"))
    assert error.code == "unbounded_job"
    assert error.message.startswith("job.exclusive: a job that takes whole nodes holds every GPU of them")


@pytest.mark.parametrize("value", ["false", False, None])
def test_exclusive_false_is_not_whole_nodes(value: Any) -> None:
    assert parse_submit("v0.0.38", submission(exclusive=value), node_gpus=8).gpus == 1


@pytest.mark.parametrize(
    "script",
    [
        "#!/bin/bash\n#SBATCH --gres=gpu:h100:8\nsrun train\n",
        "#!/bin/bash\n\n# a comment\n#SBATCH --exclusive\ntrue\n",
        "#SBATCH -A other\ntrue\n",
        "#!/bin/sh\n#PBS -l nodes=4\ntrue\n",
        "#!/bin/sh\n  #sbatch --output=/etc/x\ntrue\n",
    ],
)
def test_sbatch_directives_are_refused(script: str) -> None:
    raw = msgspec.json.encode({**JOB, "script": script})
    error = refused(parse_submit, "v0.0.38", raw)
    assert error.code == "invalid_job"
    assert "#SBATCH directives are refused; give the job's options as fields of `job`" in error.message


def test_sbatch_text_after_the_first_command_is_not_a_directive() -> None:
    raw = msgspec.json.encode({**JOB, "script": "#!/bin/bash\necho start\n#SBATCH --gres=gpu:8\n"})
    assert parse_submit("v0.0.38", raw).gpus == 1


def test_a_job_script_inside_the_job_is_checked_too() -> None:
    raw = msgspec.json.encode(
        {"job": {"script": "#!/bin/bash\n#SBATCH -G 8\ntrue\n", "time_limit": 5, "environment": []}}
    )
    error = refused(parse_submit, "v0.0.42", raw)
    assert error.message.startswith("job.script: line 2: '#SBATCH -G 8'")


# --- identities and tokens -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "home", "message"),
    [
        ("root", None, "user: a customer's jobs never run as root"),
        ("Alice", None, "user: 'Alice' is not a Unix user name"),
        ("9lives", None, "user: '9lives' is not a Unix user name"),
        ("gw-acme", "/", "home: '/' must be a normalised absolute path"),
        ("gw-acme", "/home/../etc", "home: '/home/../etc' must be a normalised absolute path"),
        ("gw-acme", "home/x", "home: 'home/x' must be a normalised absolute path"),
    ],
)
def test_bad_identities_are_refused(user: str, home: str | None, message: str) -> None:
    error = refused(identities.checked, "lab", uuid.uuid4(), user, home=home)
    assert error.message.startswith(message), error.message


def test_an_identitys_home_defaults_under_the_home_root() -> None:
    identity = identities.checked("lab", uuid.uuid4(), "gw-acme", home_root="/scratch")
    assert identity.home == "/scratch/gw-acme"


def test_tokens_are_minted_per_user_and_renewed_at_half_their_life() -> None:
    import jwt

    now = [1_000_000.0]
    tokens = SlurmTokens(b"k" * 32, lifespan=600, clock=lambda: now[0])
    first = tokens.token("gw-acme")
    claims = jwt.decode(first, b"k" * 32, algorithms=["HS256"], options={"verify_exp": False})
    assert claims == {"sun": "gw-acme", "iat": 1_000_000, "exp": 1_000_600}
    assert tokens.token("gw-acme") == first and tokens.token("gw-bob") != first
    now[0] += 301
    assert tokens.token("gw-acme") != first


def test_a_key_file_others_can_read_is_refused(tmp_path: Any) -> None:
    key = tmp_path / "jwt.key"
    key.write_bytes(b"k" * 32)
    key.chmod(0o644)
    with pytest.raises(ValueError, match="readable by others"):
        SlurmTokens.from_file(str(key))
    key.chmod(0o600)
    assert SlurmTokens.from_file(str(key)).token("x")


def test_newer_shapes_are_confined_alike() -> None:
    raw = msgspec.json.encode(
        {
            "job": {
                "script": "#!/bin/bash\ntrue\n",
                "tres_per_node": "gres/gpu:h100:2",
                "time_limit": {"set": True, "infinite": False, "number": 5},
                "environment": ["PATH=/bin"],
                "current_working_directory": "exp",
                "standard_output": "logs/%j.out",
            }
        }
    )
    assert parse_submit("v0.0.42", raw).gpus == 2
    confined = confine_submission(
        "v0.0.42", raw, user="gw-acme", home=HOME, account="acme", qos="normal", partitions=("gpu",)
    )
    job = msgspec.json.decode(confined.body)["job"]
    assert job["current_working_directory"] == f"{HOME}/exp"
    assert job["standard_output"] == f"{HOME}/exp/logs/%j.out"
    assert (job["account"], job["qos"], job["partition"]) == ("acme", "normal", "gpu")
    assert job["script"] == "#!/bin/bash\ntrue\n" and job["environment"] == ["PATH=/bin"]
