"""The pure decisions on lost submissions: which job a row was, and what to do when none is sure."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from gateway.clusters.reconcile import verdict
from gateway.clusters.repository import Submitting
from gateway.clusters.slurm import JobRecord
from gateway.clusters.slurm.lost import match_slurm

AT = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)
T = int(AT.timestamp())


def lost(name: str = "train", directory: str = "/w/a", limit: int = 600, at: dt.datetime = AT) -> Submitting:
    return Submitting(
        id=uuid.uuid4(),
        api_version="v0.0.38",
        gpus=8,
        time_limit_seconds=limit,
        peak_flops_per_gpu=989e12,
        utilisation=0.4,
        submitted_at=at,
        signals={"name": name, "working_directory": directory},
    )


def job(job_id: int, **kw: object) -> JobRecord:
    fields: dict[str, object] = {
        "state": "RUNNING",
        "user_name": "root",
        "name": "train",
        "submit_time": T + 1,
        "time_limit_minutes": 10,
        "working_directory": "/w/a",
    }
    fields.update(kw)
    return JobRecord(job_id=job_id, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("found", "age", "expected"),
    [
        (1, 10, "adopt"),
        (1, 10_000, "adopt"),  # found is found, however late
        (0, 10, "reject"),  # the cluster would still list it: it was never created
        (0, 299.9, "reject"),
        (0, 300, "charge"),  # it may have ended and been forgotten: charge, never guess low
        (-1, 10, "wait"),  # ambiguous: maybe later not
        (-1, 300, "charge"),
    ],
)
def test_verdict(found: int, age: float, expected: str) -> None:
    assert verdict(found, age, 300.0) == expected


def window(rows: list[Submitting], jobs: list[JobRecord]) -> dict[uuid.UUID, tuple[int, int | None]]:
    return match_slurm(rows, jobs, user="root", window_seconds=65)


def test_the_one_job_a_lost_row_can_be_is_found() -> None:
    row = lost()
    assert window([row], [job(7)]) == {row.id: (1, 7)}


@pytest.mark.parametrize(
    "other",
    [
        {"user_name": "alice"},  # submitted by someone else, not through the gateway
        {"name": "eval"},
        {"working_directory": "/w/b"},
        {"time_limit_minutes": 20},
        {"submit_time": T - 6},  # before the row was written (beyond clock skew)
        {"submit_time": T + 65 + 6},  # after the submission could have been answered
        {"submit_time": None},
        {"array_job_id": 3},  # a task of another job's array
    ],
)
def test_a_job_that_differs_in_anything_the_row_knows_is_not_it(other: dict[str, object]) -> None:
    row = lost()
    assert window([row], [job(7, **other)]) == {row.id: (0, None)}


def test_what_the_cluster_does_not_report_is_not_held_against_a_job() -> None:
    row = lost()
    bare = job(7, user_name=None, name=None, working_directory=None, time_limit_minutes=None)
    assert window([row], [bare]) == {row.id: (1, 7)}
    assert window([row], [job(9, array_job_id=9)]) == {row.id: (1, 9)}  # an array's own first task


def test_two_candidates_or_two_claimants_are_ambiguous() -> None:
    row = lost()
    assert window([row], [job(7), job(8)]) == {row.id: (-1, None)}
    twin = lost()
    assert window([row, twin], [job(7)]) == {row.id: (-1, None), twin.id: (-1, None)}
    other = lost(name="eval")
    assert window([row, other], [job(7), job(8, name="eval")]) == {row.id: (1, 7), other.id: (1, 8)}
