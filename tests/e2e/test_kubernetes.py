"""Kubernetes behind the gateway, with the real kubectl: batch/v1 Jobs created, listed, read and deleted.

kubectl talks to ``/clusters/kube`` on the gateway (through a TLS front: kubectl sends a token over
HTTPS only) with the customer's gateway key as its token; the gateway talks to a loopback double of
the API server (``tests/k8s_double.py``) with the cluster's own token, bounds and records each Job
before creating it, follows it to its end and settles what it computed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from gateway.identity.repository import create_key
from tests.conftest import _run, verified_customer
from tests.e2e.conftest import GatewayProcess, ThreadedServer
from tests.k8s_double import KubeDouble
from tests.tls_front import TlsFront

KUBE_TOKEN = "kube-cluster-sa-token-" + "k" * 24


def _kubectl_binary() -> str:
    found = shutil.which("kubectl")
    if found:
        return found
    attempt = "not root, so `apt-get install kubernetes-client` was not tried"
    if os.geteuid() == 0 and shutil.which("apt-get"):
        done = subprocess.run(
            ["apt-get", "install", "-y", "kubernetes-client"],
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        found = shutil.which("kubectl")
        if found:
            return found
        attempt = (
            f"`apt-get install -y kubernetes-client` failed: {(done.stderr or done.stdout).strip()[-300:]}"
        )
    pytest.skip(f"the kubectl binary is not on PATH and {attempt}")


@dataclass
class Kube:
    double: KubeDouble
    gw: GatewayProcess
    front: TlsFront
    kubectl: str
    home: Path
    extra: list[str]

    def run(
        self, key: str, *args: str, namespace: str | None = None, cluster: str = "kube"
    ) -> subprocess.CompletedProcess[str]:
        """``kubectl`` with no kubeconfig of the machine's: server, token and CA on the command line."""
        cmd = [self.kubectl, "--kubeconfig", str(self.home / "empty-kubeconfig")]
        cmd += ["--server", f"{self.front.url}/clusters/{cluster}", "--token", key]
        cmd += ["--certificate-authority", str(self.front.ca_file), *self.extra]
        if namespace is not None:
            cmd += ["-n", namespace]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.home)}
        env["KUBECONFIG"] = str(self.home / "empty-kubeconfig")
        return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=90, env=env)


def _extra_flags(kubectl: str) -> list[str]:
    """kubectl before 1.27 validates with /openapi/v2 (protobuf), which the double does not serve."""
    done = subprocess.run([kubectl, "version", "--client", "-o", "json"], capture_output=True, text=True)
    try:
        minor = int(re.sub(r"\D.*", "", json.loads(done.stdout)["clientVersion"]["minor"]))
    except (ValueError, KeyError, json.JSONDecodeError):
        return []
    return ["--validate=false"] if minor < 27 else []


@pytest.fixture(scope="module")
def kube(
    gateway_config_file: Path, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Kube]:
    kubectl = _kubectl_binary()
    folder = tmp_path_factory.mktemp("kube")
    home = folder / "home"
    home.mkdir()
    (home / "empty-kubeconfig").write_text("")
    double = KubeDouble(KUBE_TOKEN)
    with ThreadedServer(double) as server:
        config = folder / "gateway.toml"
        config.write_text(
            gateway_config_file.read_text()
            + f"""
[[clusters]]
name = "kube"
kind = "kubernetes"
base_url = "http://127.0.0.1:{server.port}"
region = "US"
token_env = "KUBE_TOKEN"
default_accelerator = "h100"
poll_seconds = 0.3

# The same API server as a second cluster: whose jobs default to A100s and must meet the
# restricted Pod Security Standard.
[[clusters]]
name = "kube-lab"
kind = "kubernetes"
base_url = "http://127.0.0.1:{server.port}"
region = "US"
token_env = "KUBE_TOKEN"
default_accelerator = "a100"
pod_security = "restricted"
poll_seconds = 0.3
"""
        )
        os.environ["KUBE_TOKEN"] = KUBE_TOKEN
        gw = GatewayProcess(config, database_url, folder / "state").start()
        try:
            front = TlsFront(gw.port, folder / "tls").start()
            try:
                yield Kube(double, gw, front, kubectl, home, _extra_flags(kubectl))
            finally:
                front.stop()
        finally:
            gw.stop()


# --- helpers ------------------------------------------------------------------------------------


@dataclass
class Customer:
    id: uuid.UUID
    key: str

    @property
    def namespace(self) -> str:
        return f"c-{self.id.hex[:12]}"


def customer(database_url: str) -> Customer:
    async def make() -> Customer:
        conn = await asyncpg.connect(database_url)
        try:
            c = await verified_customer(conn, f"kube-{uuid.uuid4().hex[:8]}")
            return Customer(c.id, (await create_key(conn, str(c.id), "default")).key)
        finally:
            await conn.close()

    return _run(make())


def job_yaml(
    folder: Path,
    name: str,
    *,
    gpus: int = 4,
    parallelism: int = 2,
    deadline: int | None = 600,
    generate: bool = False,
    pod: Sequence[str] = (),
    container: Sequence[str] = (),
) -> Path:
    """A Job as a person writes it, in YAML (``generate``: ``metadata.generateName`` instead of a name).

    ``pod`` and ``container`` are more YAML lines of the pod spec and of its container, unindented.
    """
    lines = ["apiVersion: batch/v1", "kind: Job", "metadata:"]
    lines.append(f"  generateName: {name}-" if generate else f"  name: {name}")
    lines += ["spec:", f"  parallelism: {parallelism}", f"  completions: {parallelism}"]
    if deadline is not None:
        lines.append(f"  activeDeadlineSeconds: {deadline}")
    lines += [
        "  template:",
        "    spec:",
        "      restartPolicy: Never",
        *(f"      {line}" for line in pod),
        "      containers:",
        "      - name: trainer",
        "        image: registry.example.com/train:1.4",
        '        command: ["torchrun", "train.py"]',
        *(f"        {line}" for line in container),
        "        resources:",
        "          limits:",
        f'            nvidia.com/gpu: "{gpus}"',
        '            memory: "64Gi"',
    ]
    path = folder / f"{name}-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def query(database_url: str, sql: str, *args: Any) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        conn = await asyncpg.connect(database_url)
        try:
            return [dict(r) for r in await conn.fetch(sql, *args)]
        finally:
            await conn.close()

    return _run(read())


def workload(database_url: str, job_id: str, cluster: str = "kube") -> dict[str, Any]:
    rows = query(database_url, "select * from workloads where cluster = $1 and job_id = $2", cluster, job_id)
    return rows[0] if rows else {}


def until_state(database_url: str, job_id: str, state: str, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        row = workload(database_url, job_id)
        if row.get("state") == state:
            return row
        assert time.monotonic() < deadline, f"job {job_id} not {state}: {row.get('state')}"
        time.sleep(0.05)


def counters(database_url: str, customer_id: uuid.UUID) -> dict[str, dict[str, Any]]:
    rows = query(
        database_url,
        "select dimension, used, reserved from quota_counters where scope_id = $1"
        " and dimension in ('gpu_seconds', 'flop')",
        str(customer_id),
    )
    return {r["dimension"]: r for r in rows}


def create(
    kube: Kube, who: Customer, manifest: Path, namespace: str | None = None, cluster: str = "kube"
) -> subprocess.CompletedProcess[str]:
    return kube.run(
        who.key, "create", "-f", str(manifest), namespace=namespace or who.namespace, cluster=cluster
    )


def posts(kube: Kube) -> int:
    return sum(1 for r in kube.double.requests if r.method == "POST")


def raw_get(port: int, target: str, key: str) -> int:
    """The status of a GET of exactly ``target``, byte for byte."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(
            f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        head = conn.recv(65536).split(b"\r\n", 1)[0]
    return int(head.split()[1])


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


# --- tests --------------------------------------------------------------------------------------


def test_a_job_created_with_kubectl_is_bounded_followed_and_settled(
    kube: Kube, database_url: str, tmp_path
) -> None:
    alice = customer(database_url)
    name = _name("train")
    created = create(kube, alice, job_yaml(tmp_path, name))
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip() == f"job.batch/{name} created"
    job_id = f"{alice.namespace}/{name}"
    row = workload(database_url, job_id)
    assert (row["customer_id"], row["kind"], row["api_version"], row["state"]) == (
        alice.id,
        "kubernetes",
        "batch/v1",
        "queued",
    )
    # 4 GPUs a pod x parallelism 2, for activeDeadlineSeconds 600.
    assert (row["gpus"], row["time_limit_seconds"], row["gpu_seconds_bound"]) == (8, 600, 4800)
    assert row["accelerator"] == "h100" and json.loads(row["signals"])["namespace"] == alice.namespace
    held = counters(database_url, alice.id)
    assert held["gpu_seconds"]["reserved"] == 4800

    # kubectl sent the Job as it is, with its own query, to the cluster under the cluster's token.
    post = next(r for r in kube.double.requests if r.method == "POST" and name.encode() in r.body)
    assert post.path == f"/apis/batch/v1/namespaces/{alice.namespace}/jobs"
    assert post.query == "fieldManager=kubectl-create&fieldValidation=Strict"
    assert post.headers["authorization"] == f"Bearer {KUBE_TOKEN}"

    listed = kube.run(alice.key, "get", "jobs", namespace=alice.namespace)
    assert listed.returncode == 0, listed.stderr
    header, row = listed.stdout.splitlines()[:2]
    # kubectl's Table, passed through and filtered: the server's columns, not only NAME and AGE.
    assert header.split() == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"], listed.stdout
    assert row.split()[0] == name
    shown = kube.run(alice.key, "get", "job", name, "-o", "json", namespace=alice.namespace)
    assert shown.returncode == 0, shown.stderr
    job = json.loads(shown.stdout)
    assert (job["kind"], job["metadata"]["name"], job["spec"]["parallelism"]) == ("Job", name, 2)

    started = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=50)
    kube.double.mark_running(alice.namespace, name, started)
    running = until_state(database_url, job_id, "running")
    assert running["native_state"] == "Active" and running["started_at"] == started

    kube.double.mark_complete(alice.namespace, name, started, started + dt.timedelta(seconds=42))
    ended = until_state(database_url, job_id, "ended")
    assert ended["native_state"] == "Complete"
    assert ended["run_seconds"] == 42  # the double's startTime to completionTime
    assert ended["gpu_seconds_settled"] == 8 * 42
    assert ended["flop_settled"] == pytest.approx(8 * 42 * 989e12 * 0.4)
    assert ended["ended_at"] == started + dt.timedelta(seconds=42)
    by = counters(database_url, alice.id)
    # The bound reserved at creation was replaced by what the job computed.
    assert by["gpu_seconds"]["used"] == 8 * 42 and by["gpu_seconds"]["reserved"] == 0

    deleted = kube.run(alice.key, "delete", "job", name, namespace=alice.namespace)
    assert deleted.returncode == 0, deleted.stderr
    assert deleted.stdout.strip() == f'job.batch "{name}" deleted'
    assert kube.double.job(alice.namespace, name) is None
    # The cluster saw only its own token, never a gateway key.
    assert kube.double.authorizations() == {f"Bearer {KUBE_TOKEN}"}
    assert not any(
        alice.key in json.dumps(r.headers) or alice.key.encode() in r.body for r in kube.double.requests
    )


def test_customers_see_and_touch_only_their_own_jobs_and_namespaces(
    kube: Kube, database_url: str, tmp_path
) -> None:
    alice, bob = customer(database_url), customer(database_url)
    mine, theirs = _name("alice"), _name("bob")
    assert create(kube, alice, job_yaml(tmp_path, mine)).returncode == 0
    made = create(kube, bob, job_yaml(tmp_path, theirs))
    assert made.returncode == 0, made.stderr
    # A Job in Alice's namespace that was not created through the gateway (by the operator).
    kube.double.plant(alice.namespace, _name("operator"))

    listed = kube.run(alice.key, "get", "jobs", "-o", "json", namespace=alice.namespace)
    assert listed.returncode == 0, listed.stderr
    assert [j["metadata"]["name"] for j in json.loads(listed.stdout)["items"]] == [mine]
    assert theirs not in kube.run(alice.key, "get", "jobs", namespace=alice.namespace).stdout

    elsewhere = kube.run(alice.key, "get", "job", theirs, namespace=bob.namespace)
    assert elsewhere.returncode != 0
    assert "Error from server (Forbidden)" in elsewhere.stderr
    assert alice.namespace in elsewhere.stderr  # it says which namespace is hers
    listing = kube.run(alice.key, "get", "jobs", namespace=bob.namespace)
    assert listing.returncode != 0 and "Forbidden" in listing.stderr

    here = kube.run(alice.key, "get", "job", theirs, namespace=alice.namespace)
    assert here.returncode != 0 and "Error from server (NotFound)" in here.stderr, here.stderr
    assert f'jobs.batch "{theirs}" not found' in here.stderr
    for namespace in (alice.namespace, bob.namespace):
        refused = kube.run(alice.key, "delete", "job", theirs, namespace=namespace)
        assert refused.returncode != 0
    assert kube.double.job(bob.namespace, theirs) is not None
    # Bob still sees and deletes his own.
    assert theirs in kube.run(bob.key, "get", "jobs", namespace=bob.namespace).stdout
    assert kube.run(bob.key, "delete", "job", theirs, namespace=bob.namespace).returncode == 0


def test_a_job_without_a_deadline_is_refused_before_the_cluster_sees_it(
    kube: Kube, database_url: str, tmp_path
) -> None:
    alice = customer(database_url)
    before = posts(kube)
    refused = create(kube, alice, job_yaml(tmp_path, _name("forever"), deadline=None))
    assert refused.returncode != 0
    assert "Error from server (BadRequest)" in refused.stderr and "unbounded_job" in refused.stderr, (
        refused.stderr
    )
    assert "activeDeadlineSeconds" in refused.stderr
    assert posts(kube) == before
    assert query(database_url, "select 1 from workloads where customer_id = $1", alice.id) == []


@pytest.mark.parametrize("namespace", ["default", "kube-system", None])
def test_a_namespace_that_is_not_the_customers_is_forbidden(
    kube: Kube, database_url: str, tmp_path, namespace: str | None
) -> None:
    alice = customer(database_url)
    before = posts(kube)
    manifest = job_yaml(tmp_path, _name("sneaky"))
    if namespace is None:  # no -n at all: kubectl's default namespace, "default"
        refused = kube.run(alice.key, "create", "-f", str(manifest))
    else:
        refused = create(kube, alice, manifest, namespace)
    assert refused.returncode != 0
    assert "Error from server (Forbidden)" in refused.stderr and alice.namespace in refused.stderr, (
        refused.stderr
    )
    assert posts(kube) == before


def test_a_namespace_with_a_suffix_is_the_customers_too(kube: Kube, database_url: str, tmp_path) -> None:
    alice = customer(database_url)
    namespace = f"{alice.namespace}-eval"
    name = _name("eval")
    made = create(kube, alice, job_yaml(tmp_path, name, gpus=1, parallelism=1, deadline=60), namespace)
    assert made.returncode == 0, made.stderr
    assert workload(database_url, f"{namespace}/{name}")["gpu_seconds_bound"] == 60
    assert kube.run(alice.key, "delete", "job", name, namespace=namespace).returncode == 0


def test_generate_name_takes_the_name_the_cluster_chose(kube: Kube, database_url: str, tmp_path) -> None:
    alice = customer(database_url)
    made = create(
        kube, alice, job_yaml(tmp_path, "sweep", gpus=2, parallelism=1, deadline=120, generate=True)
    )
    assert made.returncode == 0, made.stderr
    match = re.fullmatch(r"job\.batch/(sweep-[a-z0-9]{5}) created", made.stdout.strip())
    assert match, made.stdout
    row = workload(database_url, f"{alice.namespace}/{match[1]}")
    assert (row["state"], row["gpus"], row["gpu_seconds_bound"]) == ("queued", 2, 240)


def test_an_existing_name_is_a_conflict_and_its_reservation_is_released(
    kube: Kube, database_url: str, tmp_path
) -> None:
    alice = customer(database_url)
    name = _name("twice")
    assert create(kube, alice, job_yaml(tmp_path, name, gpus=1, parallelism=1, deadline=100)).returncode == 0
    again = create(kube, alice, job_yaml(tmp_path, name, gpus=1, parallelism=1, deadline=100))
    assert again.returncode != 0
    assert "Error from server (AlreadyExists)" in again.stderr and f'"{name}" already exists' in again.stderr
    rows = query(database_url, "select state, job_id from workloads where customer_id = $1", alice.id)
    assert sorted(r["state"] for r in rows) == ["queued", "rejected"]
    assert counters(database_url, alice.id)["gpu_seconds"]["reserved"] == 100  # the first job's only


def test_a_job_cannot_be_changed_once_created(kube: Kube, database_url: str, tmp_path) -> None:
    alice = customer(database_url)
    name = _name("fixed")
    assert create(kube, alice, job_yaml(tmp_path, name, gpus=1, parallelism=1, deadline=60)).returncode == 0
    for change in ('{"spec":{"suspend":true}}', '{"spec":{"parallelism":64}}'):
        patched = kube.run(alice.key, "patch", "job", name, "-p", change, namespace=alice.namespace)
        assert patched.returncode != 0
        assert "MethodNotAllowed" in patched.stderr and "activeDeadlineSeconds" in patched.stderr, (
            patched.stderr
        )
    assert kube.double.job(alice.namespace, name)["spec"]["parallelism"] == 1  # type: ignore[index]
    assert not any(r.method in ("PATCH", "PUT") for r in kube.double.requests)


def test_a_deleted_job_is_settled_for_the_time_it_can_have_run(
    kube: Kube, database_url: str, tmp_path
) -> None:
    alice = customer(database_url)
    name = _name("stopped")
    assert create(kube, alice, job_yaml(tmp_path, name, gpus=2, parallelism=1, deadline=3600)).returncode == 0
    job_id = f"{alice.namespace}/{name}"
    started = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=30)
    kube.double.mark_running(alice.namespace, name, started)
    until_state(database_url, job_id, "running")
    deleted = kube.run(alice.key, "delete", "job", name, namespace=alice.namespace)
    assert deleted.returncode == 0, deleted.stderr
    # kubectl asked for the pods to go with the Job.
    delete = next(r for r in kube.double.requests if r.method == "DELETE" and r.path.endswith(f"/{name}"))
    assert json.loads(delete.body)["propagationPolicy"] == "Background"
    ended = until_state(database_url, job_id, "ended")
    assert ended["native_state"] == "DELETED"
    assert 30 <= ended["run_seconds"] <= 30 + 30  # from its start until it was found gone
    assert ended["gpu_seconds_settled"] == 2 * ended["run_seconds"]
    assert counters(database_url, alice.id)["gpu_seconds"]["reserved"] == 0


def test_a_job_that_cannot_be_followed_does_not_hold_up_the_others(
    kube: Kube, database_url: str, tmp_path
) -> None:
    alice = customer(database_url)
    broken, fine = _name("broken"), _name("fine")
    for name in (broken, fine):
        assert (
            create(kube, alice, job_yaml(tmp_path, name, gpus=1, parallelism=1, deadline=60)).returncode == 0
        )
    kube.double.set_status(alice.namespace, broken, {"active": 1, "startTime": "yesterday"})
    started = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=20)
    kube.double.mark_complete(alice.namespace, fine, started, started + dt.timedelta(seconds=5))
    assert until_state(database_url, f"{alice.namespace}/{fine}", "ended")["run_seconds"] == 5
    assert workload(database_url, f"{alice.namespace}/{broken}")["state"] == "queued"
    deadline = time.monotonic() + 10
    while f"{alice.namespace}/{broken}" not in kube.gw.log():
        assert time.monotonic() < deadline, "the unreadable job was not logged"
        time.sleep(0.05)
    assert "cluster_job_follow_failed" in kube.gw.log()
    assert kube.run(alice.key, "delete", "job", broken, namespace=alice.namespace).returncode == 0
    assert until_state(database_url, f"{alice.namespace}/{broken}", "ended")["native_state"] == "DELETED"


def test_what_is_not_a_job_is_not_served(kube: Kube, database_url: str) -> None:
    alice = customer(database_url)
    for args in (("get", "pods"), ("get", "secrets"), ("get", "namespaces")):
        refused = kube.run(alice.key, *args, namespace=alice.namespace)
        assert refused.returncode != 0, args
        assert (
            "Error from server (NotFound)" in refused.stderr
            or "doesn't have a resource type" in refused.stderr
        )
    assert not any(part in r.path for r in kube.double.requests for part in ("/pods", "/secrets", "/nodes"))
    # Paths that climb out of a served one, as sent on the wire (no client normalises them here).
    for target in (
        "/clusters/kube/openapi/v3/../../api/v1/secrets",
        "/clusters/kube/openapi/v3/apis/batch/v1/%2e%2e/%2e%2e/%2e%2e/%2e%2e/api/v1/secrets",
        f"/clusters/kube/apis/batch/v1/namespaces/{alice.namespace}/jobs/..%2f..%2f..%2f..%2f..%2fapi%2fv1%2fsecrets",
        f"/clusters/kube/api/v1/namespaces/{alice.namespace}/../../../api/v1/secrets",
    ):
        status = raw_get(kube.gw.port, target, alice.key)
        assert status in (400, 404), (target, status)
    assert not any("secrets" in r.path for r in kube.double.requests)
    bad_key = kube.run("gk_" + "0" * 40, "get", "jobs", namespace=alice.namespace)
    assert bad_key.returncode != 0 and "You must be logged in to the server" in bad_key.stderr
    assert "invalid_api_key" in bad_key.stderr


def test_a_privileged_job_is_refused_with_the_field_named_before_the_cluster_sees_it(
    kube: Kube, database_url: str, tmp_path
) -> None:
    alice = customer(database_url)
    before = posts(kube)
    manifest = job_yaml(
        tmp_path,
        _name("root"),
        pod=["hostPID: true"],
        container=["securityContext:", "  privileged: true"],
    )
    refused = create(kube, alice, manifest)
    assert refused.returncode != 0
    assert "Error from server (Forbidden)" in refused.stderr, refused.stderr
    assert (
        "spec.template.spec.hostPID: sharing the host's process namespace is not allowed"
        ' (Pod Security Standard "baseline"); spec.template.spec.containers[0].securityContext.privileged:'
        ' privileged containers are not allowed (Pod Security Standard "baseline")'
        " (pod_security_violation; request id "
    ) in refused.stderr, refused.stderr
    assert posts(kube) == before  # the API server never saw it
    assert query(database_url, "select 1 from workloads where customer_id = $1", alice.id) == []
    assert counters(database_url, alice.id).get("gpu_seconds", {}).get("reserved", 0) == 0


RESTRICTED_CONTAINER = [
    "securityContext:",
    "  allowPrivilegeEscalation: false",
    "  runAsNonRoot: true",
    "  runAsUser: 1000",
    "  seccompProfile: {type: RuntimeDefault}",
    '  capabilities: {drop: ["ALL"]}',
]


def test_an_h100_asked_through_node_affinity_is_charged_as_an_h100(
    kube: Kube, database_url: str, tmp_path
) -> None:
    alice = customer(database_url)
    name = _name("affine")
    affinity = [
        "affinity:",
        "  nodeAffinity:",
        "    requiredDuringSchedulingIgnoredDuringExecution:",
        "      nodeSelectorTerms:",
        "      - matchExpressions:",
        "        - {key: nvidia.com/gpu.product, operator: In, values: [NVIDIA-H100-80GB-HBM3]}",
        "    preferredDuringSchedulingIgnoredDuringExecution:",  # a preference cannot lower the charge
        "    - weight: 100",
        "      preference:",
        "        matchExpressions:",
        "        - {key: nvidia.com/gpu.product, operator: In, values: [NVIDIA-A100-SXM4-80GB]}",
    ]
    manifest = job_yaml(
        tmp_path, name, gpus=2, parallelism=1, deadline=100, pod=affinity, container=RESTRICTED_CONTAINER
    )
    made = create(kube, alice, manifest, cluster="kube-lab")  # a cluster whose default is the A100
    assert made.returncode == 0, made.stderr
    row = workload(database_url, f"{alice.namespace}/{name}", cluster="kube-lab")
    assert (row["accelerator"], row["gpus"], row["gpu_seconds_bound"]) == ("h100", 2, 200)
    assert row["flop_bound"] == pytest.approx(2 * 100 * 989e12)
    sent = kube.double.job(alice.namespace, name)
    assert sent is not None and "affinity" in sent["spec"]["template"]["spec"]

    # Two models, one per term: refused, not charged as the default or the cheaper one.
    before = posts(kube)
    either = [
        *affinity[:6],
        "      - matchExpressions:",
        "        - {key: nvidia.com/gpu.product, operator: In, values: [NVIDIA-A100-SXM4-80GB]}",
    ]
    refused = create(
        kube,
        alice,
        job_yaml(tmp_path, _name("either"), pod=either, container=RESTRICTED_CONTAINER),
        cluster="kube-lab",
    )
    assert refused.returncode != 0 and "Error from server (BadRequest)" in refused.stderr, refused.stderr
    assert "more than one GPU model (a100, h100)" in refused.stderr and "unsupported_job" in refused.stderr
    assert posts(kube) == before


def test_a_restricted_cluster_refuses_a_job_the_baseline_allows(
    kube: Kube, database_url: str, tmp_path
) -> None:
    alice = customer(database_url)
    before = posts(kube)
    refused = create(kube, alice, job_yaml(tmp_path, _name("loose")), cluster="kube-lab")
    assert refused.returncode != 0 and "Error from server (Forbidden)" in refused.stderr, refused.stderr
    assert (
        "spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation: must be false"
        ' (it is not set) (Pod Security Standard "restricted")'
    ) in refused.stderr
    assert posts(kube) == before
