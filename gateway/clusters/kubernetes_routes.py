"""``/clusters/<name>/...`` for a Kubernetes cluster: batch/v1 Jobs, as kubectl uses them.

A customer points kubectl at ``https://<gateway>/clusters/<name>`` with its gateway key as the
token (kubectl sends a token over HTTPS only)::

    kubectl --server https://gateway.example.com/clusters/kube --token gk_... -n c-0123456789ab \\
        create -f job.yaml

and ``get jobs``, ``get job NAME -o json`` and ``delete job NAME`` work as against the cluster
itself. The gateway calls the cluster with the cluster's own credential: the customer's key never
reaches it.

Namespaces. Each customer is confined to its own namespaces: ``c-<first 12 hex digits of its
customer id>`` (``c-0123456789ab`` for customer ``01234567-89ab-...``), or that followed by
``-<suffix>`` (``c-0123456789ab-training``); a namespace must also be a valid Kubernetes name
(lower-case letters, digits and ``-``). Any other namespace is refused with 403
``namespace_forbidden``. The operator creates those namespaces on the cluster (and lets the
gateway's service account create, get, list and delete Jobs in them).

What is served, and nothing else (everything else is 404 ``route_not_found``: no pods, no logs,
no secrets, no cluster-scoped writes):

* discovery, GET only: ``/version``, ``/api``, ``/api/v1``, ``/apis`` (its group list trimmed to
  ``batch``, the one group served, so kubectl does not go on to ask for the others),
  ``/apis/batch``, ``/apis/batch/v1``, ``/openapi/v2``, ``/openapi/v3`` and one group version's
  document under it (``/openapi/v3/apis/batch/v1``, ...);
* ``GET /api/v1/namespaces/{ns}`` of the customer's own namespaces (kubectl reads it after a
  NotFound, to tell a missing Job from a missing namespace);
* ``POST /apis/batch/v1/namespaces/{ns}/jobs``: the Job is read into a workload (its GPUs x
  ``parallelism`` x ``activeDeadlineSeconds`` bound its compute; see :mod:`.kubernetes`), placed,
  reserved and recorded, and only then created (:meth:`ClusterProxy.submit_job`); job id
  ``"{ns}/{name}"``. Its pod template must meet the cluster's Pod Security Standard
  (``pod_security``, see :mod:`.pod_security`) or it is refused with 403 ``pod_security_violation``.
  Server-side dry runs (``dryRun``) are refused: the cluster would answer 201 without creating
  anything;
* ``GET /apis/batch/v1/namespaces/{ns}/jobs``: the cluster's list, less the Jobs this customer
  did not submit through the gateway; watches are refused;
* ``GET`` and ``DELETE /apis/batch/v1/namespaces/{ns}/jobs/{name}`` of the customer's own Jobs
  (any other is 404 ``job_not_found``, whether it exists or not). A delete always cascades to the
  Job's pods (``propagationPolicy: Background`` unless ``Foreground`` is asked); ``Orphan`` is
  refused: orphaned pods would run on outside the Job's deadline, unbounded;
* ``PATCH`` and ``PUT`` of a Job are 405 ``method_not_allowed``: suspending and resuming a Job
  restarts its deadline, and a larger parallelism runs more pods, both beyond the reserved bound.

Errors reach kubectl as Kubernetes ``Status`` objects (:func:`status_body`), with the gateway's
code in ``details.causes[0].reason`` and, since kubectl prints the message only, in the message
too, with the request id.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import msgspec

from ..errors import BadRequest, Forbidden, GatewayError, MethodNotAllowed, NotFound, UpstreamUnavailable
from . import repository
from .kubernetes import filter_job_list, parse_job, with_label
from .reconcile import WORKLOAD_LABEL
from .workload import bad_reply, invalid_job, json_object

if TYPE_CHECKING:
    from ..proxy.context import RequestContext
    from .proxy import Cluster, ClusterProxy

__all__ = [
    "ClusterRefusal",
    "customer_namespace",
    "handle_kubernetes",
    "namespace_allowed",
    "status_body",
    "trim_group_list",
]

API_VERSION = "batch/v1"
_NAME = r"[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?"
"""A Job's name: a DNS subdomain (no ``/``, ``?``, ``#`` or ``%`` can reach the cluster's URL)."""
_LABEL = re.compile(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?")
"""A namespace's name: a DNS label of at most 63 characters."""
_JOBS = re.compile(r"^/apis/batch/v1/namespaces/(?P<ns>[^/]+)/jobs$")
_JOB = re.compile(r"^/apis/batch/v1/namespaces/(?P<ns>[^/]+)/jobs/(?P<name>[^/]+)$")
_NAMESPACE = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)$")
_JOB_NAME = re.compile(_NAME)
_OPENAPI_V3 = re.compile(r"^/openapi/v3/(?:api/v1|apis/[a-z0-9][-a-z0-9.]*/v[0-9a-z]+)$")
"""One group version's OpenAPI document; nothing else (no ``..`` can climb out of it)."""
_DISCOVERY = frozenset(
    ("/version", "/api", "/api/v1", "/apis", "/apis/batch", "/apis/batch/v1", "/openapi/v2", "/openapi/v3")
)
_SERVED_GROUPS = frozenset(("batch",))


# --- namespaces -----------------------------------------------------------------------------------


def customer_namespace(customer_id: uuid.UUID) -> str:
    """``c-`` and the first 12 hex digits of the customer's id: its namespace (and prefix)."""
    return f"c-{customer_id.hex[:12]}"


def namespace_allowed(customer_id: uuid.UUID, namespace: str) -> bool:
    """The customer's namespace, or it followed by ``-<suffix>``; a valid namespace name either way."""
    if len(namespace) > 63 or not _LABEL.fullmatch(namespace):
        return False
    own = customer_namespace(customer_id)
    return namespace == own or namespace.startswith(own + "-")


def _check_namespace(customer_id: uuid.UUID, namespace: str) -> None:
    if not namespace_allowed(customer_id, namespace):
        own = customer_namespace(customer_id)
        raise Forbidden(
            f"namespace {namespace!r} is not yours: use {own!r} or a namespace that starts with '{own}-'"
            f" (kubectl -n {own})",
            code="namespace_forbidden",
        )


# --- errors as Kubernetes Status objects ----------------------------------------------------------


class ClusterRefusal(GatewayError):
    """The cluster refused a request about the customer's own Job: its status, reason and words."""

    type = "invalid_request_error"

    def __init__(self, message: str, *, status: int, code: str, reason: str | None) -> None:
        super().__init__(message, code=code, status=status)
        self.reason = reason


_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    502: "ServiceUnavailable",
    503: "ServiceUnavailable",
    504: "Timeout",
}


class _Cause(msgspec.Struct):
    reason: str
    message: str


class _Details(msgspec.Struct):
    causes: list[_Cause]


class _Status(msgspec.Struct, rename="camel"):
    kind: str
    api_version: str
    metadata: dict[str, Any]
    status: str
    message: str
    reason: str
    code: int
    details: _Details


_encode = msgspec.json.Encoder().encode


def status_reason(err: GatewayError) -> str:
    """The Kubernetes ``reason`` kubectl prints (``Error from server (NotFound): ...``)."""
    reason = getattr(err, "reason", None)
    if isinstance(reason, str) and reason:
        return reason
    return _REASONS.get(err.status) or ("BadRequest" if err.status < 500 else "InternalError")


def status_body(err: GatewayError, request_id: str) -> bytes:
    """A gateway error as the ``Status`` object an API server answers with, for kubectl."""
    return _encode(
        _Status(
            kind="Status",
            api_version="v1",
            metadata={},
            status="Failure",
            message=f"{err.message} ({err.code}; request id {request_id})",
            reason=status_reason(err),
            code=err.status,
            details=_Details([_Cause(err.code, err.message)]),
        )
    )


class _StatusReply(msgspec.Struct):
    message: str | None = None
    reason: str | None = None


def _cluster_failure(
    status: int, body: bytes, what: str, codes: dict[int, str], default: str
) -> GatewayError:
    """The cluster said no. Its client errors about the customer's Job pass on with their status and
    reason (a 409 AlreadyExists stays one); refusing the gateway's own credential, or failing, is a 502.
    """
    try:
        reply = msgspec.json.decode(body, type=_StatusReply)
        message, reason = reply.message, reply.reason
    except (msgspec.DecodeError, msgspec.ValidationError):
        message, reason = None, None
    detail = message or body[:200].decode("utf-8", "replace").strip() or f"HTTP {status}"
    if status in (401, 403, 407) or not 400 <= status < 500:
        return UpstreamUnavailable(
            f"the cluster could not {what} (HTTP {status}): {detail}", code="cluster_error"
        )
    return ClusterRefusal(detail, status=status, code=codes.get(status, default), reason=reason)


# --- routes ---------------------------------------------------------------------------------------


async def handle_kubernetes(
    proxy: ClusterProxy, ctx: RequestContext, cluster: Cluster, method: str, path: str, body: bytes
) -> tuple[int, bytes, str]:
    """Serve one kubectl request: ``(status, body, route)``, or raise a :class:`GatewayError`."""
    assert ctx.principal is not None
    customer = ctx.principal.customer_id
    base = f"/clusters/{cluster.name}"
    jobs_route = f"{base}/apis/batch/v1/namespaces/{{ns}}/jobs"

    if method == "GET" and (path in _DISCOVERY or _OPENAPI_V3.match(path)):
        route = base + path if path in _DISCOVERY else f"{base}/openapi/v3/{{group_version}}"
        status, out = await cluster.call("GET", path, query=ctx.query)
        if status in (401, 403, 407) or status >= 500:
            raise _cluster_failure(status, out, f"answer {path}", {}, "cluster_error")
        if path == "/apis" and status == 200:
            out = trim_group_list(out)
        return status, out, route

    if m := _NAMESPACE.match(path):
        if method != "GET":
            raise _no_route(method, path)
        _check_namespace(customer, m["ns"])
        status, out = await cluster.call("GET", path)
        if status != 200:
            raise _cluster_failure(
                status, out, "read the namespace", {404: "namespace_not_found"}, "cluster_refused"
            )
        return status, out, f"{base}/api/v1/namespaces/{{ns}}"

    if m := _JOBS.match(path):
        namespace = m["ns"]
        if method == "POST":
            _check_namespace(customer, namespace)
            status, out = await _create(proxy, ctx, cluster, namespace, path, body)
            return status, out, jobs_route
        if method == "GET":
            _check_namespace(customer, namespace)
            _refuse_watch(ctx.query)
            status, out = await cluster.call("GET", path, query=ctx.query, accept=json_accept(ctx))
            if status != 200:
                raise _cluster_failure(
                    status, out, "list jobs", {404: "namespace_not_found"}, "cluster_refused"
                )
            async with proxy.pool.acquire() as conn:
                owned_ids = await repository.owned_job_ids(conn, cluster.name, customer)
            prefix = f"{namespace}/"
            mine = {job_id.removeprefix(prefix) for job_id in owned_ids if job_id.startswith(prefix)}
            return 200, _filtered_list(out, mine), jobs_route
        raise MethodNotAllowed(
            f"{method} on the job collection is not served; create jobs with POST and delete them one"
            " by one (kubectl delete job NAME)"
        )

    if m := _JOB.match(path):
        namespace, name = m["ns"], m["name"]
        if method in ("PATCH", "PUT"):
            raise MethodNotAllowed(
                "jobs cannot be changed through the gateway once created: suspending and resuming a job"
                " restarts its activeDeadlineSeconds and a larger parallelism runs more pods, either of"
                " which would escape the GPU-seconds bound reserved when it was submitted; delete the"
                " job and create a new one instead"
            )
        if method not in ("GET", "DELETE"):
            raise _no_route(method, path)
        _check_namespace(customer, namespace)
        job_id = f"{namespace}/{name}"
        owned = False
        if _JOB_NAME.fullmatch(name):
            async with proxy.pool.acquire() as conn:
                owned = await repository.owns(conn, cluster.name, customer, job_id)
        if not owned:
            # Another customer's job and a job that does not exist look the same.
            raise NotFound(
                f'jobs.batch "{name}" not found: no job of yours by that name in namespace {namespace!r}',
                code="job_not_found",
            )
        if method == "GET":
            _refuse_watch(ctx.query)
            status, out = await cluster.call("GET", path, query=ctx.query, accept=json_accept(ctx))
        else:
            status, out = await cluster.call("DELETE", path, _cascading(ctx.query, body), query=ctx.query)
        if status not in (200, 202):
            what = "delete the job" if method == "DELETE" else "read the job"
            raise _cluster_failure(status, out, what, {404: "job_not_found"}, "cluster_refused")
        return status, out, f"{jobs_route}/{{name}}"

    raise _no_route(method, path)


def _no_route(method: str, path: str) -> NotFound:
    return NotFound(
        f"{method} {path} is not a cluster API the gateway serves (batch/v1 Jobs in your namespaces only)",
        code="route_not_found",
    )


class _Metadata(msgspec.Struct, rename="camel"):
    name: str | None = None
    namespace: str | None = None


class _Object(msgspec.Struct):
    metadata: _Metadata | None = None


def _metadata(body: bytes) -> _Metadata:
    try:
        return msgspec.json.decode(body, type=_Object).metadata or _Metadata()
    except (msgspec.DecodeError, msgspec.ValidationError):
        return _Metadata()


async def _create(
    proxy: ClusterProxy, ctx: RequestContext, cluster: Cluster, namespace: str, path: str, body: bytes
) -> tuple[int, bytes]:
    if "dryRun" in _query(ctx.query):
        raise BadRequest(
            "server-side dry runs are not served (the cluster would accept a job it does not create);"
            " use kubectl --dry-run=client",
            code="dry_run_unsupported",
        )
    workload = parse_job(body, namespace, cluster.settings.pod_security)  # 403 pod_security_violation
    if workload.namespace != namespace:
        raise invalid_job(
            f"metadata.namespace: {workload.namespace!r} does not match the namespace of the request"
            f" ({namespace!r})"
        )
    asked = _metadata(body).name

    async def forward(workload_id: uuid.UUID) -> tuple[int, bytes, str]:
        labelled = with_label(body, WORKLOAD_LABEL, str(workload_id))  # found again if we crash now
        status, out = await cluster.call("POST", path, labelled, query=ctx.query)
        if status not in (200, 201):
            raise _cluster_failure(status, out, "create the job", {409: "job_exists"}, "job_refused")
        created = _metadata(out)
        name = created.name or asked  # generateName: the cluster chose it
        if not name or not _JOB_NAME.fullmatch(name) or created.namespace not in (None, namespace):
            raise bad_reply("Kubernetes Job", "the created job has no name in the namespace of the request")
        return status, out, f"{namespace}/{name}"

    return await proxy.submit_job(ctx, cluster, workload, API_VERSION, forward)


def json_accept(ctx: RequestContext) -> str:
    """The client's ``Accept`` if it asks for JSON forms only, else plain JSON.

    ``kubectl get`` asks for a ``Table`` (``application/json;as=Table;v=v1;g=meta.k8s.io, ...``):
    its columns (status, completions, duration) are what it prints. A list is filtered before it
    is passed on, which protobuf or YAML replies could not be: those are asked for as JSON.
    """
    value = ctx.header(b"accept")
    ranges = [r.strip() for r in (value or "").split(",") if r.strip()]
    if ranges and all(r.split(";", 1)[0].strip().lower() == "application/json" for r in ranges):
        return ", ".join(ranges)
    return "application/json"


def _query(query: bytes) -> dict[str, list[str]]:
    return parse_qs(query.decode("latin-1"), keep_blank_values=True)


def _refuse_watch(query: bytes) -> None:
    if any(v.lower() in ("true", "1", "") for v in _query(query).get("watch", ())):
        raise BadRequest(
            "watching jobs is not served through the gateway; get or list them instead",
            code="watch_unsupported",
        )


def _orphan() -> BadRequest:
    return BadRequest(
        "propagationPolicy Orphan is not allowed: the job's pods would go on running outside its"
        " activeDeadlineSeconds, beyond the bound reserved for it; delete with Background or Foreground",
        code="orphan_not_allowed",
    )


def _cascading(query: bytes, body: bytes) -> bytes:
    """The DeleteOptions to send: the customer's, always cascading to the Job's pods.

    batch/v1 Jobs orphan their pods by default (the API server's legacy default): a delete that does
    not say otherwise gets ``propagationPolicy: Background``, as kubectl sends.
    """
    params = _query(query)
    if "Orphan" in params.get("propagationPolicy", ()) or "true" in params.get("orphanDependents", ()):
        raise _orphan()
    options: dict[str, Any] = {}
    if body.strip():
        decoded = json_object(body, "DeleteOptions")
        if decoded is None:
            raise BadRequest("the delete options are not JSON", code="invalid_json")
        options = decoded
    policy = options.get("propagationPolicy")
    if policy == "Orphan" or options.get("orphanDependents") is True:
        raise _orphan()
    if policy not in ("Background", "Foreground"):
        if policy is not None:
            raise BadRequest(f"propagationPolicy: unknown value {policy!r}", code="invalid_request")
        if not params.get("propagationPolicy"):
            options["propagationPolicy"] = "Background"
    options.pop("orphanDependents", None)
    return _encode(options)


def _filtered_list(body: bytes, allowed_names: set[str]) -> bytes:
    """The list with the customer's own jobs only; anything that is not a list is refused, not passed on."""
    reply = json_object(body, "Kubernetes JobList")
    if reply is None or not ("items" in reply or (reply.get("kind") == "Table" and "rows" in reply)):
        raise bad_reply("Kubernetes JobList", "not a list of jobs")
    return filter_job_list(body, allowed_names)


def trim_group_list(body: bytes) -> bytes:
    """``/apis`` with the groups the gateway serves only (``batch``).

    kubectl asks every listed group for its resources; the gateway would answer each with 404 and
    kubectl would print an error for each. A reply that is not an ``APIGroupList`` is kept as it is.
    """
    try:
        reply = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return body
    if not isinstance(reply, dict) or reply.get("kind") != "APIGroupList":
        return body
    groups = reply.get("groups")
    if not isinstance(groups, list):
        return body
    reply["groups"] = [g for g in groups if isinstance(g, dict) and g.get("name") in _SERVED_GROUPS]
    return _encode(reply)
