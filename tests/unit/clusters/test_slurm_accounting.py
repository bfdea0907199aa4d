"""slurmdbd's job records as slurmrestd serves them, in the shapes of v0.0.38 to v0.0.44."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from gateway.clusters.slurm import SUPPORTED_VERSIONS, accounting_path, parse_accounting
from gateway.errors import BadRequest, UpstreamUnavailable

# Trimmed from a real Slurm 22.05 slurmdbd reply (GET /slurmdb/v0.0.38/job/1).
V38 = {
    "jobs": [
        {
            "job_id": 1,
            "state": {"current": "COMPLETED", "reason": "None"},
            "time": {
                "elapsed": 1,
                "end": 1795796693,
                "start": 1795796692,
                "submission": 1795796689,
                "limit": 1,
            },
            "name": "t",
            "exit_code": {"status": "SUCCESS", "return_code": 0},
        }
    ]
}
# v0.0.40 on: the state is a list (the state, then flags) and numbers may be {set, infinite, number}.
V40 = {
    "jobs": [
        {
            "job_id": 7,
            "state": {"current": ["CANCELLED", "REQUEUED"], "reason": "None"},
            "time": {
                "start": {"set": True, "infinite": False, "number": 1795796600},
                "end": 1795796660,
                "limit": {"set": True, "infinite": False, "number": 10},
            },
        },
        {"job_id": 8, "state": {"current": ["PENDING"]}, "time": {"start": 0, "end": 0}},
    ]
}


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_accounting_is_served_under_the_job_apis_version(version: str) -> None:
    assert accounting_path(version, "42") == f"/slurmdb/{version}/job/42"


def test_an_unsupported_version_is_refused() -> None:
    with pytest.raises(BadRequest):
        accounting_path("v0.0.37", "1")


def test_a_v0_0_38_record() -> None:
    [job] = parse_accounting("v0.0.38", msgspec.json.encode(V38))
    assert (job.job_id, job.state, job.start_time, job.end_time) == (1, "COMPLETED", 1795796692, 1795796693)
    assert job.finished and job.run_seconds(1795799999) == 1


def test_newer_records_with_state_lists_and_number_objects() -> None:
    cancelled, pending = parse_accounting("v0.0.40", msgspec.json.encode(V40))
    assert (cancelled.state, cancelled.start_time, cancelled.end_time) == (
        "CANCELLED",
        1795796600,
        1795796660,
    )
    assert cancelled.finished and cancelled.run_seconds(0) == 60
    assert (pending.state, pending.start_time, pending.end_time, pending.finished) == (
        "PENDING",
        None,
        None,
        False,
    )


@pytest.mark.parametrize(
    "reply",
    [{"jobs": []}, {"jobs": None}, {}, {"jobs": [{"job_id": 3}]}],
    ids=["empty", "null", "none", "bare"],
)
def test_sparse_replies(reply: dict[str, Any]) -> None:
    jobs = parse_accounting("v0.0.41", msgspec.json.encode(reply))
    assert [(j.job_id, j.state) for j in jobs] == ([(3, "UNKNOWN")] if reply.get("jobs") else [])


@pytest.mark.parametrize("body", [b"<html>", b'{"jobs": [{"state": {}}]}', b'{"jobs": "x"}'])
def test_an_unreadable_reply_is_a_bad_upstream_reply(body: bytes) -> None:
    with pytest.raises(UpstreamUnavailable) as exc:
        parse_accounting("v0.0.38", body)
    assert exc.value.code == "invalid_upstream_reply"
