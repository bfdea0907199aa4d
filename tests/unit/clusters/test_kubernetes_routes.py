"""kubectl's requests to a Kubernetes cluster behind the gateway: routes, namespaces, Status errors.

The cluster, the proxy and the repository are stand-ins here; tests/e2e/test_kubernetes.py runs the
real kubectl against the gateway and a double of the API server.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Literal

import msgspec
import pytest

from gateway.clusters.adapter import ClusterCall
from gateway.clusters.kubernetes import WORKLOAD_LABEL, routes
from gateway.clusters.kubernetes.namespaces import customer_namespace, namespace_allowed
from gateway.clusters.kubernetes.routes import trim_group_list
from gateway.clusters.kubernetes.status import ClusterRefusal, status_body
from gateway.clusters.workload import Workload
from gateway.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    GatewayError,
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from gateway.identity.principal import Principal
from gateway.proxy.context import RequestContext
from gateway.settings import ClusterSettings

CUSTOMER = uuid.UUID("0123456789ab4cdeb0123456789abcde")
NS = "c-0123456789ab"
WORKLOAD_ID = uuid.UUID("5f0c9e8e-3c1a-4c57-9a39-2f1f0c4b7d11")
JOBS = f"/apis/batch/v1/namespaces/{NS}/jobs"
JOB = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"name": "train"},
    "spec": {
        "parallelism": 2,
        "activeDeadlineSeconds": 600,
        "template": {
            "spec": {"containers": [{"name": "t", "resources": {"limits": {"nvidia.com/gpu": "4"}}}]}
        },
    },
}


# --- namespaces -----------------------------------------------------------------------------------


def test_a_customers_namespace_is_c_and_twelve_hex_digits_of_its_id() -> None:
    assert customer_namespace(CUSTOMER) == NS


@pytest.mark.parametrize(
    ("namespace", "allowed"),
    [
        (NS, True),
        (f"{NS}-training", True),
        (f"{NS}-a-b-c", True),
        (f"{NS}-", False),  # not a valid name
        (f"{NS}x", False),  # another prefix, not a suffix
        ("c-0123456789ac", False),
        ("default", False),
        ("kube-system", False),
        (NS.upper(), False),
        (f"{NS}-" + "a" * 49, False),  # longer than 63 characters
        (f"{NS}-a.b", False),
        (f"{NS}-..", False),
    ],
)
def test_only_the_customers_namespaces_are_allowed(namespace: str, allowed: bool) -> None:
    assert namespace_allowed(CUSTOMER, namespace) is allowed


# --- Status bodies --------------------------------------------------------------------------------


def test_an_error_is_a_kubernetes_status_with_our_code_and_the_request_id() -> None:
    body = msgspec.json.decode(status_body(NotFound("no job 'x'", code="job_not_found"), "req-1"))
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "no job 'x' (job_not_found; request id req-1)",
        "reason": "NotFound",
        "code": 404,
        "details": {"causes": [{"reason": "job_not_found", "message": "no job 'x'"}]},
    }


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (BadRequest("x", code="unbounded_job"), "BadRequest"),
        (Unauthorized("x"), "Unauthorized"),
        (Forbidden("x", code="namespace_forbidden"), "Forbidden"),
        (NotFound("x", code="route_not_found"), "NotFound"),
        (MethodNotAllowed("x"), "MethodNotAllowed"),
        (Conflict("x"), "Conflict"),
        (TooManyRequests("x", code="gpu_seconds_exhausted", headers=[]), "TooManyRequests"),
        (UpstreamUnavailable("x", code="cluster_error"), "ServiceUnavailable"),
        (ServiceUnavailable("x"), "ServiceUnavailable"),
        (UpstreamTimeout("x"), "Timeout"),
        (GatewayError("internal error"), "InternalError"),
        (ClusterRefusal("x", status=409, code="job_exists", reason="AlreadyExists"), "AlreadyExists"),
        (ClusterRefusal("x", status=422, code="job_refused", reason=None), "Invalid"),
        (GatewayError("x", status=418), "BadRequest"),
    ],
)
def test_each_error_has_the_reason_kubectl_prints(error: GatewayError, reason: str) -> None:
    body = msgspec.json.decode(status_body(error, "r"))
    assert (body["reason"], body["code"]) == (reason, error.status)


# --- discovery ------------------------------------------------------------------------------------


def test_the_group_list_is_trimmed_to_batch() -> None:
    groups = [
        {"name": n, "versions": [{"groupVersion": f"{n}/v1", "version": "v1"}]}
        for n in ("apps", "batch", "rbac.authorization.k8s.io")
    ]
    out = msgspec.json.decode(
        trim_group_list(msgspec.json.encode({"kind": "APIGroupList", "groups": groups}))
    )
    assert [g["name"] for g in out["groups"]] == ["batch"] and out["kind"] == "APIGroupList"
    for other in (b"not json", b'{"kind":"Status","code":404}', b'{"kind":"APIGroupList","groups":7}'):
        assert trim_group_list(other) == other


# --- routes, with stand-ins -----------------------------------------------------------------------


class FakeCluster:
    name = "kube"
    kind = "kubernetes"

    def __init__(
        self,
        replies: dict[tuple[str, str], tuple[int, Any]] | None = None,
        pod_security: Literal["baseline", "restricted"] = "baseline",
    ) -> None:
        self.settings = ClusterSettings(
            name="kube",
            kind="kubernetes",
            base_url="https://kube:6443",
            region="US",
            pod_security=pod_security,
        )
        self.replies = replies or {}
        self.calls: list[tuple[str, str, bytes, bytes]] = []
        self.accepts: list[str] = []

    async def call(
        self, method: str, path: str, body: bytes = b"", query: bytes = b"", accept: str = "application/json"
    ) -> tuple[int, bytes]:
        self.calls.append((method, path, body, query))
        self.accepts.append(accept)
        status, reply = self.replies.get((method, path), (200, {"kind": "Thing"}))
        return status, reply if isinstance(reply, bytes) else msgspec.json.encode(reply)


class FakeJobs:
    def __init__(self) -> None:
        self.submitted: list[tuple[Workload, str]] = []
        self.job_ids: list[str] = []

    @property
    def pool(self) -> FakeJobs:
        return self

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[None]:
        yield None

    async def submit(
        self,
        ctx: RequestContext,
        cluster: Any,
        workload: Workload,
        version: str,
        forward: Callable[[uuid.UUID], Awaitable[tuple[int, bytes, str]]],
    ) -> tuple[int, bytes]:
        self.submitted.append((workload, version))
        status, out, job_id = await forward(WORKLOAD_ID)
        self.job_ids.append(job_id)
        return status, out


@pytest.fixture
def owned(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """The job ids ("ns/name") the customer submitted; the repository answers from it."""
    jobs: set[str] = set()

    async def owns(conn: Any, cluster: str, customer_id: uuid.UUID, job_id: str) -> bool:
        return customer_id == CUSTOMER and job_id in jobs

    async def owned_job_ids(conn: Any, cluster: str, customer_id: uuid.UUID) -> list[str]:
        return sorted(jobs) if customer_id == CUSTOMER else []

    monkeypatch.setattr(routes.repository, "owns", owns)
    monkeypatch.setattr(routes.repository, "owned_job_ids", owned_job_ids)
    return jobs


async def handle_kubernetes(
    jobs: FakeJobs, ctx: RequestContext, cluster: FakeCluster, method: str, path: str, body: bytes
) -> tuple[int, bytes, str]:
    """The adapter's routes, given the stand-ins for the cluster and the job admission."""
    return await routes.serve(ClusterCall(ctx, cluster, jobs, method, path, body))  # type: ignore[arg-type]


def context(query: bytes = b"") -> RequestContext:
    ctx = RequestContext({"headers": [], "client": ("127.0.0.1", 1), "query_string": query}, None)
    ctx.principal = Principal(CUSTOMER, uuid.uuid4(), "0" * 16)
    return ctx


async def serve(
    method: str, path: str, body: Any = b"", *, cluster: FakeCluster | None = None, query: bytes = b""
) -> tuple[int, Any, str]:
    raw = body if isinstance(body, bytes) else msgspec.json.encode(body)
    status, out, route = await handle_kubernetes(
        FakeJobs(), context(query), cluster or FakeCluster(), method, path, raw
    )
    return status, msgspec.json.decode(out), route


@pytest.mark.parametrize(
    "path",
    ["/version", "/api", "/api/v1", "/apis/batch", "/apis/batch/v1", "/openapi/v2", "/openapi/v3",
     "/openapi/v3/apis/batch/v1", "/openapi/v3/api/v1", "/openapi/v3/apis/apps/v1"],
)  # fmt: skip
async def test_discovery_is_forwarded_with_its_query(path: str) -> None:
    cluster = FakeCluster({("GET", path): (200, {"kind": "Discovered"})})
    status, out, route = await handle_kubernetes(
        FakeJobs(), context(b"timeout=32s"), cluster, "GET", path, b""
    )
    assert (status, msgspec.json.decode(out)) == (200, {"kind": "Discovered"})
    assert cluster.calls == [("GET", path, b"", b"timeout=32s")] and route.startswith("/clusters/kube/")


async def test_a_missing_openapi_v2_stays_a_404_for_kubectl_to_fall_back() -> None:
    missing = {"kind": "Status", "code": 404, "reason": "NotFound"}
    cluster = FakeCluster({("GET", "/openapi/v2"): (404, missing)})
    assert (await serve("GET", "/openapi/v2", cluster=cluster))[:2] == (404, missing)


async def test_the_cluster_refusing_the_gateways_token_is_a_502() -> None:
    cluster = FakeCluster({("GET", "/api"): (401, {"kind": "Status", "message": "Unauthorized"})})
    with pytest.raises(UpstreamUnavailable) as err:
        await serve("GET", "/api", cluster=cluster)
    assert err.value.status == 502 and "Unauthorized" in err.value.message


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/api/v1/namespaces/{NS}/pods"),
        ("GET", f"/api/v1/namespaces/{NS}/secrets"),
        ("GET", "/api/v1/namespaces"),
        ("GET", "/api/v1/nodes"),
        ("POST", "/api/v1/namespaces"),
        ("DELETE", f"/api/v1/namespaces/{NS}"),
        ("POST", "/apis"),
        ("GET", f"/apis/batch/v1/namespaces/{NS}/cronjobs"),
        ("GET", f"/apis/batch/v1/namespaces/{NS}/jobs/train/status"),
        ("GET", "/apis/batch/v1/jobs"),
        ("GET", "/apis/apps/v1"),
        ("POST", f"{JOBS}/train"),
        ("GET", "/openapi/v3/../../api/v1/secrets"),
        ("GET", "/openapi/v3/apis/batch/v1/../../../../api/v1/secrets"),
        ("GET", "/openapi/v3/api/v1/namespaces"),
        ("GET", "/version/../api/v1/secrets"),
    ],
)
async def test_anything_else_is_not_served(method: str, path: str) -> None:
    cluster = FakeCluster()
    with pytest.raises(NotFound) as err:
        await serve(method, path, cluster=cluster)
    assert err.value.code == "route_not_found" and cluster.calls == []


@pytest.mark.parametrize("namespace", ["default", "kube-system", "c-0123456789ac"])
@pytest.mark.parametrize(
    ("method", "suffix"),
    [("POST", "/jobs"), ("GET", "/jobs"), ("GET", "/jobs/train"), ("DELETE", "/jobs/train")],
)
async def test_another_namespace_is_forbidden_and_names_the_customers(
    owned: set[str], namespace: str, method: str, suffix: str
) -> None:
    owned.add(f"{namespace}/train")
    cluster = FakeCluster()
    with pytest.raises(Forbidden) as err:
        await serve(method, f"/apis/batch/v1/namespaces/{namespace}{suffix}", JOB, cluster=cluster)
    assert err.value.code == "namespace_forbidden" and NS in err.value.message
    assert cluster.calls == []


async def test_a_job_is_bounded_and_created_with_kubectls_query() -> None:
    proxy, cluster = FakeJobs(), FakeCluster()
    created = {"kind": "Job", "metadata": {"name": "train", "namespace": NS}}
    cluster.replies[("POST", JOBS)] = (201, created)
    query = b"fieldManager=kubectl-create&fieldValidation=Strict"
    body = msgspec.json.encode({**JOB, "metadata": {"name": "train", "labels": {"team": "vision"}}})
    status, out, route = await handle_kubernetes(proxy, context(query), cluster, "POST", JOBS, body)
    assert (status, msgspec.json.decode(out)) == (201, created)
    assert route == "/clusters/kube/apis/batch/v1/namespaces/{ns}/jobs"
    [(workload, version)] = proxy.submitted
    assert (workload.gpus, workload.time_limit_seconds, workload.namespace, version) == (
        8,
        600,
        NS,
        "batch/v1",
    )
    [(method, path, sent, sent_query)] = cluster.calls
    assert (method, path, sent_query) == ("POST", JOBS, query) and proxy.job_ids == [f"{NS}/train"]
    # As sent, plus the label a lost submission is found by (the job's own labels kept).
    labelled = msgspec.json.decode(body)
    labelled["metadata"]["labels"] = {"team": "vision", WORKLOAD_LABEL: str(WORKLOAD_ID)}
    assert msgspec.json.decode(sent) == labelled


async def test_generate_name_takes_the_name_from_the_clusters_reply() -> None:
    proxy, cluster = FakeJobs(), FakeCluster()
    cluster.replies[("POST", JOBS)] = (
        201,
        {"kind": "Job", "metadata": {"name": "sweep-x7k2p", "namespace": NS}},
    )
    job = {**JOB, "metadata": {"generateName": "sweep-"}}
    await handle_kubernetes(proxy, context(), cluster, "POST", JOBS, msgspec.json.encode(job))
    assert proxy.job_ids == [f"{NS}/sweep-x7k2p"]


async def test_the_bodys_namespace_must_be_the_paths() -> None:
    cluster = FakeCluster()
    job = {**JOB, "metadata": {"name": "train", "namespace": "default"}}
    with pytest.raises(BadRequest) as err:
        await serve("POST", JOBS, job, cluster=cluster)
    assert err.value.code == "invalid_job" and "metadata.namespace" in err.value.message
    assert cluster.calls == []
    await serve("POST", JOBS, {**JOB, "metadata": {"name": "train", "namespace": NS}}, cluster=cluster)


async def test_an_unbounded_job_never_reaches_the_cluster() -> None:
    cluster = FakeCluster()
    job = msgspec.json.decode(msgspec.json.encode(JOB))
    del job["spec"]["activeDeadlineSeconds"]
    with pytest.raises(BadRequest) as err:
        await serve("POST", JOBS, job, cluster=cluster)
    assert err.value.code == "unbounded_job" and cluster.calls == []


async def test_a_privileged_job_never_reaches_the_cluster_and_kubectl_is_told_why() -> None:
    cluster = FakeCluster()
    job = msgspec.json.decode(msgspec.json.encode(JOB))
    job["spec"]["template"]["spec"]["containers"][0]["securityContext"] = {"privileged": True}
    with pytest.raises(Forbidden) as err:
        await serve("POST", JOBS, job, cluster=cluster)
    assert err.value.code == "pod_security_violation" and cluster.calls == []
    field = "spec.template.spec.containers[0].securityContext.privileged"
    status = msgspec.json.decode(status_body(err.value, "req-7"))
    assert (status["code"], status["reason"]) == (403, "Forbidden")
    assert status["message"] == (
        f'{field}: privileged containers are not allowed (Pod Security Standard "baseline")'
        " (pod_security_violation; request id req-7)"
    )
    assert status["details"]["causes"][0]["reason"] == "pod_security_violation"


async def test_a_restricted_cluster_refuses_what_the_baseline_allows() -> None:
    strict = FakeCluster(pod_security="restricted")
    with pytest.raises(Forbidden) as err:
        await serve("POST", JOBS, JOB, cluster=strict)
    assert err.value.code == "pod_security_violation" and strict.calls == []
    assert "allowPrivilegeEscalation: must be false" in err.value.message
    assert 'Pod Security Standard "restricted"' in err.value.message
    await serve("POST", JOBS, JOB, cluster=FakeCluster())  # the same job on a baseline cluster


async def test_a_server_side_dry_run_is_refused() -> None:
    cluster = FakeCluster()
    with pytest.raises(BadRequest) as err:
        await serve("POST", JOBS, JOB, cluster=cluster, query=b"dryRun=All&fieldManager=kubectl-create")
    assert err.value.code == "dry_run_unsupported" and cluster.calls == []


@pytest.mark.parametrize(
    ("status", "reply", "error", "code", "reason"),
    [
        (409, {"kind": "Status", "message": 'jobs.batch "train" already exists', "reason": "AlreadyExists"},
         ClusterRefusal, "job_exists", "AlreadyExists"),
        (404, {"kind": "Status", "message": f'namespaces "{NS}" not found', "reason": "NotFound"},
         ClusterRefusal, "job_refused", "NotFound"),
        (422, {"kind": "Status", "message": "spec.template: Invalid value", "reason": "Invalid"},
         ClusterRefusal, "job_refused", "Invalid"),
        (403, {"kind": "Status", "message": "forbidden: User cannot create", "reason": "Forbidden"},
         UpstreamUnavailable, "cluster_error", None),
        (500, b"oops", UpstreamUnavailable, "cluster_error", None),
    ],
)  # fmt: skip
async def test_the_clusters_refusal_keeps_its_status_and_reason(
    status: int, reply: Any, error: type[GatewayError], code: str, reason: str | None
) -> None:
    cluster = FakeCluster({("POST", JOBS): (status, reply)})
    with pytest.raises(error) as err:
        await serve("POST", JOBS, JOB, cluster=cluster)
    assert err.value.code == code and getattr(err.value, "reason", None) == reason
    assert err.value.status == (status if error is ClusterRefusal else 502)
    if isinstance(reply, dict):
        assert reply["message"] in err.value.message


async def test_the_list_keeps_the_customers_own_jobs(owned: set[str]) -> None:
    owned.update({f"{NS}/mine", f"{NS}-other/elsewhere"})
    items = [{"metadata": {"name": n}} for n in ("mine", "operators", "elsewhere")]
    cluster = FakeCluster({("GET", JOBS): (200, {"kind": "JobList", "metadata": {}, "items": items})})
    status, out, _ = await serve("GET", JOBS, cluster=cluster, query=b"limit=500")
    assert status == 200 and [i["metadata"]["name"] for i in out["items"]] == ["mine"]
    assert cluster.calls == [("GET", JOBS, b"", b"limit=500")]


async def test_a_list_reply_that_is_not_a_list_is_not_passed_on(owned: set[str]) -> None:
    for reply in ({"kind": "Job", "metadata": {"name": "x"}}, b"plain text"):
        with pytest.raises(UpstreamUnavailable):
            await serve("GET", JOBS, cluster=FakeCluster({("GET", JOBS): (200, reply)}))


@pytest.mark.parametrize("path", [JOBS, f"{JOBS}/mine"])
async def test_watching_is_refused(owned: set[str], path: str) -> None:
    owned.add(f"{NS}/mine")
    with pytest.raises(BadRequest) as err:
        await serve("GET", path, query=b"watch=true&fieldSelector=metadata.name%3Dmine")
    assert err.value.code == "watch_unsupported"


@pytest.mark.parametrize("method", ["GET", "DELETE"])
async def test_only_the_customers_own_job_is_read_or_deleted(owned: set[str], method: str) -> None:
    owned.add(f"{NS}/mine")
    cluster = FakeCluster()
    for name in ("theirs", "never-made", "..", "a%2Fb"):
        with pytest.raises(NotFound) as err:
            await serve(method, f"{JOBS}/{name}", cluster=cluster)
        assert err.value.code == "job_not_found" and err.value.status == 404
    assert cluster.calls == []
    status, _, route = await serve(method, f"{JOBS}/mine", cluster=cluster)
    assert status == 200 and route == "/clusters/kube/apis/batch/v1/namespaces/{ns}/jobs/{name}"
    assert [c[:2] for c in cluster.calls] == [(method, f"{JOBS}/mine")]


async def test_a_job_gone_from_the_cluster_is_a_not_found(owned: set[str]) -> None:
    owned.add(f"{NS}/mine")
    gone = {"kind": "Status", "message": 'jobs.batch "mine" not found', "reason": "NotFound"}
    with pytest.raises(ClusterRefusal) as err:
        await serve("GET", f"{JOBS}/mine", cluster=FakeCluster({("GET", f"{JOBS}/mine"): (404, gone)}))
    assert (err.value.status, err.value.code, err.value.reason) == (404, "job_not_found", "NotFound")


@pytest.mark.parametrize(
    ("body", "query", "sent"),
    [
        (b"", b"", {"propagationPolicy": "Background"}),
        (b'{"propagationPolicy":"Background"}', b"", {"propagationPolicy": "Background"}),
        (b'{"propagationPolicy":"Foreground"}', b"", {"propagationPolicy": "Foreground"}),
        (b'{"kind":"DeleteOptions","apiVersion":"v1","gracePeriodSeconds":0}', b"",
         {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0, "propagationPolicy": "Background"}),
        (b"", b"propagationPolicy=Foreground", {}),
    ],
)  # fmt: skip
async def test_a_delete_always_takes_the_pods_with_it(
    owned: set[str], body: bytes, query: bytes, sent: dict[str, Any]
) -> None:
    owned.add(f"{NS}/mine")
    cluster = FakeCluster()
    await serve("DELETE", f"{JOBS}/mine", body, cluster=cluster, query=query)
    [(_, _, forwarded, forwarded_query)] = cluster.calls
    assert msgspec.json.decode(forwarded) == sent and forwarded_query == query


@pytest.mark.parametrize(
    ("body", "query"),
    [
        (b'{"propagationPolicy":"Orphan"}', b""),
        (b'{"orphanDependents":true}', b""),
        (b"", b"propagationPolicy=Orphan"),
        (b"", b"orphanDependents=true"),
    ],
)
async def test_orphaning_the_pods_is_refused(owned: set[str], body: bytes, query: bytes) -> None:
    owned.add(f"{NS}/mine")
    cluster = FakeCluster()
    with pytest.raises(BadRequest) as err:
        await serve("DELETE", f"{JOBS}/mine", body, cluster=cluster, query=query)
    assert err.value.code == "orphan_not_allowed" and cluster.calls == []


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
async def test_a_job_cannot_be_changed(owned: set[str], method: str) -> None:
    owned.add(f"{NS}/mine")
    cluster = FakeCluster()
    with pytest.raises(MethodNotAllowed) as err:
        await serve(method, f"{JOBS}/mine", {"spec": {"suspend": True}}, cluster=cluster)
    assert err.value.status == 405 and err.value.code == "method_not_allowed"
    assert "suspend" in err.value.message and "parallelism" in err.value.message and cluster.calls == []


@pytest.mark.parametrize("method", ["DELETE", "PATCH", "PUT"])
async def test_the_collection_is_not_deleted_or_changed_at_once(method: str) -> None:
    cluster = FakeCluster()
    with pytest.raises(MethodNotAllowed):
        await serve(method, JOBS, cluster=cluster)
    assert cluster.calls == []


async def test_the_customers_own_namespace_can_be_read_and_no_other() -> None:
    path = f"/api/v1/namespaces/{NS}-eval"
    cluster = FakeCluster({("GET", path): (200, {"kind": "Namespace"})})
    assert (await serve("GET", path, cluster=cluster))[:2] == (200, {"kind": "Namespace"})
    with pytest.raises(Forbidden):
        await serve("GET", "/api/v1/namespaces/kube-system", cluster=cluster)
    assert len(cluster.calls) == 1


KUBECTL_GET = (
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,"
    "application/json"
)


@pytest.mark.parametrize(
    ("accept", "asked"),
    [
        (KUBECTL_GET, KUBECTL_GET.replace(",", ", ")),  # kubectl get's Table: its columns are printed
        ("application/json", "application/json"),
        (None, "application/json"),
        ("application/vnd.kubernetes.protobuf, application/json", "application/json"),  # not filterable
        ("application/yaml", "application/json"),
        ("*/*", "application/json"),
    ],
)
def test_json_forms_of_accept_are_passed_on_and_others_asked_as_json(accept: str | None, asked: str) -> None:
    headers = [] if accept is None else [(b"accept", accept.encode())]
    ctx = RequestContext({"headers": headers, "client": ("127.0.0.1", 1), "query_string": b""}, None)
    assert routes.json_accept(ctx) == asked
