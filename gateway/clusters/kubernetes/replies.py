"""Kubernetes replies: a Job's status read into a :class:`K8sJobState`, Job lists filtered to a
customer's own Jobs, and the label that marks every Job the gateway creates. Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import msgspec

from ..workload import bad_reply, decode_reply, describe, epoch_seconds, json_object, run_seconds

__all__ = ["WORKLOAD_LABEL", "K8sJobState", "filter_job_list", "job_names", "parse_job_status", "with_label"]

WORKLOAD_LABEL = "kyc-gateway.io/workload"
"""The label on every Kubernetes Job the gateway creates: the id of its workload record, by which a
lost submission is found again (:mod:`gateway.clusters.reconcile`)."""


class _Metadata(msgspec.Struct, rename="camel"):
    name: str | None = None
    generate_name: str | None = None
    namespace: str | None = None


class K8sJobState(msgspec.Struct, frozen=True):
    """What a Job's ``status`` says: pod counts, times (epoch seconds) and whether it is over."""

    name: str
    namespace: str | None
    active: int
    succeeded: int
    failed: int
    start_time: int | None
    completion_time: int | None
    """``status.completionTime``: set only when the Job succeeded."""
    finished: bool
    """A ``Complete`` or ``Failed`` condition is ``True``."""
    end_time: int | None = None
    """When it finished: ``completionTime``, else the finishing condition's ``lastTransitionTime``
    (a failed Job has no completion time)."""

    def run_seconds(self, now: int) -> int:
        """0 if never started; end - start once finished; now - start while it runs. Never negative."""
        return run_seconds(self.start_time, self.end_time, now, finished=self.finished, started=True)


class _Condition(msgspec.Struct, rename="camel"):
    type: str = ""
    status: str = ""
    last_transition_time: str | None = None


class _Status(msgspec.Struct, rename="camel"):
    active: int | None = None
    succeeded: int | None = None
    failed: int | None = None
    start_time: str | None = None
    completion_time: str | None = None
    conditions: list[_Condition] | None = None


class _JobObject(msgspec.Struct):
    metadata: _Metadata | None = None
    status: _Status | None = None


def parse_job_status(obj: bytes | dict[str, Any]) -> K8sJobState:
    """The state of a Job object (a reply body, or an object already decoded, e.g. from a watch event).

    An unreadable object raises :class:`~gateway.errors.UpstreamUnavailable` (``invalid_upstream_reply``).
    """
    if isinstance(obj, bytes):
        job = decode_reply(obj, _JobObject, "Kubernetes Job")
    else:
        try:
            job = msgspec.convert(obj, _JobObject)
        except msgspec.ValidationError as exc:
            raise bad_reply("Kubernetes Job", describe(exc)) from None
    metadata = job.metadata or _Metadata()
    status = job.status or _Status()
    finishing = next(
        (
            condition
            for condition in status.conditions or ()
            if condition.type in ("Complete", "Failed") and condition.status == "True"
        ),
        None,
    )
    completion_time = _time("status.completionTime", status.completion_time)
    end_time = completion_time
    if end_time is None and finishing is not None:
        end_time = _time("status.conditions[].lastTransitionTime", finishing.last_transition_time)
    return K8sJobState(
        name=metadata.name or metadata.generate_name or "",
        namespace=metadata.namespace,
        active=status.active or 0,
        succeeded=status.succeeded or 0,
        failed=status.failed or 0,
        start_time=_time("status.startTime", status.start_time),
        completion_time=completion_time,
        finished=finishing is not None,
        end_time=end_time,
    )


def _time(path: str, text: str | None) -> int | None:
    if not text:
        return None
    try:
        return epoch_seconds(text)
    except ValueError:
        raise bad_reply("Kubernetes Job", f"{path}: {text!r} is not an RFC 3339 time") from None


def filter_job_list(body: bytes, allowed_names: Collection[str]) -> bytes:
    """The same ``JobList`` reply with only the items whose ``metadata.name`` is allowed.

    Other keys (``kind``, ``apiVersion``, ``metadata``) are kept. A ``Table`` reply (what
    ``kubectl get`` asks for) is filtered by its rows' objects the same way. A body that is not a list
    (a ``Status`` error, a single Job) is returned unchanged, as is plain text; a body that looks like
    JSON but does not parse raises ``invalid_upstream_reply`` rather than pass through unfiltered.
    """
    reply = json_object(body, "Kubernetes JobList")
    if reply is None:
        return body
    if "items" in reply:
        reply["items"] = _allowed_items(reply["items"], "items", allowed_names, lambda item: item)
    elif reply.get("kind") == "Table" and "rows" in reply:
        reply["rows"] = _allowed_items(
            reply["rows"],
            "rows",
            allowed_names,
            lambda row: row.get("object") if isinstance(row, dict) else None,
        )
    else:
        return body
    return msgspec.json.encode(reply)


def _allowed_items(
    items: object, key: str, allowed_names: Collection[str], object_of: Callable[[Any], object]
) -> list[Any]:
    if items is None:
        return []
    if not isinstance(items, list):
        raise bad_reply("Kubernetes JobList", f"`{key}` is not a list")
    return [item for item in items if _name_of(object_of(item)) in allowed_names]


def _name_of(obj: object) -> str | None:
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) else None


def with_label(body: bytes, key: str, value: str) -> bytes:
    """The Job ``body`` (a JSON object, as :func:`parse_job` checked) with ``metadata.labels[key]``."""
    job = msgspec.json.decode(body)
    metadata = job.get("metadata") or {}
    metadata["labels"] = {**(metadata.get("labels") or {}), key: value}
    job["metadata"] = metadata
    return msgspec.json.encode(job)


class _Named(msgspec.Struct):
    metadata: _Metadata


class _NamedList(msgspec.Struct):
    items: list[_Named] | None = None


def job_names(body: bytes) -> list[str]:
    """The names of the Jobs of a ``JobList`` reply (502 ``invalid_upstream_reply`` if unreadable)."""
    reply = decode_reply(body, _NamedList, "Kubernetes JobList")
    return [job.metadata.name for job in reply.items or () if job.metadata.name]
