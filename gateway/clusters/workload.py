"""What a cluster job asks for, read from its submission: the typed :class:`Workload`.

A workload is an upper bound, not a forecast: ``gpus`` is every device the job may hold at once
(all nodes, all array tasks) and ``gpu_seconds_bound`` that many devices for the whole time limit.
The readers (:mod:`.slurm`, :mod:`.kubernetes`) round up wherever the cluster could give more, so a
quota reserved against the bound can never be exceeded by the job.

The helpers at the end are shared by the readers and are not part of the package's interface.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import msgspec

from gateway.bodies import INVALID_JSON as INVALID_JSON  # re-exported: the readers name the codes here
from gateway.bodies import decode_json, invalid_json
from gateway.errors import BadRequest, UpstreamUnavailable


class Workload(msgspec.Struct, frozen=True, kw_only=True):
    """The compute a cluster job may use: devices, nodes, array tasks and its time limit."""

    kind: Literal["slurm", "kubernetes"]
    gpus_per_node: int
    """Devices per node (per pod for Kubernetes); 0 for a CPU-only job.

    When a Slurm job gives a count for the whole job (``gpus``, ``tres_per_job``, GPUs per task x
    tasks) this is that total divided by ``nodes``, rounded up: ``gpus`` is then at least the total.
    """
    nodes: int = 1
    """Nodes (the upper end of a range); for Kubernetes the Job's parallelism (pods at once)."""
    array_tasks: int = 1
    """Slurm job arrays: the number of tasks, each with ``nodes`` x ``gpus_per_node`` devices."""
    gpu_type: str | None = None
    """Lower case, e.g. ``"h100"``; None when the job does not name one."""
    time_limit_seconds: int
    """> 0: the wall-clock limit of one task (the Job's ``activeDeadlineSeconds`` for Kubernetes)."""
    tasks: int | None = None
    partition: str | None = None
    name: str | None = None
    dependency: str | None = None
    working_directory: str | None = None
    comment: str | None = None
    namespace: str | None = None
    """Kubernetes only."""

    @property
    def gpus(self) -> int:
        """Every device the job may hold: ``gpus_per_node`` x ``nodes`` x ``array_tasks``."""
        return self.gpus_per_node * self.nodes * self.array_tasks

    @property
    def gpu_seconds_bound(self) -> int:
        """``gpus`` x ``time_limit_seconds``: what the job can use at most."""
        return self.gpus * self.time_limit_seconds


# --- shared by the readers ------------------------------------------------------------------------

INVALID_JOB = "invalid_job"
UNBOUNDED_JOB = "unbounded_job"
UNSUPPORTED_JOB = "unsupported_job"
INVALID_UPSTREAM_REPLY = "invalid_upstream_reply"

_AT = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_MISSING = re.compile(r"^Object missing required field `(?P<field>[^`]+)`$")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<field>[^`]+)`$")


def describe(exc: msgspec.ValidationError) -> str:
    """``"job.time_limit: expected `int`, got `str`"``: msgspec's message led by the path it names."""
    match = _AT.match(str(exc))
    assert match is not None  # the pattern matches every string
    message, path = match["message"], (match["path"] or "").removeprefix(".")
    if missing := _MISSING.match(message):
        path = f"{path}.{missing['field']}" if path else missing["field"]
        message = "is required"
    elif unknown := _UNKNOWN.match(message):
        path = f"{path}.{unknown['field']}" if path else unknown["field"]
        message = "is not a field the gateway accepts (it refuses what it cannot bound or confine)"
    elif message:
        message = message[0].lower() + message[1:]
    return f"{path or 'body'}: {message}"


def invalid_job(message: str) -> BadRequest:
    return BadRequest(message, code=INVALID_JOB)


def unbounded_job(message: str) -> BadRequest:
    return BadRequest(message, code=UNBOUNDED_JOB)


def unsupported_job(message: str) -> BadRequest:
    return BadRequest(message, code=UNSUPPORTED_JOB)


def bad_reply(what: str, detail: str) -> UpstreamUnavailable:
    """A reply from the cluster the gateway cannot read: the cluster's fault, so a 502."""
    return UpstreamUnavailable(f"unreadable {what} reply: {detail}", code=INVALID_UPSTREAM_REPLY)


_T = TypeVar("_T")


def _invalid_job(exc: msgspec.ValidationError) -> BadRequest:
    return invalid_job(describe(exc))


_NOT_JSON = invalid_json("the body")


def decode_job(body: bytes, type_: type[_T]) -> _T:
    """A customer's job body as ``type_``, or 400 ``invalid_job`` naming the field, or 400
    ``invalid_json`` for a body that is not UTF-8 JSON (it is forwarded as is: all of it is checked)."""
    return decode_json(body, msgspec.json.Decoder(type_).decode, _invalid_job, _NOT_JSON)


def decode_reply(body: bytes, type_: type[_T], what: str) -> _T:
    """A cluster's reply as ``type_``, or 502 ``invalid_upstream_reply`` (``what`` names the reply)."""
    try:
        return msgspec.json.decode(body, type=type_)
    except msgspec.ValidationError as exc:
        raise bad_reply(what, describe(exc)) from None
    except (msgspec.DecodeError, RecursionError, ValueError) as exc:  # deep nesting, bad UTF-8: not a 500
        raise bad_reply(what, f"not JSON ({exc})") from None


_DIGITS = re.compile(r"[0-9]+")


def whole_number(text: str) -> int | None:
    """``"12"`` -> 12; anything else (signs, spaces, suffixes, decimals) -> None."""
    return int(text) if _DIGITS.fullmatch(text) else None


def run_seconds(start: int | None, end: int | None, now: int, *, finished: bool, started: bool) -> int:
    """Seconds a job has run: 0 if never started; end - start once finished; now - start before."""
    if start is None or not started:
        return 0
    stop = end if finished and end is not None else now
    return max(0, stop - start)


def epoch_seconds(rfc3339: str) -> int:
    """``"2024-05-01T12:00:00Z"`` -> epoch seconds (a time without an offset is read as UTC)."""
    moment = datetime.fromisoformat(rfc3339)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def json_object(body: bytes, what: str) -> dict[str, Any] | None:
    """A reply as a dict to filter; None for a plain-text body (an error page, never a listing).

    A body that starts like JSON but does not parse, or JSON that is not an object, raises
    ``invalid_upstream_reply``: a filter must not let what it cannot read pass through.
    """
    try:
        value = msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError, ValueError) as exc:  # deep nesting, bad UTF-8 too
        if body.lstrip()[:1] in (b"{", b"["):
            raise bad_reply(what, f"not JSON ({exc})") from None
        return None
    if not isinstance(value, dict):
        raise bad_reply(what, f"expected a JSON object, got {type(value).__name__}")
    return value
