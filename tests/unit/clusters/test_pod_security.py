"""The Pod Security Standards, enforced on a Job's pod template before the cluster sees it.

Every rule of the "baseline" and "restricted" profiles, each with what it allows and what it refuses
(https://kubernetes.io/docs/concepts/security/pod-security-standards/, as k8s.io/pod-security-admission
implements them).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import msgspec
import pytest

from gateway.clusters.kubernetes import parse_job
from gateway.clusters.kubernetes.pod_security import (
    BASELINE_CAPABILITIES,
    RESTRICTED_VOLUME_TYPES,
    SAFE_SYSCTLS,
    SELINUX_TYPES,
    Violation,
    check_job,
    violations,
)
from gateway.errors import BadRequest, Forbidden
from gateway.settings import SettingsError, load_settings

P = "spec.template.spec"
C0 = f"{P}.containers[0]"
BASE = ' (Pod Security Standard "baseline")'
RESTR = ' (Pod Security Standard "restricted")'

# A GPU Job as most are written: nothing about security, which the baseline profile allows.
JOB: dict[str, Any] = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"name": "train"},
    "spec": {
        "activeDeadlineSeconds": 600,
        "template": {
            "metadata": {"labels": {"app": "train"}},
            "spec": {
                "restartPolicy": "Never",
                "containers": [
                    {
                        "name": "trainer",
                        "image": "registry.example.com/train:1.4",
                        "ports": [{"containerPort": 29500}],
                        "resources": {"limits": {"nvidia.com/gpu": "8"}},
                    }
                ],
                "volumes": [{"name": "scratch", "emptyDir": {}}],
            },
        },
    },
}

HARDENED = {
    "allowPrivilegeEscalation": False,
    "runAsNonRoot": True,
    "runAsUser": 1000,
    "seccompProfile": {"type": "RuntimeDefault"},
    "capabilities": {"drop": ["ALL"]},
}
"""A container security context the restricted profile allows."""


def job(
    *,
    pod: dict[str, Any] | None = None,
    container: dict[str, Any] | None = None,
    annotations: dict[str, str] | None = None,
    extra: dict[str, list[dict[str, Any]]] | None = None,
) -> bytes:
    """``JOB`` with pod spec keys set, the first container's keys set, template annotations, and
    more containers (``{"initContainers": [...]}``)."""
    out = copy.deepcopy(JOB)
    template = out["spec"]["template"]
    template["spec"].update(pod or {})
    template["spec"]["containers"][0].update(container or {})
    if annotations is not None:
        template["metadata"]["annotations"] = annotations
    for key, containers in (extra or {}).items():
        template["spec"][key] = containers
    return msgspec.json.encode(out)


def sc(**context: Any) -> dict[str, Any]:
    """The first container with this security context."""
    return {"securityContext": context}


def restricted_job(**changes: Any) -> bytes:
    """A Job the restricted profile allows, with the first container's security context changed."""
    return job(container=sc(**{**HARDENED, **changes}))


def texts(body: bytes, profile: str = "baseline") -> list[str]:
    return [str(v) for v in violations(body, profile)]  # type: ignore[arg-type]


def refused(body: bytes, profile: str = "baseline") -> Forbidden:
    with pytest.raises(Forbidden) as raised:
        check_job(body, profile)  # type: ignore[arg-type]
    return raised.value


# --- the defaults ---------------------------------------------------------------------------------


def test_a_plain_gpu_job_meets_the_baseline() -> None:
    assert violations(job(), "baseline") == []
    check_job(job(), "baseline")  # no exception


def test_a_hardened_job_meets_the_restricted_profile() -> None:
    assert violations(restricted_job(), "restricted") == []


def test_a_violation_names_the_field_the_rule_and_the_profile() -> None:
    err = refused(job(container=sc(privileged=True)))
    assert (err.status, err.code, err.type) == (403, "pod_security_violation", "permission_error")
    assert err.message == (
        f"{C0}.securityContext.privileged: privileged containers are not allowed"
        ' (Pod Security Standard "baseline")'
    )
    assert violations(job(container=sc(privileged=True)), "baseline") == [
        Violation(f"{C0}.securityContext.privileged", "privileged containers are not allowed", "baseline")
    ]


def test_every_violation_is_reported_in_a_fixed_order() -> None:
    body = job(
        pod={"hostPID": True, "hostNetwork": True},
        container=sc(privileged=True, capabilities={"add": ["SYS_ADMIN"]}),
        extra={"initContainers": [{"name": "init", "image": "busybox", **sc(privileged=True)}]},
    )
    expected = [
        f"{P}.hostNetwork: sharing the host's network namespace is not allowed{BASE}",
        f"{P}.hostPID: sharing the host's process namespace is not allowed{BASE}",
        f"{C0}.securityContext.privileged: privileged containers are not allowed{BASE}",
        f"{C0}.securityContext.capabilities.add[0]: capability 'SYS_ADMIN' is not allowed; only the "
        "container runtime's defaults may be added (AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID, "
        f"KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT){BASE}",
        f"{P}.initContainers[0].securityContext.privileged: privileged containers are not allowed{BASE}",
    ]
    assert texts(body) == expected
    assert refused(body).message == "; ".join(expected)
    assert texts(body) == texts(body)  # deterministic


def test_a_long_list_of_violations_is_cut_short() -> None:
    many = [{"name": f"c{i}", "image": "busybox", **sc(privileged=True)} for i in range(30)]
    message = refused(job(extra={"containers": many})).message
    assert message.count("privileged containers are not allowed") == 10
    assert message.endswith("; and 20 more violations")


# --- baseline: host namespaces, HostProcess, privileged -------------------------------------------


@pytest.mark.parametrize(
    ("field", "what"),
    [("hostNetwork", "network"), ("hostPID", "process"), ("hostIPC", "IPC")],
)
def test_host_namespaces(field: str, what: str) -> None:
    assert texts(job(pod={field: True})) == [
        f"{P}.{field}: sharing the host's {what} namespace is not allowed{BASE}"
    ]
    assert texts(job(pod={field: False})) == []
    assert texts(job(pod={field: None})) == []


def test_windows_host_process() -> None:
    pod = {"securityContext": {"windowsOptions": {"hostProcess": True}}}
    assert texts(job(pod=pod)) == [
        f"{P}.securityContext.windowsOptions.hostProcess: Windows HostProcess containers are not allowed"
        f"{BASE}"
    ]
    assert texts(job(container=sc(windowsOptions={"hostProcess": True}))) == [
        f"{C0}.securityContext.windowsOptions.hostProcess: Windows HostProcess containers are not allowed"
        f"{BASE}"
    ]
    assert texts(job(container=sc(windowsOptions={"hostProcess": False}))) == []
    assert texts(job(container=sc(windowsOptions={"gmsaCredentialSpecName": "x"}))) == []


@pytest.mark.parametrize("kind", ["containers", "initContainers", "ephemeralContainers"])
def test_privileged_in_every_kind_of_container(kind: str) -> None:
    bad = {"name": "x", "image": "busybox", **sc(privileged=True)}
    containers = [*JOB["spec"]["template"]["spec"]["containers"], bad] if kind == "containers" else [bad]
    index = 1 if kind == "containers" else 0
    assert texts(job(extra={kind: containers})) == [
        f"{P}.{kind}[{index}].securityContext.privileged: privileged containers are not allowed{BASE}"
    ]
    fine = {"name": "x", "image": "busybox", **sc(privileged=False)}
    assert texts(job(extra={kind: [fine]})) == []


# --- baseline: capabilities -----------------------------------------------------------------------


def test_the_baseline_capabilities_are_the_container_runtimes_defaults() -> None:
    assert sorted(BASELINE_CAPABILITIES) == [
        "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
        "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
    ]  # fmt: skip
    assert texts(job(container=sc(capabilities={"add": sorted(BASELINE_CAPABILITIES)}))) == []
    assert texts(job(container=sc(capabilities={"drop": ["ALL"], "add": None}))) == []


@pytest.mark.parametrize(
    "capability", ["SYS_ADMIN", "NET_RAW", "NET_ADMIN", "SYS_PTRACE", "BPF", "CAP_SYS_ADMIN", "chown", "ALL"]
)
def test_capabilities_beyond_the_defaults_are_refused(capability: str) -> None:
    (text,) = texts(job(container=sc(capabilities={"add": ["CHOWN", capability]})))
    assert text.startswith(
        f"{C0}.securityContext.capabilities.add[1]: capability '{capability}' is not allowed"
    )


# --- baseline: volumes and ports ------------------------------------------------------------------


def test_host_path_volumes() -> None:
    volumes = [{"name": "scratch", "emptyDir": {}}, {"name": "root", "hostPath": {"path": "/"}}]
    assert texts(job(pod={"volumes": volumes})) == [
        f"{P}.volumes[1].hostPath: hostPath volumes are not allowed (volume 'root'){BASE}"
    ]
    assert texts(job(pod={"volumes": [{"name": "n", "hostPath": None, "emptyDir": {}}]})) == []
    # Other volume types are the restricted profile's business.
    assert texts(job(pod={"volumes": [{"name": "n", "nfs": {"server": "nfs", "path": "/"}}]})) == []


def test_host_ports() -> None:
    ports = [{"containerPort": 80}, {"containerPort": 8080, "hostPort": 8080}]
    assert texts(job(container={"ports": ports})) == [
        f"{C0}.ports[1].hostPort: host ports are not allowed (got 8080){BASE}"
    ]
    assert texts(job(container={"ports": [{"containerPort": 80, "hostPort": 0}]})) == []


@pytest.mark.parametrize(
    "where",
    [
        ("livenessProbe", "httpGet"),
        ("readinessProbe", "tcpSocket"),
        ("startupProbe", "httpGet"),
        ("lifecycle", "postStart", "httpGet"),
        ("lifecycle", "preStop", "tcpSocket"),
    ],
)
def test_probes_and_lifecycle_handlers_must_not_name_a_host(where: tuple[str, ...]) -> None:
    def nested(host: str) -> dict[str, Any]:
        value: dict[str, Any] = {"port": 8080, "host": host}
        for key in reversed(where):
            value = {key: value}
        return value

    assert texts(job(container=nested("169.254.169.254"))) == [
        f"{C0}.{'.'.join(where)}.host: probes and lifecycle handlers must not name a host"
        f" (got '169.254.169.254'){BASE}"
    ]
    assert texts(job(container=nested(""))) == []


# --- baseline: AppArmor, SELinux, /proc, seccomp, sysctls -----------------------------------------


@pytest.mark.parametrize(
    ("value", "allowed"),
    [("runtime/default", True), ("localhost/gpu-train", True), ("", True), ("unconfined", False),
     ("docker-default", False)],
)  # fmt: skip
def test_apparmor_annotations(value: str, allowed: bool) -> None:
    key = "container.apparmor.security.beta.kubernetes.io/trainer"
    got = texts(job(annotations={key: value, "team": "a"}))
    if allowed:
        assert got == []
    else:
        assert got == [
            f"spec.template.metadata.annotations['{key}']: AppArmor profile {value!r} is not allowed;"
            f" use 'runtime/default' or 'localhost/<profile>'{BASE}"
        ]


@pytest.mark.parametrize(
    ("kind", "allowed"), [("RuntimeDefault", True), ("Localhost", True), ("Unconfined", False)]
)
def test_apparmor_profiles(kind: str, allowed: bool) -> None:
    profile = {"type": kind, "localhostProfile": "gpu"} if kind == "Localhost" else {"type": kind}
    for body, path in (
        (job(pod={"securityContext": {"appArmorProfile": profile}}), f"{P}.securityContext"),
        (job(container=sc(appArmorProfile=profile)), f"{C0}.securityContext"),
    ):
        expected = [
            f"{path}.appArmorProfile.type: AppArmor profile type {kind!r} is not allowed;"
            f" use RuntimeDefault or Localhost{BASE}"
        ]
        assert texts(body) == ([] if allowed else expected)


def test_selinux() -> None:
    assert sorted(SELINUX_TYPES) == [
        "container_engine_t",
        "container_init_t",
        "container_kvm_t",
        "container_t",
    ]
    for kind in (*SELINUX_TYPES, "", None):
        assert texts(job(container=sc(seLinuxOptions={"type": kind, "level": "s0:c123,c456"}))) == []
    assert texts(job(pod={"securityContext": {"seLinuxOptions": {"type": "spc_t"}}})) == [
        f"{P}.securityContext.seLinuxOptions.type: SELinux type 'spc_t' is not allowed (allowed:"
        f" container_t, container_init_t, container_kvm_t, container_engine_t){BASE}"
    ]
    assert texts(job(container=sc(seLinuxOptions={"user": "system_u", "role": "system_r"}))) == [
        f"{C0}.securityContext.seLinuxOptions.user: a custom SELinux user is not allowed{BASE}",
        f"{C0}.securityContext.seLinuxOptions.role: a custom SELinux role is not allowed{BASE}",
    ]
    assert texts(job(container=sc(seLinuxOptions={"user": "", "role": ""}))) == []


def test_proc_mount() -> None:
    assert texts(job(container=sc(procMount="Default"))) == []
    assert texts(job(container=sc(procMount="Unmasked"))) == [
        f"{C0}.securityContext.procMount: procMount 'Unmasked' is not allowed; only Default{BASE}"
    ]
    # No relaxation for user-namespaced pods: the gateway cannot know that the cluster honours hostUsers.
    assert len(texts(job(pod={"hostUsers": False}, container=sc(procMount="Unmasked")))) == 1


@pytest.mark.parametrize(
    ("kind", "allowed"), [("RuntimeDefault", True), ("Localhost", True), ("Unconfined", False)]
)
def test_seccomp_profiles(kind: str, allowed: bool) -> None:
    profile = {"type": kind}
    for body, path in (
        (job(pod={"securityContext": {"seccompProfile": profile}}), f"{P}.securityContext"),
        (job(extra={"initContainers": [{"name": "i", **sc(seccompProfile=profile)}]}),
         f"{P}.initContainers[0].securityContext"),
    ):  # fmt: skip
        expected = [
            f"{path}.seccompProfile.type: seccomp profile type {kind!r} is not allowed;"
            f" use RuntimeDefault or Localhost{BASE}"
        ]
        assert texts(body) == ([] if allowed else expected)


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("seccomp.security.alpha.kubernetes.io/pod", "runtime/default", True),
        ("seccomp.security.alpha.kubernetes.io/pod", "docker/default", True),
        ("container.seccomp.security.alpha.kubernetes.io/trainer", "localhost/profile.json", True),
        ("seccomp.security.alpha.kubernetes.io/pod", "unconfined", False),
        ("container.seccomp.security.alpha.kubernetes.io/trainer", "unconfined", False),
    ],
)
def test_seccomp_annotations(key: str, value: str, allowed: bool) -> None:
    # Deprecated, but API servers before 1.27 turned them into the pod's seccompProfile.
    got = texts(job(annotations={key: value}))
    if allowed:
        assert got == []
    else:
        assert got == [
            f"spec.template.metadata.annotations['{key}']: seccomp profile 'unconfined' is not allowed;"
            f" use 'runtime/default' or 'localhost/<profile>'{BASE}"
        ]


def test_sysctls() -> None:
    assert {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
            "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start",
            "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
            "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_rmem",
            "net.ipv4.tcp_wmem"} == SAFE_SYSCTLS  # fmt: skip
    safe = [{"name": name, "value": "1"} for name in sorted(SAFE_SYSCTLS)]
    assert texts(job(pod={"securityContext": {"sysctls": safe}})) == []
    unsafe = [{"name": "net.ipv4.tcp_syncookies", "value": "1"}, {"name": "kernel.msgmax", "value": "1"}]
    (text,) = texts(job(pod={"securityContext": {"sysctls": unsafe}}))
    assert text.startswith(
        f"{P}.securityContext.sysctls[1].name: sysctl 'kernel.msgmax' is not in the safe set"
    ), text


# --- restricted -----------------------------------------------------------------------------------


def test_a_baseline_job_is_told_everything_restricted_wants() -> None:
    assert texts(job(), "restricted") == [
        f"{C0}.securityContext.allowPrivilegeEscalation: must be false (it is not set){RESTR}",
        f"{C0}.securityContext.runAsNonRoot: must be true, here or in {P}.securityContext{RESTR}",
        f"{C0}.securityContext.seccompProfile.type: must be RuntimeDefault or Localhost, here or in"
        f" {P}.securityContext{RESTR}",
        f"{C0}.securityContext.capabilities.drop: must include 'ALL'{RESTR}",
    ]


def test_restricted_includes_the_baseline() -> None:
    assert texts(restricted_job(privileged=True), "restricted") == [
        f"{C0}.securityContext.privileged: privileged containers are not allowed{BASE}"
    ]


@pytest.mark.parametrize("volume", sorted(RESTRICTED_VOLUME_TYPES))
def test_restricted_volume_types_allowed(volume: str) -> None:
    body = job(container=sc(**HARDENED), pod={"volumes": [{"name": "v", volume: {}}]})
    assert texts(body, "restricted") == []


@pytest.mark.parametrize(
    "volume", ["nfs", "iscsi", "gitRepo", "awsElasticBlockStore", "cephfs", "image", "x"]
)
def test_restricted_volume_types_refused(volume: str) -> None:
    body = job(container=sc(**HARDENED), pod={"volumes": [{"name": "v", volume: {}, "emptyDir": None}]})
    assert texts(body, "restricted") == [
        f"{P}.volumes[0].{volume}: volume type {volume!r} is not allowed (volume 'v'; allowed: configMap,"
        f" csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, projected, secret){RESTR}"
    ]
    assert texts(body, "baseline") == []


def test_restricted_reports_a_host_path_volume_once() -> None:
    body = job(container=sc(**HARDENED), pod={"volumes": [{"name": "v", "hostPath": {"path": "/"}}]})
    assert texts(body, "restricted") == [
        f"{P}.volumes[0].hostPath: hostPath volumes are not allowed (volume 'v'){BASE}"
    ]


@pytest.mark.parametrize(("value", "got"), [(True, "got true"), (None, "it is not set")])
def test_privilege_escalation(value: bool | None, got: str) -> None:
    assert texts(restricted_job(allowPrivilegeEscalation=value), "restricted") == [
        f"{C0}.securityContext.allowPrivilegeEscalation: must be false ({got}){RESTR}"
    ]


@pytest.mark.parametrize(
    ("pod", "container", "paths"),
    [
        (True, None, []),
        (None, True, []),
        (True, True, []),
        (False, True, [f"{P}.securityContext.runAsNonRoot"]),
        (True, False, [f"{C0}.securityContext.runAsNonRoot"]),
        (None, None, [f"{C0}.securityContext.runAsNonRoot"]),
        (False, None, [f"{P}.securityContext.runAsNonRoot", f"{C0}.securityContext.runAsNonRoot"]),
    ],
)
def test_run_as_non_root_on_the_pod_or_every_container(
    pod: bool | None, container: bool | None, paths: list[str]
) -> None:
    body = job(
        pod={"securityContext": {"runAsNonRoot": pod}},
        container=sc(**{**HARDENED, "runAsNonRoot": container}),
    )
    assert [t.split(":")[0] for t in texts(body, "restricted")] == paths


def test_run_as_non_root_covers_init_containers_too() -> None:
    init = {"name": "fetch", "image": "busybox", "securityContext": {**HARDENED, "runAsNonRoot": None}}
    body = job(container=sc(**HARDENED), extra={"initContainers": [init]})
    assert texts(body, "restricted") == [
        f"{P}.initContainers[0].securityContext.runAsNonRoot: must be true, here or in"
        f" {P}.securityContext{RESTR}"
    ]


def test_run_as_user_zero() -> None:
    body = job(pod={"securityContext": {"runAsUser": 0}}, container=sc(**{**HARDENED, "runAsUser": 0}))
    assert texts(body, "restricted") == [
        f"{P}.securityContext.runAsUser: running as root (user 0) is not allowed{RESTR}",
        f"{C0}.securityContext.runAsUser: running as root (user 0) is not allowed{RESTR}",
    ]
    assert texts(body, "baseline") == []
    assert texts(restricted_job(runAsUser=None), "restricted") == []


@pytest.mark.parametrize(
    ("pod", "container", "refused"),
    [
        ({"type": "RuntimeDefault"}, None, False),
        ({"type": "Localhost", "localhostProfile": "p.json"}, None, False),
        (None, {"type": "Localhost", "localhostProfile": "p.json"}, False),
        (None, None, True),
    ],
)
def test_seccomp_must_be_set_on_the_pod_or_every_container(
    pod: dict[str, str] | None, container: dict[str, str] | None, refused: bool
) -> None:
    body = job(
        pod={"securityContext": {"seccompProfile": pod}},
        container=sc(**{**HARDENED, "seccompProfile": container}),
    )
    assert texts(body, "restricted") == (
        [
            f"{C0}.securityContext.seccompProfile.type: must be RuntimeDefault or Localhost, here or in"
            f" {P}.securityContext{RESTR}"
        ]
        if refused
        else []
    )


def test_restricted_capabilities() -> None:
    assert (
        texts(restricted_job(capabilities={"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}), "restricted") == []
    )
    assert texts(restricted_job(capabilities={"drop": ["ALL"], "add": ["CHOWN"]}), "restricted") == [
        f"{C0}.securityContext.capabilities.add[0]: only NET_BIND_SERVICE may be added (got 'CHOWN'){RESTR}"
    ]
    assert texts(restricted_job(capabilities={"drop": ["NET_RAW", "all"]}), "restricted") == [
        f"{C0}.securityContext.capabilities.drop: must include 'ALL'{RESTR}"
    ]
    # A capability beyond the defaults is the baseline's violation, reported once.
    assert texts(restricted_job(capabilities={"drop": ["ALL"], "add": ["SYS_ADMIN"]}), "restricted") == [
        f"{C0}.securityContext.capabilities.add[0]: capability 'SYS_ADMIN' is not allowed; only the"
        " container runtime's defaults may be added (AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID,"
        f" KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT){BASE}"
    ]


# --- reading the template -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (job(container=sc(privileged="true")), f"{C0}.securityContext.privileged: expected `bool | null`"),
        (job(pod={"hostPID": 1}), f"{P}.hostPID: expected `bool | null`, got `int`"),
        (job(container=sc(capabilities={"add": "SYS_ADMIN"})), f"{C0}.securityContext.capabilities.add"),
        (job(pod={"volumes": ["hostPath"]}), f"{P}.volumes[0]: expected `object`"),
        (job(annotations={"a": 1}), "spec.template.metadata.annotations[...]: expected `str`"),  # type: ignore[dict-item]
    ],
)
def test_a_field_of_the_wrong_type_is_an_invalid_job_not_a_pass(body: bytes, message: str) -> None:
    with pytest.raises(BadRequest) as raised:
        check_job(body, "baseline")
    assert raised.value.code == "invalid_job"
    assert raised.value.message.startswith(message), raised.value.message


def test_a_duplicated_key_is_read_as_the_cluster_reads_it() -> None:
    # JSON with a key twice: the last one wins, in msgspec as in the API server's decoder.
    raw = job().replace(
        b'"name":"trainer"', b'"securityContext":{"privileged":false,"privileged":true},"name":"trainer"'
    )
    assert texts(raw) == [f"{C0}.securityContext.privileged: privileged containers are not allowed{BASE}"]


# --- through parse_job, and the setting -----------------------------------------------------------


def test_parse_job_enforces_the_profile_it_is_given() -> None:
    with pytest.raises(Forbidden) as raised:
        parse_job(job(pod={"hostNetwork": True}))  # baseline unless told otherwise
    assert raised.value.code == "pod_security_violation"
    assert parse_job(job()).gpus == 8
    with pytest.raises(Forbidden):
        parse_job(job(), pod_security="restricted")
    assert parse_job(restricted_job(), pod_security="restricted").gpus == 8


def test_pod_security_is_a_cluster_setting(tmp_path: Path) -> None:
    cluster = """
[[clusters]]
name = "kube"
kind = "kubernetes"
base_url = "https://kube.example:6443"
region = "US"
"""
    path = tmp_path / "gateway.toml"
    path.write_text(cluster)
    assert load_settings(path, environ={}).clusters[0].pod_security == "baseline"
    path.write_text(cluster + 'pod_security = "restricted"\n')
    assert load_settings(path, environ={}).clusters[0].pod_security == "restricted"
    path.write_text(cluster + 'pod_security = "privileged"\n')
    with pytest.raises(SettingsError, match="pod_security"):
        load_settings(path, environ={})
