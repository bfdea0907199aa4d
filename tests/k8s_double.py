"""A loopback double of the Kubernetes API server: exactly what kubectl uses for batch/v1 Jobs.

``KubeDouble(token)`` is an ASGI app (run it with ``tests.e2e.conftest.ThreadedServer``). It answers
as a real API server does, with the same JSON and status codes, for:

* discovery: ``/version``, ``/api`` (APIVersions), ``/api/v1`` (an APIResourceList with nothing in
  it), ``/apis`` (an APIGroupList with ``batch`` only), ``/apis/batch`` (APIGroup), ``/apis/batch/v1``
  (APIResourceList: ``jobs`` and ``jobs/status``);
* OpenAPI: ``/openapi/v3`` (the index) and ``/openapi/v3/apis/batch/v1`` (a document with the Job
  paths only, enough for kubectl to see that the server supports ``fieldValidation``, so that it
  validates server-side and never fetches ``/openapi/v2``, which is a 404 here);
* Jobs: create (201 with the stored object: uid, resourceVersion, creationTimestamp, ``status: {}``;
  ``generateName`` honoured; 409 ``AlreadyExists``; 400 when the body's namespace differs from the
  path's; 422 without a name), get (200, 404 ``NotFound``), list (``JobList``, or a ``Table`` when the
  ``Accept`` header asks ``as=Table``), delete (200 Status ``Success``; 404).

Every request must carry ``Authorization: Bearer <token>``; anything else is a 401 Status, as a real
server answers an unknown token. ``requests`` records what was asked (method, path, query, headers)
so a test can check what reached the cluster; ``mark_running`` and ``mark_complete`` move a Job on as
the Job controller would. Stdlib and msgspec only; thread-safe (the server runs in its own thread).
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import msgspec

GIT_VERSION = "v1.32.4"
_json = msgspec.json.encode


def rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_body(
    code: int, reason: str, message: str, details: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details is not None:
        body["details"] = dict(details)
    return body


@dataclass(frozen=True)
class Seen:
    """One request as the double received it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


class KubeDouble:
    def __init__(self, token: str) -> None:
        self.token = token
        self.jobs: dict[tuple[str, str], dict[str, Any]] = {}
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        self._version = 1000

    # -- test hooks -----------------------------------------------------------------------------

    def job(self, namespace: str, name: str) -> dict[str, Any] | None:
        with self._lock:
            found = self.jobs.get((namespace, name))
            return msgspec.json.decode(_json(found)) if found is not None else None

    def mark_running(self, namespace: str, name: str, started: dt.datetime) -> None:
        """As the Job controller does once a pod is created: ``active: 1`` and ``startTime``."""
        with self._lock:
            job = self.jobs[(namespace, name)]
            job["status"] = {"active": 1, "ready": 0, "startTime": rfc3339(started), "terminating": 0}
            self._bump(job)

    def mark_complete(self, namespace: str, name: str, started: dt.datetime, completed: dt.datetime) -> None:
        """As the Job controller does when its pods succeeded: ``Complete`` and ``completionTime``."""
        with self._lock:
            job = self.jobs[(namespace, name)]
            when = rfc3339(completed)
            completions = job["spec"].get("completions") or 1
            job["status"] = {
                "startTime": rfc3339(started),
                "completionTime": when,
                "succeeded": completions,
                "active": 0,
                "ready": 0,
                "terminating": 0,
                "conditions": [
                    {
                        "type": kind,
                        "status": "True",
                        "lastProbeTime": when,
                        "lastTransitionTime": when,
                        "reason": reason,
                        "message": message,
                    }
                    for kind, reason, message in (
                        (
                            "SuccessCriteriaMet",
                            "CompletionsReached",
                            "Reached expected number of succeeded pods",
                        ),
                        ("Complete", "CompletionsReached", "Reached expected number of succeeded pods"),
                    )
                ],
            }
            self._bump(job)

    def set_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        """Any status at all, e.g. one the gateway cannot read."""
        with self._lock:
            job = self.jobs[(namespace, name)]
            job["status"] = status
            self._bump(job)

    def plant(self, namespace: str, name: str) -> None:
        """A Job created on the cluster directly, as its operator would, not through the gateway."""
        job = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": name},
            "spec": {
                "activeDeadlineSeconds": 60,
                "template": {
                    "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}
                },
            },
        }
        with self._lock:
            status, reply = self._create(namespace, _json(job))
        assert status == 201, reply

    def authorizations(self) -> set[str]:
        """Every ``Authorization`` header the double received."""
        with self._lock:
            return {r.headers.get("authorization", "") for r in self.requests}

    # -- ASGI -----------------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        seen = Seen(scope["method"], scope["path"], scope.get("query_string", b"").decode(), headers, body)
        with self._lock:
            self.requests.append(seen)
            status, reply = self._answer(seen)
        data = _json(reply)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(data)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": data})

    def _answer(self, r: Seen) -> tuple[int, dict[str, Any]]:
        if r.headers.get("authorization") != f"Bearer {self.token}":
            return 401, status_body(401, "Unauthorized", "Unauthorized")
        parts = [p for p in r.path.split("/") if p]
        get = r.method == "GET"
        if get and r.path in _DISCOVERY:
            return 200, _DISCOVERY[r.path]
        if get and r.path == "/openapi/v3":
            return 200, {
                "paths": {"apis/batch/v1": {"serverRelativeURL": f"/openapi/v3/apis/batch/v1?hash={_HASH}"}}
            }
        if get and r.path == "/openapi/v3/apis/batch/v1":
            return 200, _OPENAPI_BATCH_V1
        if get and len(parts) == 4 and parts[:3] == ["api", "v1", "namespaces"]:
            return 200, _namespace(parts[3])
        if len(parts) in (6, 7) and parts[:4] == ["apis", "batch", "v1", "namespaces"] and parts[5] == "jobs":
            namespace = parts[4]
            if len(parts) == 6:
                if r.method == "POST":
                    return self._create(namespace, r.body)
                if get:
                    selector = query(r).get("labelSelector", [""])[0]
                    return self._list(namespace, r.headers.get("accept", ""), selector)
            else:
                name = parts[6]
                if get:
                    job = self.jobs.get((namespace, name))
                    return (200, job) if job is not None else _not_found(name)
                if r.method == "DELETE":
                    return self._delete(namespace, name)
            return 405, status_body(
                405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
            )
        return 404, status_body(404, "NotFound", "the server could not find the requested resource", {})

    def _create(self, namespace: str, body: bytes) -> tuple[int, dict[str, Any]]:
        try:
            job = msgspec.json.decode(body)
        except msgspec.DecodeError as exc:
            return 400, status_body(
                400, "BadRequest", f"the body of the request was in an unknown format: {exc}"
            )
        if not isinstance(job, dict) or job.get("kind") != "Job" or job.get("apiVersion") != "batch/v1":
            return 400, status_body(
                400,
                "BadRequest",
                "the API version in the data does not match the expected API version (batch/v1)",
            )
        metadata = job.setdefault("metadata", {})
        if metadata.get("namespace", namespace) != namespace:
            return 400, status_body(
                400,
                "BadRequest",
                "the namespace of the provided object does not match the namespace sent on the request",
            )
        name = metadata.get("name")
        if not name and metadata.get("generateName"):
            name = metadata["generateName"] + "".join(
                secrets.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5)
            )
        if not name:
            return 422, status_body(
                422,
                "Invalid",
                'Job.batch "" is invalid: metadata.name: Required value: name or generateName is required',
                {
                    "group": "batch",
                    "kind": "Job",
                    "causes": [
                        {
                            "reason": "FieldValueRequired",
                            "message": "Required value: name or generateName is required",
                            "field": "metadata.name",
                        }
                    ],
                },
            )
        if (namespace, name) in self.jobs:
            return 409, status_body(
                409,
                "AlreadyExists",
                f'jobs.batch "{name}" already exists',
                {"name": name, "group": "batch", "kind": "jobs"},
            )
        uid = str(uuid.uuid4())
        metadata.update(
            name=name,
            namespace=namespace,
            uid=uid,
            generation=1,
            creationTimestamp=rfc3339(dt.datetime.now(dt.UTC)),
            labels={
                **metadata.get("labels", {}),
                "batch.kubernetes.io/controller-uid": uid,
                "batch.kubernetes.io/job-name": name,
            },
        )
        spec = job.setdefault("spec", {})
        spec.setdefault("parallelism", 1)
        spec.setdefault("completions", spec["parallelism"])
        spec.setdefault("backoffLimit", 6)
        spec.setdefault("completionMode", "NonIndexed")
        spec.setdefault("suspend", False)
        spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
        spec.setdefault("manualSelector", False)
        spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
        job["status"] = {}
        self._bump(job)
        self.jobs[(namespace, name)] = job
        return 201, job

    def _list(self, namespace: str, accept: str, selector: str = "") -> tuple[int, dict[str, Any]]:
        # Equality-based selectors only (`a=b,c==d`), as the gateway sends: anything else is a 400
        # here rather than a silently unfiltered list.
        wanted: dict[str, str] = {}
        for term in filter(None, selector.split(",")):
            key, sep, value = term.replace("==", "=").partition("=")
            if not sep or "!" in key or not key:
                return 400, status_body(400, "BadRequest", f"unsupported label selector {selector!r}")
            wanted[key.strip()] = value.strip()
        jobs = [
            job
            for (ns, _), job in sorted(self.jobs.items())
            if ns == namespace
            and all((job["metadata"].get("labels") or {}).get(k) == v for k, v in wanted.items())
        ]
        meta = {"resourceVersion": str(self._version)}
        if "as=Table" in accept:
            return 200, {
                "kind": "Table",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": meta,
                "columnDefinitions": [
                    {
                        "name": n,
                        "type": "string",
                        "format": "name" if n == "Name" else "",
                        "description": n,
                        "priority": 0,
                    }
                    for n in ("Name", "Status", "Completions", "Duration", "Age")
                ],
                "rows": [
                    {
                        "cells": [job["metadata"]["name"], _phase(job), _completions(job), "", ""],
                        "object": {
                            "kind": "PartialObjectMetadata",
                            "apiVersion": "meta.k8s.io/v1",
                            "metadata": job["metadata"],
                        },
                    }
                    for job in jobs
                ],
            }
        items = []
        for job in jobs:
            item = dict(job)
            item.pop("kind", None), item.pop("apiVersion", None)
            items.append(item)
        return 200, {"kind": "JobList", "apiVersion": "batch/v1", "metadata": meta, "items": items}

    def _delete(self, namespace: str, name: str) -> tuple[int, dict[str, Any]]:
        job = self.jobs.pop((namespace, name), None)
        if job is None:
            return _not_found(name)
        self._version += 1
        return 200, {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {"name": name, "group": "batch", "kind": "jobs", "uid": job["metadata"]["uid"]},
        }

    def _bump(self, job: dict[str, Any]) -> None:
        self._version += 1
        job["metadata"]["resourceVersion"] = str(self._version)


def _not_found(name: str) -> tuple[int, dict[str, Any]]:
    return 404, status_body(
        404, "NotFound", f'jobs.batch "{name}" not found', {"name": name, "group": "batch", "kind": "jobs"}
    )


def _namespace(name: str) -> dict[str, Any]:
    """Every namespace exists here (kubectl reads one after a NotFound, to say which was missing)."""
    return {
        "kind": "Namespace",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, name)),
            "resourceVersion": "1",
            "creationTimestamp": "2025-01-01T00:00:00Z",
            "labels": {"kubernetes.io/metadata.name": name},
        },
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def _phase(job: dict[str, Any]) -> str:
    status = job.get("status") or {}
    for condition in status.get("conditions") or ():
        if condition.get("type") in ("Complete", "Failed") and condition.get("status") == "True":
            return str(condition["type"])
    return "Running" if status.get("active") else "Pending"


def _completions(job: dict[str, Any]) -> str:
    return f"{(job.get('status') or {}).get('succeeded', 0)}/{job['spec'].get('completions', 1)}"


def query(seen: Seen) -> dict[str, list[str]]:
    return parse_qs(seen.query)


_HASH = "0A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D7E8F9"

_JOB_VERBS = ["create", "delete", "get", "list"]
_DISCOVERY: dict[str, dict[str, Any]] = {
    "/version": {
        "major": "1",
        "minor": "32",
        "gitVersion": GIT_VERSION,
        "gitCommit": "0" * 40,
        "gitTreeState": "clean",
        "buildDate": "2025-04-22T16:00:00Z",
        "goVersion": "go1.23.8",
        "compiler": "gc",
        "platform": "linux/amd64",
    },
    "/api": {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}],
    },
    "/api/v1": {"kind": "APIResourceList", "groupVersion": "v1", "resources": []},
    "/apis": {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [
            {
                "name": "batch",
                "versions": [{"groupVersion": "batch/v1", "version": "v1"}],
                "preferredVersion": {"groupVersion": "batch/v1", "version": "v1"},
            }
        ],
    },
    "/apis/batch": {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": "batch",
        "versions": [{"groupVersion": "batch/v1", "version": "v1"}],
        "preferredVersion": {"groupVersion": "batch/v1", "version": "v1"},
    },
    "/apis/batch/v1": {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": "batch/v1",
        "resources": [
            {
                "name": "jobs",
                "singularName": "job",
                "namespaced": True,
                "kind": "Job",
                "verbs": _JOB_VERBS,
                "categories": ["all"],
                "storageVersionHash": "mudhfqk/qZY=",
            },
            {"name": "jobs/status", "singularName": "", "namespaced": True, "kind": "Job", "verbs": ["get"]},
        ],
    },
}


def _operation(action: str, params: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "tags": ["batch_v1"],
        "operationId": f"{action}BatchV1NamespacedJob",
        "parameters": params,
        "responses": {"200": {"description": "OK"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": "batch", "version": "v1", "kind": "Job"},
    }


def _query_params(*names: str) -> list[dict[str, Any]]:
    return [{"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}} for n in names]


_WRITE_PARAMS = ("dryRun", "fieldManager", "fieldValidation", "pretty")
# kubectl looks for the `fieldValidation` query parameter of the Job's PATCH operation to decide
# that the server validates fields itself (then it sends `fieldValidation=Strict` and skips its own,
# /openapi/v2-based, validation).
_OPENAPI_BATCH_V1: dict[str, Any] = {
    "openapi": "3.0.0",
    "info": {"title": "Kubernetes", "version": GIT_VERSION},
    "paths": {
        "/apis/batch/v1/namespaces/{namespace}/jobs": {
            "parameters": [
                {"name": "namespace", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "get": _operation("list", _query_params("labelSelector", "limit", "continue")),
            "post": _operation("post", _query_params(*_WRITE_PARAMS)),
        },
        "/apis/batch/v1/namespaces/{namespace}/jobs/{name}": {
            "parameters": [
                {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "namespace", "in": "path", "required": True, "schema": {"type": "string"}},
            ],
            "get": _operation("get", _query_params("pretty")),
            "delete": _operation("delete", _query_params("dryRun", "propagationPolicy")),
            "patch": _operation("patch", _query_params(*_WRITE_PARAMS, "force")),
        },
    },
    "components": {"schemas": {}},
}
