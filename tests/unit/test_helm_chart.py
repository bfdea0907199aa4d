"""deploy/helm/compute-kyc-gateway: rendered by Helm itself, every object validated against the
Kubernetes schemas of the oldest and newest versions the chart supports (kubernetes-validate, strict:
an unknown field is an error), and checked to carry the same settings as deploy/compose.yaml.

Helm comes from tests/helm_tool.py (`make test-tools` fetches it, checked by digest); without it these
tests are skipped, saying so."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from gateway.settings import load_settings
from tests.helm_tool import helm_path
from tests.unit.test_deploy import DEPLOY, SECRETS, interpolate

CHART = DEPLOY / "helm" / "compute-kyc-gateway"
KUBERNETES = ["1.27.0", "1.37.0"]  # Chart.yaml's kubeVersion floor, and the newest schemas we have
REQUIRED = {
    "secrets": {
        "GATEWAY_DATABASE_URL": "postgresql://gateway:pg-secret@pgbouncer:6432/gateway",
        "GATEWAY_KYC_KEYS": SECRETS["GATEWAY_KYC_KEYS"],
        "GATEWAY_AUDIT_KEYS": SECRETS["GATEWAY_AUDIT_KEYS"],
    }
}


def _helm() -> Path:
    found = helm_path()
    if found is None:
        pytest.skip(
            "no Helm: `make test-tools` (or `.venv/bin/python tests/helm_tool.py`) fetches it, or set GATEWAY_TEST_HELM"
        )
    return found


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(_helm()), *args], capture_output=True, text=True, timeout=60)


def render(tmp_path: Path, values: dict[str, Any], *extra: str) -> list[dict[str, Any]]:
    """`helm template` with these values: the objects it renders."""
    file = tmp_path / "values.yaml"
    file.write_text(yaml.safe_dump(values))
    done = helm("template", "gw", str(CHART), "--namespace", "compute", "-f", str(file), *extra)
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == kind]
    return found


def container(workload: dict[str, Any]) -> dict[str, Any]:
    (c,) = workload["spec"]["template"]["spec"]["containers"]
    return c


def test_helm_lints_the_chart_strictly() -> None:
    done = helm("lint", "--strict", str(CHART), *[f"--set={k}={v}" for k, v in _flat(REQUIRED)])
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("version", KUBERNETES)
@pytest.mark.parametrize("persistent", [False, True])
def test_every_object_is_valid_for_kubernetes(tmp_path: Path, version: str, persistent: bool) -> None:
    objects = render(tmp_path, {**REQUIRED, "persistence": {"enabled": persistent}})
    kinds = sorted(o["kind"] for o in objects)
    workload = "StatefulSet" if persistent else "Deployment"
    assert kinds == sorted(
        [
            "ConfigMap",
            workload,
            "HorizontalPodAutoscaler",
            "Job",
            "NetworkPolicy",
            "PodDisruptionBudget",
            "Secret",
            "Service",
            "ServiceAccount",
        ]
    )
    for obj in objects:
        kubernetes_validate.validate(obj, version, strict=True)


def test_the_validator_refuses_what_kubernetes_would(tmp_path: Path) -> None:
    """The check above can fail: a misspelt field in a rendered Deployment is refused."""
    deployment = one(render(tmp_path, REQUIRED), "Deployment")
    container(deployment)["readinesProbe"] = container(deployment).pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES[-1], strict=True)


def test_replicas_are_unprivileged_read_only_and_probed_on_the_ops_endpoints(tmp_path: Path) -> None:
    deployment = one(render(tmp_path, REQUIRED), "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    c = container(deployment)
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 10001
    assert c["securityContext"] == {
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }
    assert pod["automountServiceAccountToken"] is False
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    assert mounts == {"/etc/gateway": "config", "/var/lib/gateway": "state", "/tmp": "tmp"}
    # The grace period outlasts the gateway's own drain (shutdown_timeout_seconds, 30 s).
    assert pod["terminationGracePeriodSeconds"] > load_settings(None, environ={}).shutdown_timeout_seconds
    # The autoscaler owns the replica count; a rolling update never drops below it.
    assert "replicas" not in deployment["spec"]
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_autoscaler_disruption_budget_and_migration_job(tmp_path: Path) -> None:
    objects = render(tmp_path, {**REQUIRED, "persistence": {"enabled": True}})
    hpa = one(objects, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["kind"] == "StatefulSet"
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    assert hpa["spec"]["minReplicas"] >= 2
    pdb = one(objects, "PodDisruptionBudget")
    sts = one(objects, "StatefulSet")
    assert pdb["spec"]["selector"]["matchLabels"] == sts["spec"]["selector"]["matchLabels"]
    assert sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "state"
    job = one(objects, "Job")
    assert container(job)["args"][:2] == ["db", "migrate"]
    assert container(job)["envFrom"] == container(sts)["envFrom"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure"


def test_without_autoscaling_the_replica_count_is_the_values(tmp_path: Path) -> None:
    objects = render(tmp_path, {**REQUIRED, "autoscaling": {"enabled": False}, "replicaCount": 4})
    assert one(objects, "Deployment")["spec"]["replicas"] == 4
    assert not [o for o in objects if o["kind"] == "HorizontalPodAutoscaler"]


def test_the_network_policy_allows_dns_and_the_gateways_ports_but_not_the_metadata_address(
    tmp_path: Path,
) -> None:
    policy = one(render(tmp_path, REQUIRED), "NetworkPolicy")["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert policy["ingress"] == [{"ports": [{"protocol": "TCP", "port": 8080}]}]
    dns, rest = policy["egress"]
    assert {p["port"] for p in dns["ports"]} == {53} and "to" not in dns
    (block,) = [peer["ipBlock"] for peer in rest["to"] if "ipBlock" in peer]
    assert "169.254.169.254/32" in block["except"]
    assert {p["port"] for p in rest["ports"]} == {443, 5432, 6432}


def test_an_existing_secret_is_used_and_none_is_made(tmp_path: Path) -> None:
    objects = render(tmp_path, {"existingSecret": "gateway-from-vault"})
    assert not [o for o in objects if o["kind"] == "Secret"]
    assert container(one(objects, "Deployment"))["envFrom"] == [{"secretRef": {"name": "gateway-from-vault"}}]
    assert "checksum/secret" not in one(objects, "Deployment")["spec"]["template"]["metadata"]["annotations"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "secrets.GATEWAY_DATABASE_URL is required"),
        (
            {"secrets": {"GATEWAY_DATABASE_URL": "postgresql://x@y/z", "GATEWAY_AUDIT_KEYS": "1:x"}},
            "every replica must share the personal data's keys",
        ),
        (
            {"secrets": {"GATEWAY_DATABASE_URL": "postgresql://x@y/z", "GATEWAY_KYC_KEYS": "1:x"}},
            "every replica must sign the audit log with the same keys",
        ),
        ({**REQUIRED, "replicaCount": "two"}, "/replicaCount': got string, want integer"),
        (
            {**REQUIRED, "secrets": {"GATEWAY_DB_PASSWORD": "x"}},
            "additional properties 'GATEWAY_DB_PASSWORD'",
        ),
        ({**REQUIRED, "config": ""}, "/config"),
    ],
)
def test_bad_values_are_refused_with_a_clear_message(
    tmp_path: Path, values: dict[str, Any], message: str
) -> None:
    file = tmp_path / "values.yaml"
    file.write_text(yaml.safe_dump(values))
    done = helm("template", "gw", str(CHART), "-f", str(file))
    assert done.returncode != 0 and message in done.stderr, done.stderr


def test_compose_and_chart_carry_the_same_settings(tmp_path: Path) -> None:
    """The chart's default environment names what compose's replicas get, with the same plain values;
    given compose's secrets and config file, a pod loads exactly the settings a compose replica does."""
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    compose_env = {
        k: interpolate(str(v), SECRETS) for k, v in compose["services"]["gateway-1"]["environment"].items()
    }
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    gateway_names = {k for k in compose_env if k.startswith("GATEWAY_")}
    assert set(defaults["secrets"]) | set(defaults["env"]) == gateway_names
    for name, value in defaults["env"].items():
        if name != "GATEWAY_WEB_PUBLIC_URL":  # compose's has a default a provider overrides anyway
            assert compose_env[name] == value, name

    secret_names = set(defaults["secrets"])
    objects = render(
        tmp_path,
        {
            "secrets": {k: v for k, v in compose_env.items() if k in secret_names},
            "extraSecrets": {k: "sk-test" for k in compose_env if not k.startswith("GATEWAY_")},
            "env": {k: v for k, v in compose_env.items() if k in defaults["env"]},
        },
        "--set-file",
        f"config={DEPLOY / 'gateway.example.toml'}",
    )
    pod_env = {k: base64.b64decode(v).decode() for k, v in one(objects, "Secret").get("data", {}).items()}
    pod_env |= one(objects, "Secret").get("stringData", {})
    pod_env |= {e["name"]: e["value"] for e in container(one(objects, "Deployment"))["env"]}
    config = tmp_path / "gateway.toml"
    config.write_text(one(objects, "ConfigMap")["data"]["gateway.toml"])
    compose_env |= {k: "sk-test" for k in compose_env if not k.startswith("GATEWAY_")}
    assert load_settings(config, environ=pod_env) == load_settings(
        DEPLOY / "gateway.example.toml", environ=compose_env
    )
    assert pod_env == compose_env

    # The same process, user, port, state folder and health checks as compose's replicas and the image.
    gw = compose["services"]["gateway-1"]
    c = container(one(objects, "Deployment"))
    assert c["args"] == gw["command"]
    assert container(one(objects, "Job"))["args"] == compose["services"]["migrate"]["command"]
    uid, gid = (int(x) for x in gw["user"].split(":"))
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]["securityContext"]
    assert (pod["runAsUser"], pod["runAsGroup"]) == (uid, gid)
    assert c["securityContext"]["readOnlyRootFilesystem"] is gw["read_only"] is True
    assert c["ports"][0]["containerPort"] == int(gw["ports"][0].split(":")[1]) == 8080
    assert any(v.endswith(":/var/lib/gateway") for v in gw["volumes"])
    assert c["readinessProbe"]["httpGet"]["path"] in " ".join(gw["healthcheck"]["test"])


def _flat(values: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for k, v in values.items():
        if isinstance(v, dict):
            out += _flat(v, f"{prefix}{k}.")
        else:
            out.append((f"{prefix}{k}", str(v)))
    return out
