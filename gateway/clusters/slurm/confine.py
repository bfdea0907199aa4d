"""Confinement of a Slurm job to its customer: what the job may name, and where it may write.

Pure functions, no I/O. The body the cluster receives is the gateway's re-encoding of what it
read, never the customer's bytes: fields the gateway decides (account, QOS, partition) are set
from the customer's cluster identity and the cluster's settings, paths are made absolute inside
the customer's home area, and a JSON trick the gateway read one way (a duplicate key) cannot be
read another way by slurmrestd.

This is the gateway's half. The other half is the cluster's: jobs run as the customer's own
Unix user (the identity), so file permissions, ``scancel`` and signals keep customers apart
even where a path or a job id slips through; README "Confinement" says what the provider sets up.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from typing import Any

import msgspec

from ...errors import Forbidden
from ..workload import invalid_job

__all__ = ["Confined", "confine_submission", "dependency_job_ids"]

POLICY_FIELDS = ("account", "qos", "reservation", "wckey")
"""Chosen by the provider, never by the job: they decide whose budget, priority and nodes it gets."""
PATH_FIELDS = ("standard_output", "standard_error", "standard_input")
"""Relative to the working directory, as Slurm reads them."""

_DEPENDENCY_TYPES = frozenset(
    {"after", "afterany", "afterburstbuffer", "aftercorr", "afternotok", "afterok", "expand"}
)
_DEPENDENCY_ID = re.compile(r"(?P<id>[0-9]+)(?:_(?:[0-9]+|\*))?(?:\+[0-9]+)?")
"""``123``, an array task ``123_4`` or ``123_*``, a heterogeneous component or ``after``'s delay ``+N``."""


class Confined(msgspec.Struct, frozen=True):
    """The body to send and the directory the job will run in (what reconciliation matches)."""

    body: bytes
    working_directory: str


def dependency_job_ids(field: str, text: str | None) -> list[str]:
    """The job ids a ``dependency`` names (``"afterok:12:13,afterany:14_2?singleton"`` -> 12, 13, 14).

    The gateway checks each is the customer's own: a dependency on another customer's job would
    show its state (the job waits, runs or is killed as that job ends).
    """
    if text is None or not text.strip():
        return []
    ids: list[str] = []
    for condition in re.split(r"[,?]", text):
        condition = condition.strip()
        if condition == "singleton":
            continue
        kind, sep, rest = condition.partition(":")
        if not sep or kind not in _DEPENDENCY_TYPES or not rest:
            raise invalid_job(
                f"{field}: cannot read {condition!r} in {text!r} as a dependency "
                "(type:jobid[:jobid...] with type one of after, afterany, afterburstbuffer, "
                "aftercorr, afternotok, afterok; or singleton)"
            )
        for token in rest.split(":"):
            match = _DEPENDENCY_ID.fullmatch(token.strip())
            if match is None:
                raise invalid_job(f"{field}: {token!r} in {text!r} is not a job id")
            ids.append(match["id"])
    return ids


def confine_submission(
    version: str,
    body: bytes,
    *,
    user: str,
    home: str,
    account: str | None,
    qos: str | None,
    partitions: Sequence[str],
) -> Confined:
    """The submission as the cluster must receive it, or :class:`Forbidden` naming the field.

    ``body`` has been read by :func:`~gateway.clusters.slurm.submit.parse_submit` (strict: no
    unknown fields, the right types), so the job object is there. ``account`` and ``qos`` are
    the identity's (or the cluster's defaults); ``partitions`` the ones customers may name.
    """
    submit: dict[str, Any] = msgspec.json.decode(body)  # a fresh object: ours to change
    job: dict[str, Any] = submit["job"]
    for field, imposed in zip(POLICY_FIELDS, (account, qos, None, None), strict=True):
        given = job.pop(field, None)
        if given not in (None, "") and given != imposed:
            raise Forbidden(
                f"job.{field}: {given!r} is not yours to choose: the provider sets the "
                f"{field} of your jobs ({imposed!r})"
                if imposed
                else f"job.{field}: is set by the provider, not by the job (remove it)",
                code="field_not_allowed",
            )
        if imposed is not None:
            job[field] = imposed
    job_partition = _partition(job.pop("partition", None), partitions)
    if job_partition is not None:
        job["partition"] = job_partition
    name = job.get("name")
    if isinstance(name, str) and "/" in name:
        # %x in an output path expands to the name: "../x" would write outside the area.
        raise invalid_job(f"job.name: {name!r} must not contain '/'")
    workdir = _inside("job.current_working_directory", job.get("current_working_directory"), home, home)
    job["current_working_directory"] = workdir
    for field in PATH_FIELDS:
        value = job.get(field)
        if value is not None:
            job[field] = _inside(f"job.{field}", value, home, workdir)
    return Confined(msgspec.json.encode(submit), workdir)


def _partition(given: Any, partitions: Sequence[str]) -> str | None:
    if given in (None, ""):
        return partitions[0] if partitions else None
    if given in partitions:
        return str(given)
    allowed = ", ".join(repr(p) for p in partitions)
    raise Forbidden(
        f"job.partition: {given!r} is not a partition you may use; "
        + (f"use one of {allowed}, or none for {partitions[0]!r}" if partitions else "remove it"),
        code="partition_not_allowed",
    )


def _inside(field: str, path: Any, home: str, base: str) -> str:
    """``path`` made absolute (relative ones from ``base``) and normalised; it must be in ``home``."""
    if path is None or path == "":
        return base
    if not isinstance(path, str):
        raise invalid_job(f"{field}: expected a path, got {type(path).__name__}")
    if "\x00" in path or "\n" in path:
        raise invalid_job(f"{field}: a path must not contain NUL or newline characters")
    absolute = posixpath.normpath(path if path.startswith("/") else posixpath.join(base, path))
    if absolute.startswith("//"):  # POSIX keeps a leading "//"; it is still the root
        absolute = "/" + absolute.lstrip("/")
    if absolute != home and not absolute.startswith(home + "/"):
        raise Forbidden(
            f"{field}: {path!r} is outside your area on this cluster ({home}); "
            "give a path inside it, or a relative one",
            code="path_not_allowed",
        )
    return absolute
