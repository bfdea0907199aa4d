"""The Kubernetes Pod Security Standards, checked on a Job's pod template before it is forwarded.

Pure functions, no I/O. The cluster's own Pod Security admission enforces on the pods the Job
controller creates, long after the gateway has answered and reserved compute, and only if the
operator labelled the namespace; for the Job itself it merely warns. So the gateway enforces the
profile of the cluster's ``pod_security`` setting on ``spec.template`` itself, and refuses the Job
with 403 ``pod_security_violation`` naming every field that breaks it.

The rules are those of https://kubernetes.io/docs/concepts/security/pod-security-standards/ as
``k8s.io/pod-security-admission`` implements them for the latest Kubernetes release (v1.36), with
two deliberate differences, both stricter:

* no relaxation for pods in a user namespace (``hostUsers: false`` lets admission accept
  ``procMount: Unmasked``, ``runAsNonRoot: false`` and ``runAsUser: 0``): the gateway cannot know
  that the cluster's nodes honour ``hostUsers``, and where they do not, those pods run as root on
  the node;
* no exemption for Windows pods (``spec.os.name: windows``) from the restricted profile's
  ``allowPrivilegeEscalation``, seccomp and capability rules: GPU jobs run on Linux nodes.

The deprecated seccomp annotations are checked too (admission has ignored them since 1.19, but
API servers up to 1.26 copied them into the pod's ``seccompProfile``).

Bodies are read with the same decoder, and so the same last-key-wins reading of a duplicated
key, as the body the gateway forwards (:func:`~gateway.clusters.kubernetes.with_label`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import msgspec

from ...errors import Forbidden
from ..workload import decode_job

__all__ = [
    "BASELINE_CAPABILITIES",
    "POD_SECURITY_VIOLATION",
    "RESTRICTED_VOLUME_TYPES",
    "SAFE_SYSCTLS",
    "SELINUX_TYPES",
    "Profile",
    "Violation",
    "check_job",
    "violations",
]

Profile = Literal["baseline", "restricted"]
POD_SECURITY_VIOLATION = "pod_security_violation"
MAX_REPORTED = 10
"""Violations spelled out in one refusal; a pod with a hundred bad containers gets a count."""

BASELINE_CAPABILITIES = frozenset(
    ("AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
     "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT")
)  # fmt: skip
"""What container runtimes grant by default: adding these changes nothing, anything else (``NET_RAW``,
``SYS_ADMIN``, ...) does. Compared exactly, as admission does: ``CAP_SYS_ADMIN`` or ``chown`` are refused."""
SELINUX_TYPES = ("container_t", "container_init_t", "container_kvm_t", "container_engine_t")
"""SELinux types a container may ask for (besides none); ``container_engine_t`` since 1.31."""
SAFE_SYSCTLS = frozenset(
    (
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.ip_local_reserved_ports",  # 1.27
        "net.ipv4.tcp_keepalive_time",  # 1.29
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
        "net.ipv4.tcp_rmem",  # 1.32
        "net.ipv4.tcp_wmem",
    )
)
"""Sysctls namespaced to the pod, so isolated from the node and other pods. A kubelet older than the
release that declared one safe refuses the pod itself: allowing it here opens nothing."""
RESTRICTED_VOLUME_TYPES = (
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected",
    "secret",
)  # fmt: skip
"""The restricted profile's inline volume sources: anything else (``nfs``, ``iscsi``, ``gitRepo``, a
type newer than this list, ...) mounts storage outside what the cluster's PersistentVolumes govern."""

_APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"
_SECCOMP_POD_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"
_SECCOMP_ANNOTATION = "container.seccomp.security.alpha.kubernetes.io/"
_PROFILE_TYPES = ("RuntimeDefault", "Localhost")
_ANNOTATION_HINT = "use 'runtime/default' or 'localhost/<profile>'"

_Report = Callable[[str, str], None]
"""Records a violation: ``(path, reason)``."""


class Violation(msgspec.Struct, frozen=True):
    """One field of the pod template that breaks a rule of ``level``."""

    path: str
    """As the API server's own errors name fields: ``spec.template.spec.containers[0].securityContext``."""
    reason: str
    level: Profile
    """The profile the rule belongs to (a restricted cluster also enforces every baseline rule)."""

    def __str__(self) -> str:
        return f'{self.path}: {self.reason} (Pod Security Standard "{self.level}")'


# --- the fields the rules read (msgspec ignores the rest) -----------------------------------------


class _Profile(msgspec.Struct, rename="camel"):
    type: str | None = None
    localhost_profile: str | None = None


class _SELinux(msgspec.Struct):
    user: str | None = None
    role: str | None = None
    type: str | None = None
    level: str | None = None


class _Windows(msgspec.Struct, rename="camel"):
    host_process: bool | None = None


class _Capabilities(msgspec.Struct):
    add: list[str] | None = None
    drop: list[str] | None = None


class _Sysctl(msgspec.Struct):
    name: str
    value: str | None = None


class _PodSecurityContext(msgspec.Struct, rename="camel"):
    windows_options: _Windows | None = None
    se_linux_options: _SELinux | None = None
    seccomp_profile: _Profile | None = None
    app_armor_profile: _Profile | None = None
    run_as_non_root: bool | None = None
    run_as_user: int | None = None
    sysctls: list[_Sysctl] | None = None


class _SecurityContext(msgspec.Struct, rename="camel"):
    privileged: bool | None = None
    allow_privilege_escalation: bool | None = None
    capabilities: _Capabilities | None = None
    windows_options: _Windows | None = None
    se_linux_options: _SELinux | None = None
    seccomp_profile: _Profile | None = None
    app_armor_profile: _Profile | None = None
    proc_mount: str | None = None
    run_as_non_root: bool | None = None
    run_as_user: int | None = None


class _Port(msgspec.Struct, rename="camel"):
    host_port: int | None = None


class _Endpoint(msgspec.Struct):
    host: str | None = None


class _Handler(msgspec.Struct, rename="camel"):
    """A probe or a lifecycle handler: either may reach out to a host other than the pod's own."""

    http_get: _Endpoint | None = None
    tcp_socket: _Endpoint | None = None


class _Lifecycle(msgspec.Struct, rename="camel"):
    post_start: _Handler | None = None
    pre_stop: _Handler | None = None


class _Container(msgspec.Struct, rename="camel"):
    security_context: _SecurityContext | None = None
    ports: list[_Port] | None = None
    liveness_probe: _Handler | None = None
    readiness_probe: _Handler | None = None
    startup_probe: _Handler | None = None
    lifecycle: _Lifecycle | None = None


class _PodSpec(msgspec.Struct, rename="camel"):
    host_network: bool | None = None
    host_pid: bool | None = msgspec.field(default=None, name="hostPID")
    host_ipc: bool | None = msgspec.field(default=None, name="hostIPC")
    security_context: _PodSecurityContext | None = None
    volumes: list[dict[str, Any]] | None = None
    """Kept as objects: a volume's type is whichever source key it has, and the restricted profile
    refuses every type not on its list, including ones newer than this module."""
    containers: list[_Container] | None = None
    init_containers: list[_Container] | None = None
    ephemeral_containers: list[_Container] | None = None


class _TemplateMetadata(msgspec.Struct):
    annotations: dict[str, str] | None = None


class _Template(msgspec.Struct):
    metadata: _TemplateMetadata | None = None
    spec: _PodSpec | None = None


class _JobSpec(msgspec.Struct):
    template: _Template | None = None


class _Job(msgspec.Struct):
    spec: _JobSpec | None = None


# --- the check ------------------------------------------------------------------------------------


def check_job(body: bytes, profile: Profile) -> None:
    """Refuse the Job ``body`` with 403 ``pod_security_violation`` if its pod template breaks ``profile``.

    The message lists the violations (at most :data:`MAX_REPORTED`, then a count), in the order of
    :func:`violations`, joined by ``"; "``. A field of the wrong type is 400 ``invalid_job``.
    """
    found = violations(body, profile)
    if not found:
        return
    shown = [str(v) for v in found[:MAX_REPORTED]]
    if len(found) > MAX_REPORTED:
        shown.append(f"and {len(found) - MAX_REPORTED} more violations")
    raise Forbidden("; ".join(shown), code=POD_SECURITY_VIOLATION)


def violations(body: bytes, profile: Profile) -> list[Violation]:
    """Every violation of ``profile`` in the Job ``body``'s ``spec.template``, in a fixed order.

    The pod's own fields first (host namespaces, its security context, sysctls), then the
    template's annotations (sorted), the volumes, and each container: ``containers``, then
    ``initContainers``, then ``ephemeralContainers``, in order.
    """
    job = decode_job(body, _Job)
    template = (job.spec or _JobSpec()).template or _Template()
    pod = template.spec or _PodSpec()
    annotations = (template.metadata or _TemplateMetadata()).annotations or {}
    restricted = profile == "restricted"
    out: list[Violation] = []

    def baseline(path: str, reason: str) -> None:
        out.append(Violation(path, reason, "baseline"))

    def strict(path: str, reason: str) -> None:
        if restricted:
            out.append(Violation(path, reason, "restricted"))

    spec = "spec.template.spec"
    for flag, field, what in (
        (pod.host_network, "hostNetwork", "network"),
        (pod.host_pid, "hostPID", "process"),
        (pod.host_ipc, "hostIPC", "IPC"),
    ):
        if flag:
            baseline(f"{spec}.{field}", f"sharing the host's {what} namespace is not allowed")

    pod_context = pod.security_context or _PodSecurityContext()
    at = f"{spec}.securityContext"
    _shared_context(at, pod_context, baseline, strict)
    if pod_context.run_as_non_root is False:
        strict(f"{at}.runAsNonRoot", "must not be false")
    for i, sysctl in enumerate(pod_context.sysctls or ()):
        if sysctl.name not in SAFE_SYSCTLS:
            baseline(
                f"{at}.sysctls[{i}].name",
                f"sysctl {sysctl.name!r} is not in the safe set ({', '.join(sorted(SAFE_SYSCTLS))})",
            )

    for key in sorted(annotations):
        value = annotations[key]
        where = f"spec.template.metadata.annotations[{key!r}]"
        if key.startswith(_APPARMOR_ANNOTATION) and not _apparmor_annotation_allowed(value):
            baseline(where, f"AppArmor profile {value!r} is not allowed; {_ANNOTATION_HINT}")
        if (key == _SECCOMP_POD_ANNOTATION or key.startswith(_SECCOMP_ANNOTATION)) and not (
            _seccomp_annotation_allowed(value)
        ):
            baseline(where, f"seccomp profile {value!r} is not allowed; {_ANNOTATION_HINT}")

    for i, volume in enumerate(pod.volumes or ()):
        _volume(f"{spec}.volumes[{i}]", volume, baseline, strict)

    # The restricted profile's "pod or every container" rules: a container that does not say is
    # covered only by a valid pod-level value.
    pod_non_root = pod_context.run_as_non_root is True
    pod_seccomp = (
        pod_context.seccomp_profile is not None and pod_context.seccomp_profile.type in _PROFILE_TYPES
    )
    for kind, containers in (
        ("containers", pod.containers),
        ("initContainers", pod.init_containers),
        ("ephemeralContainers", pod.ephemeral_containers),
    ):
        for i, container in enumerate(containers or ()):
            _container(f"{spec}.{kind}[{i}]", container, pod_non_root, pod_seccomp, baseline, strict)
    return out


def _shared_context(
    path: str, context: _PodSecurityContext | _SecurityContext, baseline: _Report, strict: _Report
) -> None:
    """The rules a pod's and a container's security context share."""
    windows = context.windows_options
    if windows is not None and windows.host_process:
        baseline(f"{path}.windowsOptions.hostProcess", "Windows HostProcess containers are not allowed")
    selinux = context.se_linux_options
    if selinux is not None:
        if selinux.type and selinux.type not in SELINUX_TYPES:
            baseline(
                f"{path}.seLinuxOptions.type",
                f"SELinux type {selinux.type!r} is not allowed (allowed: {', '.join(SELINUX_TYPES)})",
            )
        if selinux.user:
            baseline(f"{path}.seLinuxOptions.user", "a custom SELinux user is not allowed")
        if selinux.role:
            baseline(f"{path}.seLinuxOptions.role", "a custom SELinux role is not allowed")
    # A profile object with no type is refused too, as admission does (the API server would refuse it).
    for field, what, profile in (
        ("seccompProfile", "seccomp", context.seccomp_profile),
        ("appArmorProfile", "AppArmor", context.app_armor_profile),
    ):
        if profile is not None and profile.type not in _PROFILE_TYPES:
            baseline(
                f"{path}.{field}.type",
                f"{what} profile type {profile.type!r} is not allowed; use RuntimeDefault or Localhost",
            )
    if context.run_as_user == 0:
        strict(f"{path}.runAsUser", "running as root (user 0) is not allowed")


def _container(
    path: str,
    container: _Container,
    pod_non_root: bool,
    pod_seccomp: bool,
    baseline: _Report,
    strict: _Report,
) -> None:
    context = container.security_context or _SecurityContext()
    at = f"{path}.securityContext"
    if context.privileged:
        baseline(f"{at}.privileged", "privileged containers are not allowed")
    capabilities = context.capabilities or _Capabilities()
    for i, capability in enumerate(capabilities.add or ()):
        if capability not in BASELINE_CAPABILITIES:
            baseline(
                f"{at}.capabilities.add[{i}]",
                f"capability {capability!r} is not allowed; only the container runtime's defaults may be"
                f" added ({', '.join(sorted(BASELINE_CAPABILITIES))})",
            )
        elif capability != "NET_BIND_SERVICE":
            strict(f"{at}.capabilities.add[{i}]", f"only NET_BIND_SERVICE may be added (got {capability!r})")
    if context.proc_mount is not None and context.proc_mount != "Default":
        baseline(f"{at}.procMount", f"procMount {context.proc_mount!r} is not allowed; only Default")
    _shared_context(at, context, baseline, strict)
    for i, port in enumerate(container.ports or ()):
        if port.host_port:
            baseline(f"{path}.ports[{i}].hostPort", f"host ports are not allowed (got {port.host_port})")
    lifecycle = container.lifecycle or _Lifecycle()
    handlers: tuple[tuple[str, _Handler | None], ...] = (
        ("livenessProbe", container.liveness_probe),
        ("readinessProbe", container.readiness_probe),
        ("startupProbe", container.startup_probe),
        ("lifecycle.postStart", lifecycle.post_start),
        ("lifecycle.preStop", lifecycle.pre_stop),
    )
    for where, maybe in handlers:
        # A probe's host is fetched by the kubelet, from the node: a way to reach what the node can.
        handler = maybe or _Handler()
        for kind, endpoint in (("httpGet", handler.http_get), ("tcpSocket", handler.tcp_socket)):
            if endpoint is not None and endpoint.host:
                baseline(
                    f"{path}.{where}.{kind}.host",
                    f"probes and lifecycle handlers must not name a host (got {endpoint.host!r})",
                )

    if context.allow_privilege_escalation is not False:
        got = "it is not set" if context.allow_privilege_escalation is None else "got true"
        strict(f"{at}.allowPrivilegeEscalation", f"must be false ({got})")
    if context.run_as_non_root is False:
        strict(f"{at}.runAsNonRoot", "must not be false")
    elif context.run_as_non_root is None and not pod_non_root:
        strict(f"{at}.runAsNonRoot", "must be true, here or in spec.template.spec.securityContext")
    if context.seccomp_profile is None and not pod_seccomp:
        strict(
            f"{at}.seccompProfile.type",
            "must be RuntimeDefault or Localhost, here or in spec.template.spec.securityContext",
        )
    if "ALL" not in (capabilities.drop or ()):
        strict(f"{at}.capabilities.drop", "must include 'ALL'")


def _volume(path: str, volume: dict[str, Any], baseline: _Report, strict: _Report) -> None:
    name = volume.get("name")
    named = f"volume {name!r}" if isinstance(name, str) else "a volume without a name"
    # A source set to null is no source, as for the API server.
    sources = sorted(key for key, value in volume.items() if key != "name" and value is not None)
    for source in sources:
        if source == "hostPath":
            baseline(f"{path}.hostPath", f"hostPath volumes are not allowed ({named})")
        elif source not in RESTRICTED_VOLUME_TYPES:
            allowed = ", ".join(RESTRICTED_VOLUME_TYPES)
            strict(f"{path}.{source}", f"volume type {source!r} is not allowed ({named}; allowed: {allowed})")


def _apparmor_annotation_allowed(value: str) -> bool:
    return value in ("", "runtime/default") or value.startswith("localhost/")


def _seccomp_annotation_allowed(value: str) -> bool:
    return value in ("runtime/default", "docker/default") or value.startswith("localhost/")
