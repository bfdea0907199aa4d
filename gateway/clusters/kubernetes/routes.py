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
  ``parallelism`` x ``activeDeadlineSeconds`` bound its compute; see :mod:`.jobs`), placed,
  reserved and recorded, and only then created (:class:`~gateway.clusters.admission.JobAdmission`); job id
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

Errors reach kubectl as Kubernetes ``Status`` objects (:func:`.status.status_body`), with the gateway's
code in ``details.causes[0].reason`` and, since kubectl prints the message only, in the message
too, with the request id.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import msgspec

from ...errors import BadRequest, MethodNotAllowed, NotFound
from .. import repository
from ..adapter import ClusterCall
from ..workload import bad_reply, invalid_job, json_object
from .jobs import parse_job
from .namespaces import check_namespace
from .replies import WORKLOAD_LABEL, filter_job_list, with_label
from .status import cluster_failure

if TYPE_CHECKING:
    from ...proxy.context import RequestContext

API_VERSION = "batch/v1"
_NAME = r"[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?"
"""A Job's name: a DNS subdomain (no ``/``, ``?``, ``#`` or ``%`` can reach the cluster's URL)."""
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
_encode = msgspec.json.Encoder().encode


async def serve(call: ClusterCall) -> tuple[int, bytes, str]:
    """Serve one kubectl request: ``(status, body, route)``, or raise a :class:`GatewayError`."""
    ctx, cluster, method, path, body = call.ctx, call.cluster, call.method, call.path, call.body
    customer = call.customer
    base = f"/clusters/{cluster.name}"
    jobs_route = f"{base}/apis/batch/v1/namespaces/{{ns}}/jobs"

    if method == "GET" and (path in _DISCOVERY or _OPENAPI_V3.match(path)):
        route = base + path if path in _DISCOVERY else f"{base}/openapi/v3/{{group_version}}"
        status, out = await cluster.call("GET", path, query=ctx.query)
        if status in (401, 403, 407) or status >= 500:
            raise cluster_failure(status, out, f"answer {path}", {}, "cluster_error")
        if path == "/apis" and status == 200:
            out = trim_group_list(out)
        return status, out, route

    if m := _NAMESPACE.match(path):
        if method != "GET":
            raise _no_route(method, path)
        check_namespace(customer, m["ns"])
        status, out = await cluster.call("GET", path)
        if status != 200:
            raise cluster_failure(
                status, out, "read the namespace", {404: "namespace_not_found"}, "cluster_refused"
            )
        return status, out, f"{base}/api/v1/namespaces/{{ns}}"

    if m := _JOBS.match(path):
        namespace = m["ns"]
        if method == "POST":
            check_namespace(customer, namespace)
            status, out = await _create(call, namespace)
            return status, out, jobs_route
        if method == "GET":
            check_namespace(customer, namespace)
            _refuse_watch(ctx.query)
            status, out = await cluster.call("GET", path, query=ctx.query, accept=json_accept(ctx))
            if status != 200:
                raise cluster_failure(
                    status, out, "list jobs", {404: "namespace_not_found"}, "cluster_refused"
                )
            async with call.jobs.pool.acquire() as conn:
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
        check_namespace(customer, namespace)
        job_id = f"{namespace}/{name}"
        owned = False
        if _JOB_NAME.fullmatch(name):
            async with call.jobs.pool.acquire() as conn:
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
            raise cluster_failure(status, out, what, {404: "job_not_found"}, "cluster_refused")
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


async def _create(call: ClusterCall, namespace: str) -> tuple[int, bytes]:
    ctx, cluster, path, body = call.ctx, call.cluster, call.path, call.body
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
            raise cluster_failure(status, out, "create the job", {409: "job_exists"}, "job_refused")
        created = _metadata(out)
        name = created.name or asked  # generateName: the cluster chose it
        if not name or not _JOB_NAME.fullmatch(name) or created.namespace not in (None, namespace):
            raise bad_reply("Kubernetes Job", "the created job has no name in the namespace of the request")
        return status, out, f"{namespace}/{name}"

    return await call.jobs.submit(ctx, cluster, workload, API_VERSION, forward)


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
