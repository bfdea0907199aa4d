"""Slurm REST replies: job records of every supported version, filtered per customer; submit replies."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import msgspec

from ..workload import bad_reply, decode_reply, json_object, run_seconds, whole_number
from .common import FINISHED_STATES, NO_VAL, NoVal, require_supported


class JobRecord(msgspec.Struct, frozen=True):
    """One job of a ``GET .../job/{id}`` or ``GET .../jobs`` reply, whatever the API version."""

    job_id: int
    state: str
    """Upper case, one state: ``RUNNING``, ``PENDING``, ``COMPLETED``, ... (``UNKNOWN`` if absent)."""
    user_name: str | None = None
    name: str | None = None
    submit_time: int | None = None
    """Epoch seconds; None when unset or 0 (also for the start and end times)."""
    start_time: int | None = None
    end_time: int | None = None
    """While the job runs, Slurm gives start + time limit here; the real end once it finished."""
    time_limit_minutes: int | None = None
    """None when unset or infinite."""
    exit_code: int | None = None
    array_job_id: int | None = None
    """The id of the array the job is a task of (the id its submission returned); None otherwise."""
    working_directory: str | None = None

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES

    def run_seconds(self, now: int) -> int:
        """0 if never started; end - start once finished; now - start while it runs. Never negative."""
        return run_seconds(
            self.start_time, self.end_time, now, finished=self.finished, started=self.state != "PENDING"
        )


class _ExitCode(msgspec.Struct, kw_only=True):
    """v0.0.39: ``{"set", "infinite", "number"}``; v0.0.40+: ``{"status", "return_code", "signal"}``."""

    set: bool = False
    infinite: bool = False
    number: int | None = None
    return_code: int | NoVal | None = None


class _RawJob(msgspec.Struct, kw_only=True):
    job_id: int
    job_state: str | list[str] | None = None
    user_name: str | None = None
    name: str | None = None
    # str: "Infinity" in slurmrestd's "complex" output mode
    submit_time: int | str | NoVal | None = None
    start_time: int | str | NoVal | None = None
    end_time: int | str | NoVal | None = None
    time_limit: int | str | NoVal | None = None
    exit_code: int | _ExitCode | None = None
    array_job_id: int | NoVal | None = None
    current_working_directory: str | None = None


class _JobsReply(msgspec.Struct):
    jobs: list[_RawJob] | None = None


def parse_jobs(version: str, body: bytes) -> list[JobRecord]:
    """The jobs of a ``GET /slurm/{version}/job/{id}`` or ``.../jobs`` reply (``[]`` when it has none).

    One tolerant reader serves every supported version: plain numbers (v0.0.38) and
    ``{"set", "infinite", "number"}`` objects, ``job_state`` as a string or a list (v0.0.40+: the
    first item is the state, the rest are flags). An unreadable reply raises
    :class:`~gateway.errors.UpstreamUnavailable` (``invalid_upstream_reply``).
    """
    require_supported(version)
    reply = decode_reply(body, _JobsReply, "slurmrestd jobs")
    return [_record(job) for job in reply.jobs or ()]


def _state(value: str | list[str] | None) -> str:
    """One upper-case state from a string or a list (v0.0.40+: the state, then flags); ``UNKNOWN``."""
    state = value[0] if isinstance(value, list) and value else value
    return (state.strip().upper() if isinstance(state, str) else "") or "UNKNOWN"


class _AccountedState(msgspec.Struct):
    current: str | list[str] | None = None


class _AccountedTime(msgspec.Struct):
    start: int | str | NoVal | None = None
    end: int | str | NoVal | None = None


class _AccountedJob(msgspec.Struct, kw_only=True):
    job_id: int
    state: _AccountedState | None = None
    time: _AccountedTime | None = None


class _AccountedReply(msgspec.Struct):
    jobs: list[_AccountedJob] | None = None


def accounting_path(version: str, job_id: str) -> str:
    """Where slurmrestd serves a job's accounting record (slurmdbd): ``/slurmdb/{version}/job/{id}``.

    Up to v0.0.38 the accounting plugins have names of their own (``openapi/dbv0.0.38``), but
    serve under the same version in the path as the job API's.
    """
    require_supported(version)
    return f"/slurmdb/{version}/job/{job_id}"


def parse_accounting(version: str, body: bytes) -> list[JobRecord]:
    """The jobs of a ``GET /slurmdb/.../job/{id}`` reply: state, start and end from slurmdbd.

    It still has a job after slurmctld has forgotten it (``MinJobAge``). ``state.current`` is a
    string up to v0.0.39 and a list (state, then flags) from v0.0.40; times are plain numbers or
    ``{"set", "infinite", "number"}`` objects. Unreadable: ``invalid_upstream_reply``.
    """
    require_supported(version)
    reply = decode_reply(body, _AccountedReply, "slurmdbd job")
    records = []
    for job in reply.jobs or ():
        time = job.time or _AccountedTime()
        records.append(
            JobRecord(
                job_id=job.job_id,
                state=_state(job.state.current if job.state is not None else None),
                start_time=_nonzero(time.start),
                end_time=_nonzero(time.end),
            )
        )
    return records


def _record(job: _RawJob) -> JobRecord:
    return JobRecord(
        job_id=job.job_id,
        state=_state(job.job_state),
        user_name=job.user_name,
        name=job.name,
        submit_time=_nonzero(job.submit_time),
        start_time=_nonzero(job.start_time),
        end_time=_nonzero(job.end_time),
        time_limit_minutes=_limit(job.time_limit),
        exit_code=_exit_code(job.exit_code),
        array_job_id=_nonzero(job.array_job_id),  # 0 means "not an array task", like 0 for a time
        working_directory=job.current_working_directory or None,
    )


def _number(value: int | str | NoVal | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        return whole_number(value)
    if isinstance(value, NoVal):
        return value.number if value.set and not value.infinite else None
    return value


def _nonzero(value: int | str | NoVal | None) -> int | None:
    number = _number(value)
    return number if number else None


def _limit(value: int | str | NoVal | None) -> int | None:
    number = _number(value)
    return None if number is None or number >= NO_VAL else number


def _exit_code(value: int | _ExitCode | None) -> int | None:
    if value is None or isinstance(value, int):
        return value
    if value.return_code is not None:
        return _number(value.return_code)
    return value.number if value.set and not value.infinite else None


def filter_jobs(body: bytes, allowed: Collection[int]) -> bytes:
    """The same jobs reply with only the jobs whose ``job_id`` (or ``array_job_id``) is in ``allowed``.

    Every token sees every user's jobs, so the gateway filters. Other top-level keys (``meta``,
    ``errors``, ``warnings``, ...) are kept as they are. A job without a readable id is dropped. A
    plain-text body (slurmrestd's "Unable to parse query.") is returned unchanged; a body that looks
    like JSON but does not parse, or a ``jobs`` that is not a list, raises ``invalid_upstream_reply``
    rather than pass through unfiltered.
    """
    reply = json_object(body, "slurmrestd jobs")
    if reply is None or "jobs" not in reply:
        return body
    jobs = reply["jobs"]
    if not isinstance(jobs, list):
        raise bad_reply("slurmrestd jobs", "`jobs` is not a list")
    reply["jobs"] = [job for job in jobs if _is_allowed(job, allowed)]
    return msgspec.json.encode(reply)


def _is_allowed(job: object, allowed: Collection[int]) -> bool:
    if not isinstance(job, dict):
        return False
    return any(
        (id_ := _reply_id(job.get(key))) is not None and id_ in allowed for key in ("job_id", "array_job_id")
    )


def _reply_id(value: object) -> int | None:
    if isinstance(value, dict) and value.get("set") is True and not value.get("infinite"):
        value = value.get("number")
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


def submit_reply_job_id(body: bytes) -> int | None:
    """The ``job_id`` of a submit reply (top level, or under ``result`` in v0.0.40+); None without one."""
    try:
        reply = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return None
    if not isinstance(reply, dict):
        return None
    result = reply.get("result")
    for candidate in (reply.get("job_id"), result.get("job_id") if isinstance(result, dict) else None):
        if (job_id := _reply_id(candidate)) is not None:
            return job_id
    return None


def slurm_errors(body: bytes) -> list[dict[str, Any]]:
    """The ``errors`` list of a reply (its objects only); ``[]`` without one or for a non-JSON body."""
    try:
        reply = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return []
    errors = reply.get("errors") if isinstance(reply, dict) else None
    if not isinstance(errors, list):
        return []
    return [error for error in errors if isinstance(error, dict)]
