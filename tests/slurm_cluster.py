"""A real single-node Slurm cluster with fake GPUs on loopback, for tests of the Slurm REST proxy.

``SlurmCluster(root).start()`` runs a private ``munged`` (own key and socket, as the ``munge``
user), ``slurmctld``, ``slurmd -N gpu-node-1`` (8 fake GPUs of type ``h100``: symlinks to
/dev/null) and ``slurmrestd`` (JWT auth, as an unprivileged user) on 127.0.0.1, with every file
under ``root`` so that several clusters can run side by side. Ports: ``rest_port`` (REST),
``rest_port + 1`` (slurmctld), ``rest_port + 2`` (slurmd). ``stop()`` ends the daemons and
every ``slurmstepd`` and job process of this cluster (they outlive the daemons).

It needs root (it starts daemons as root and as other users) and Debian's packages:
``SlurmCluster.install()`` installs them with apt-get. Stdlib and httpx only; no pytest here.

The munge and REST users, and jobs of users other than root, must reach files under ``root``:
``start()`` adds search permission (o+x, not read) to ``root``'s ancestors, such as pytest's
/tmp/pytest-of-root (mode 700). A pytest session that starts later on the same machine sets
that directory back to 700: the cluster and root's jobs go on working, but a job of another
user then fails with JobLaunchFailure. Give such tests a ``root`` outside pytest's base
directory if other pytest sessions may start meanwhile.

Daemons run in the foreground as our children with a parent-death signal, so they end even if
this process is killed; slurmstepd and job processes do not (stop() kills them by pid).

Facts this relies on (Debian 12, Slurm 22.05):
- slurmrestd refuses to run as root; with ``SLURM_JWT=daemon`` it passes each request's token
  (headers ``X-SLURM-USER-NAME`` and ``X-SLURM-USER-TOKEN``) on to slurmctld.
- The ``openapi/dbv*`` plugins need slurmdbd: they are loaded only for a cluster started with
  ``accounting=True`` (slurmdbd on the machine's MariaDB; it reads ``slurmdbd.conf`` beside
  ``SLURM_CONF``, mode 600, and needs the cluster and an association added before slurmctld).
- A ``SLURM_JWT`` in a daemon's environment makes slurmctld exit ("AuthType change requires
  restart"): daemons get a clean environment.
- Slurm clients hang for about 10 s while slurmctld is down: every probe has a timeout.
- gres.conf needs ``File=`` lines (``Count=`` alone registers 0 GPUs and the node goes INVAL).
- Without ``DefMemPerCPU`` each job takes the whole node's memory and jobs run one at a time;
  ``batch_sched_delay=0`` stops the default 3 s hold of batch jobs.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import functools
import glob
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

import httpx

NODE = "gpu-node-1"
PARTITION = "gpu"
REST_USER = "slurmrest"
PACKAGES = ("slurmctld", "slurmd", "slurmrestd", "slurmdbd", "slurm-client", "munge", "slurm-wlm-jwt-plugin")
BINARIES = ("munged", "slurmctld", "slurmd", "slurmrestd", "slurmdbd", "scontrol", "sacctmgr", "setpriv")
SEARCH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PLUGIN_DIRS = ("/usr/lib/*/slurm-wlm", "/usr/lib/slurm-wlm", "/usr/lib/slurm", "/usr/lib64/slurm")
APT_LOCK = Path("/tmp/slurm-harness-apt.lock")  # our own lock, beside dpkg's (which apt waits on)
USER_LOCK = Path("/tmp/slurm-harness-useradd.lock")
# The REST API version each Slurm release added (each release keeps about three older ones).
REST_BY_RELEASE = {
    (20, 11): "v0.0.36",
    (21, 8): "v0.0.37",
    (22, 5): "v0.0.38",
    (23, 2): "v0.0.39",
    (23, 11): "v0.0.40",
    (24, 5): "v0.0.41",
    (24, 11): "v0.0.42",
    (25, 5): "v0.0.43",
    (25, 11): "v0.0.44",
}
MARKER = "GATEWAY_SLURM_HARNESS_ROOT"  # in every daemon's environment; slurmstepd inherits it
SUN_PATH_MAX = 107  # a Unix socket's path, in bytes, without the final NUL


class SlurmClusterError(RuntimeError):
    """The cluster did not start; the message ends with the daemons' log tails."""


def _which(name: str) -> str | None:
    return shutil.which(name, path=f"{os.environ.get('PATH', '')}:{SEARCH_PATH}")


def _plugin_files(pattern: str) -> list[str]:
    found: list[str] = []
    for directory in PLUGIN_DIRS:
        found.extend(glob.glob(os.path.join(directory, pattern)))
    return sorted(set(found))


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version))


@functools.cache
def _slurm_version() -> str:
    binary = _which("slurmctld")
    if binary is None:
        raise SlurmClusterError("slurmctld is not installed")
    _, out = _run([binary, "-V"], timeout=10)
    match = re.search(r"(\d+\.\d+\.\d+)", out)
    if match is None:
        raise SlurmClusterError(f"cannot read the Slurm version from {out!r}")
    return match.group(1)


def _rest_versions() -> tuple[str, ...]:
    names = {Path(p).stem.removeprefix("openapi_").replace("_", ".") for p in _plugin_files("openapi_v*.so")}
    return tuple(sorted(names, key=_version_key))


def _tail(path: Path, lines: int) -> str:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 200 * lines))
            text = f.read().decode("utf-8", "replace")
    except OSError as exc:
        return f"(unreadable: {exc})"
    return "\n".join(text.splitlines()[-lines:])


def _free_port_block(count: int = 3, low: int = 20000, high: int = 32000) -> int:
    """The first of ``count`` consecutive free loopback ports, below Linux's ephemeral range."""
    for _ in range(200):
        first = low + secrets.randbelow(high - low - count)
        sockets: list[socket.socket] = []
        try:
            for port in range(first, first + count):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise SlurmClusterError(f"no {count} consecutive free ports in {low}-{high}")


def _port_open(port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def _run(argv: list[str], timeout: float, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run a command with a bound; (exit code, output). Never raises for the command's failures."""
    try:
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.output.decode("utf-8", "replace") if isinstance(exc.output, bytes) else ""
        return 124, f"{out}\n(timed out after {timeout:g} s)"
    except OSError as exc:
        return 127, str(exc)
    return done.returncode, done.stdout.decode("utf-8", "replace")


def _proc_table() -> dict[int, int]:
    """pid -> parent pid, for every process."""
    table: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses
        fields = stat[stat.rfind(b")") + 2 :].split()
        table[int(entry)] = int(fields[1])
    return table


def _pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] != b"Z"


class SlurmCluster:
    """One slurmctld, one slurmd (``gpu-node-1``, partition ``gpu``) and slurmrestd on 127.0.0.1."""

    node = NODE
    partition = PARTITION

    def __init__(
        self,
        root: Path,
        rest_port: int | None = None,
        gpus: int = 8,
        gpu_type: str = "h100",
        *,
        accounting: bool = False,
        min_job_age: int | None = None,
    ):
        """``accounting``: also run slurmdbd, on the machine's MariaDB (127.0.0.1:3306, root, no
        password), in a database of this cluster's own, and serve ``/slurmdb/``. ``min_job_age``:
        Slurm's ``MinJobAge``, the seconds slurmctld still lists an ended job (300 by default)."""
        if gpus < 1:
            raise ValueError("gpus must be at least 1")
        self.root = Path(root).absolute()
        self.rest_port = rest_port if rest_port is not None else _free_port_block(4)
        self.ctld_port = self.rest_port + 1
        self.slurmd_port = self.rest_port + 2
        self.dbd_port = self.rest_port + 3
        self.accounting = accounting
        self.min_job_age = min_job_age
        self.database = f"slurm_acct_{self.rest_port}_{secrets.token_hex(3)}"
        self.gpus = gpus
        self.gpu_type = gpu_type
        self.etc = self.root / "etc"
        self.state = self.root / "state"
        self.spool = self.root / "spool"
        self.log = self.root / "log"
        self.munge = self.root / "munge"
        self.dev = self.root / "dev"
        self.conf = self.etc / "slurm.conf"
        self.munge_socket = self.munge / "munge.sock"
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._outputs: list[IO[bytes]] = []
        self._admin_token: str | None = None
        self._started = False
        self.timings: dict[str, float] = {}

    # ----------------------------------------------------------------- properties

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    @property
    def jobs_dir(self) -> Path:
        """World-writable (sticky, like /tmp): use it, or a subdirectory, as a job's working directory."""
        return self.root / "jobs"

    @property
    def slurm_version(self) -> str:
        """Such as ``22.05.8`` (from ``slurmctld -V``)."""
        return _slurm_version()

    @property
    def rest_versions(self) -> list[str]:
        """The ``openapi/v0.0.x`` plugins installed (the ``dbv`` ones, which need slurmdbd, left out)."""
        return list(_rest_versions())

    @property
    def daemon_pids(self) -> dict[str, int]:
        """The running daemons: name -> pid."""
        return {name: proc.pid for name, proc in self._procs.items() if proc.poll() is None}

    @property
    def api_version(self) -> str:
        """The newest REST version this Slurm serves, such as ``v0.0.38`` for Debian 12's 22.05."""
        versions = self.rest_versions
        if versions:
            return versions[-1]
        release = tuple(int(p) for p in self.slurm_version.split(".")[:2])
        known = [v for r, v in REST_BY_RELEASE.items() if r <= release]
        if not known:
            raise SlurmClusterError(f"no known REST version for Slurm {self.slurm_version}")
        return known[-1]

    def url(self, path: str) -> str:
        """``url("job/submit")`` -> ``http://127.0.0.1:PORT/slurm/v0.0.38/job/submit``."""
        return f"{self.base_url}/slurm/{self.api_version}/{path.lstrip('/')}"

    def headers(self, user: str = "root", token: str | None = None) -> dict[str, str]:
        """The headers slurmrestd wants (both user name and token, and JSON)."""
        if token is None:
            token = self._admin_token if user == "root" and self._admin_token else self.token(user)
        return {
            "X-SLURM-USER-NAME": user,
            "X-SLURM-USER-TOKEN": token,
            "Content-Type": "application/json",
        }

    # ----------------------------------------------------------------- install

    @staticmethod
    def installed() -> bool:
        """The daemons, the clients and the JWT and REST plugins are all on this machine."""
        return (
            all(_which(name) for name in BINARIES)
            and bool(_plugin_files("auth_jwt.so"))
            and bool(_plugin_files("openapi_v*.so"))
        )

    @staticmethod
    def install(timeout: float = 900) -> tuple[bool, str]:
        """Install Debian's packages if missing; (ok, reason). Never raises.

        Serialised between processes with a file lock. ``apt-get update`` runs only if the
        install fails for lack of (fresh) package lists. An interrupted apt-get is left to
        finish rather than killed, so that dpkg is never left half-way.
        """
        try:
            if SlurmCluster.installed():
                return True, "already installed"
            if os.geteuid() != 0:
                return False, "Slurm is not installed and installing it needs root"
            apt = _which("apt-get")
            if apt is None:
                return False, "Slurm is not installed and there is no apt-get"
            with APT_LOCK.open("a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # another pytest may be installing: wait for it
                try:
                    if SlurmCluster.installed():
                        return True, "installed by another process"
                    return SlurmCluster._apt_install(apt, time.monotonic() + timeout)
                finally:
                    fcntl.flock(lock, fcntl.LOCK_UN)
        except Exception as exc:
            return False, f"install failed: {exc!r}"

    @staticmethod
    def _apt_install(apt: str, deadline: float) -> tuple[bool, str]:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "PATH": SEARCH_PATH}
        install = [apt, "install", "-y", "-q", "--no-install-recommends", "-o", "DPkg::Lock::Timeout=300"]
        install += PACKAGES

        def apt_run(argv: list[str]) -> tuple[int, str]:
            left = deadline - time.monotonic()
            if left <= 0:
                return 124, "out of time"
            # Not subprocess.run and not a pipe: if we are interrupted (a test timeout), apt-get
            # goes on to the end on its own instead of being killed (or SIGPIPEd) inside dpkg.
            with tempfile.TemporaryFile() as output:
                proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,
                )
                try:
                    proc.wait(timeout=left)
                except subprocess.TimeoutExpired:
                    return 124, f"{' '.join(argv)} still running after {left:.0f} s; left to finish"
                output.seek(0)
                return proc.returncode, output.read().decode("utf-8", "replace")

        rc, out = apt_run(install)
        if rc != 0 and "dpkg --configure -a" in out:  # an earlier install was interrupted
            apt_run(["dpkg", "--configure", "-a"])
            rc, out = apt_run(install)
        lacks_lists = re.search(
            r"Unable to locate package|no installation candidate|404\s+Not Found|maybe run apt-get update",
            out,
        )
        if rc != 0 and lacks_lists:
            urc, uout = apt_run([apt, "update", "-q"])
            if urc != 0:
                return False, "apt-get update failed:\n" + "\n".join(uout.splitlines()[-15:])
            rc, out = apt_run(install)
        if rc != 0:
            return False, f"apt-get install failed ({rc}):\n" + "\n".join(out.splitlines()[-15:])
        if not SlurmCluster.installed():
            return False, "apt-get install succeeded but the Slurm binaries or plugins are still missing"
        return True, "installed " + " ".join(PACKAGES)

    @staticmethod
    def ensure_user(name: str) -> pwd.struct_passwd:
        """A system user (no home, no login shell): for slurmrestd, or as a job's owner."""
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
        useradd = _which("useradd") or "useradd"
        argv = [useradd, "--system", "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin", name]
        with USER_LOCK.open("a") as lock:  # two pytest processes: one useradd at a time
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                with contextlib.suppress(KeyError):
                    return pwd.getpwnam(name)
                _, out = _run(argv, timeout=30)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        try:
            return pwd.getpwnam(name)
        except KeyError:
            raise SlurmClusterError(f"cannot create user {name}: {out.strip()}") from None

    # ----------------------------------------------------------------- start

    def start(self, timeout: float = 30) -> SlurmCluster:
        """Write the configuration, start the four daemons, and wait for a ready REST API and node.

        Raises ``SlurmClusterError`` (with the daemons' log tails) if anything fails; whatever
        had started is stopped again.
        """
        if self._started:
            return self
        if os.geteuid() != 0:
            raise SlurmClusterError("the Slurm harness must run as root")
        if not self.installed():
            raise SlurmClusterError("Slurm is not installed: call SlurmCluster.install() first")
        t0 = time.monotonic()
        deadline = t0 + timeout
        self._started = True
        atexit.register(self.stop)
        try:
            self._write_files()
            self._start_daemons(deadline)
        except BaseException as exc:
            tails = self.log_tails()
            self.stop()
            if isinstance(exc, SlurmClusterError):
                raise SlurmClusterError(f"{exc}\n{tails}") from None
            if isinstance(exc, Exception):
                raise SlurmClusterError(f"{exc!r}\n{tails}") from exc
            raise
        self.timings["start"] = time.monotonic() - t0
        return self

    def _write_files(self) -> None:
        for path in (self.munge_socket, self.spool / f"{NODE}_4294967295.4294967291"):
            if len(os.fsencode(path)) > SUN_PATH_MAX:
                raise SlurmClusterError(
                    f"root {self.root} is too long: Unix socket path {path} would not fit"
                )
        munge_user = pwd.getpwnam("munge")
        rest_user = self.ensure_user(REST_USER)
        self._make_traversable(self.root)
        for directory, mode in (
            (self.root, 0o755),
            (self.etc, 0o755),
            (self.state, 0o700),
            (self.spool, 0o755),
            (self.log, 0o755),
            (self.munge, 0o755),
            (self.dev, 0o755),
            (self.jobs_dir, 0o1777),
        ):
            directory.mkdir(parents=True, exist_ok=True)
            directory.chmod(mode)
        os.chown(self.munge, munge_user.pw_uid, munge_user.pw_gid)
        key = self.munge / "munge.key"
        if not key.exists():
            key.write_bytes(os.urandom(1024))
        os.chown(key, munge_user.pw_uid, munge_user.pw_gid)
        key.chmod(0o600)
        jwt_key = self.etc / "jwt_hs256.key"
        if not jwt_key.exists():
            jwt_key.write_bytes(os.urandom(32))
        jwt_key.chmod(0o600)
        for i in range(self.gpus):
            device = self.dev / f"nvidia{i}"
            if not device.is_symlink():
                device.symlink_to("/dev/null")
        files = f"{self.dev}/nvidia[0-{self.gpus - 1}]" if self.gpus > 1 else f"{self.dev}/nvidia0"
        gres_type = f"gpu:{self.gpu_type}:{self.gpus}" if self.gpu_type else f"gpu:{self.gpus}"
        type_field = f" Type={self.gpu_type}" if self.gpu_type else ""
        (self.etc / "gres.conf").write_text(
            f"AutoDetect=off\nNodeName={NODE} Name=gpu{type_field} File={files}\n"
        )
        self.conf.write_text(
            "\n".join(
                [
                    "# written by tests/slurm_cluster.py",
                    f"ClusterName=harness{self.rest_port}",
                    "SlurmctldHost=localhost(127.0.0.1)",
                    "TopologyParam=NoCtldInAddrAny,NoInAddrAny",
                    f"SlurmctldPort={self.ctld_port}",
                    f"SlurmdPort={self.slurmd_port}",
                    "SlurmUser=root",
                    "SlurmdUser=root",
                    "AuthType=auth/munge",
                    "CredType=cred/munge",
                    f"AuthInfo=socket={self.munge_socket}",
                    "AuthAltTypes=auth/jwt",
                    f"AuthAltParameters=jwt_key={jwt_key}",
                    f"StateSaveLocation={self.state}",
                    f"SlurmdSpoolDir={self.spool}",
                    f"SlurmctldPidFile={self.state}/slurmctld.pid",
                    f"SlurmdPidFile={self.spool}/slurmd.pid",
                    f"SlurmctldLogFile={self.log}/slurmctld.log",
                    f"SlurmdLogFile={self.log}/slurmd.log",
                    "SlurmctldDebug=info",
                    "SlurmdDebug=info",
                    "ProctrackType=proctrack/linuxproc",
                    "TaskPlugin=task/none",
                    "JobAcctGatherType=jobacct_gather/none",
                    *(
                        [
                            "AccountingStorageType=accounting_storage/slurmdbd",
                            "AccountingStorageHost=127.0.0.1",
                            f"AccountingStoragePort={self.dbd_port}",
                            # With slurmdbd, the munge socket to reach it by (the default is not ours).
                            f"AccountingStoragePass={self.munge_socket}",
                        ]
                        if self.accounting
                        else ["AccountingStorageType=accounting_storage/none"]
                    ),
                    *([f"MinJobAge={self.min_job_age}"] if self.min_job_age is not None else []),
                    "JobCompType=jobcomp/none",
                    "SwitchType=switch/none",
                    "MpiDefault=none",
                    "MailProg=/bin/true",
                    "ReturnToService=2",
                    "SelectType=select/cons_tres",
                    "SelectTypeParameters=CR_Core_Memory",
                    "DefMemPerCPU=1024",
                    "GresTypes=gpu",
                    "SlurmdParameters=config_overrides",
                    "SchedulerParameters=batch_sched_delay=0",
                    "KillWait=2",
                    f"NodeName={NODE} NodeHostname=localhost NodeAddr=127.0.0.1 Sockets=1 CoresPerSocket=16"
                    f" ThreadsPerCore=1 RealMemory=65536 Gres={gres_type} State=UNKNOWN",
                    f"PartitionName={PARTITION} Nodes={NODE} Default=YES MaxTime=INFINITE State=UP",
                    "",
                ]
            )
        )
        self.conf.chmod(0o644)
        self._rest_user = rest_user.pw_name
        if self.accounting:
            dbd_conf = self.etc / "slurmdbd.conf"
            dbd_conf.write_text(
                "\n".join(
                    [
                        "# written by tests/slurm_cluster.py",
                        "AuthType=auth/munge",
                        f"AuthInfo=socket={self.munge_socket}",
                        "AuthAltTypes=auth/jwt",
                        f"AuthAltParameters=jwt_key={jwt_key}",
                        "DbdHost=localhost",
                        "DbdAddr=127.0.0.1",
                        f"DbdPort={self.dbd_port}",
                        "SlurmUser=root",
                        "StorageType=accounting_storage/mysql",
                        "StorageHost=127.0.0.1",
                        "StoragePort=3306",
                        "StorageUser=root",
                        f"StorageLoc={self.database}",
                        f"LogFile={self.log}/slurmdbd.log",
                        f"PidFile={self.state}/slurmdbd.pid",
                        "DebugLevel=info",
                        "",
                    ]
                )
            )
            dbd_conf.chmod(0o600)  # slurmdbd refuses a configuration others can read

    @staticmethod
    def _make_traversable(path: Path) -> None:
        """Give others search (x, not r) permission on ``path``'s ancestors: the munge and REST
        users, and jobs of other users, must reach their files (pytest's base is mode 700)."""
        for parent in path.parents:
            with contextlib.suppress(OSError):
                mode = parent.stat().st_mode
                if not mode & 0o001:
                    parent.chmod((mode & 0o7777) | 0o011)

    def _env(self) -> dict[str, str]:
        """A clean environment for daemons and clients: no SLURM_JWT or other SLURM_* of ours."""
        return {
            "PATH": SEARCH_PATH,
            "LANG": "C.UTF-8",
            "HOME": "/root",
            "SLURM_CONF": str(self.conf),
            MARKER: str(self.root),
        }

    def _spawn(
        self, name: str, argv: list[str], user: str | None = None, extra_env: dict[str, str] | None = None
    ) -> None:
        setpriv = _which("setpriv") or "setpriv"
        # --pdeathsig: the daemon gets SIGTERM if we die without running stop() (even by SIGKILL)
        prefix = [setpriv, "--pdeathsig", "SIGTERM"]
        if user is not None:
            prefix += [f"--reuid={user}", f"--regid={user}", "--init-groups"]
        out = (self.log / f"{name}.out").open("ab")
        self._outputs.append(out)
        self._procs[name] = subprocess.Popen(
            [*prefix, "--", *argv],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**self._env(), **(extra_env or {})},
            cwd=self.jobs_dir,
            start_new_session=True,
        )

    def _wait(self, what: str, ready: Callable[[], bool], deadline: float, interval: float = 0.02) -> None:
        while True:
            for name, proc in self._procs.items():
                if proc.poll() is not None:
                    raise SlurmClusterError(
                        f"{name} exited with code {proc.returncode} while waiting for {what}"
                    )
            if ready():
                return
            if time.monotonic() > deadline:
                raise SlurmClusterError(f"timed out waiting for {what}")
            time.sleep(interval)

    def _start_daemons(self, deadline: float) -> None:
        t = time.monotonic()
        munged = _which("munged") or "munged"
        self._spawn(
            "munged",
            [
                munged,
                "--foreground",
                f"--key-file={self.munge}/munge.key",
                f"--socket={self.munge_socket}",
                f"--pid-file={self.munge}/munged.pid",
                f"--seed-file={self.munge}/munged.seed",
                "--num-threads=2",
            ],
            user="munge",
        )
        self._wait("munged's socket", self.munge_socket.exists, deadline)
        self.timings["munged"] = time.monotonic() - t
        if self.accounting:
            t = time.monotonic()
            self._spawn("slurmdbd", [_which("slurmdbd") or "slurmdbd", "-D"])
            self._wait("slurmdbd's port", lambda: _port_open(self.dbd_port), deadline)
            # The cluster, and root's association, before slurmctld registers and jobs are recorded.
            cluster = f"harness{self.rest_port}"
            for args in (
                ["add", "cluster", cluster],
                ["add", "account", "harness", f"cluster={cluster}"],
                ["add", "user", "root", "account=harness", f"cluster={cluster}"],
            ):
                rc, out = _run([_which("sacctmgr") or "sacctmgr", "-i", *args], timeout=15, env=self._env())
                if rc != 0:
                    raise SlurmClusterError(f"sacctmgr {' '.join(args)} failed ({rc}): {out.strip()}")
            self.timings["slurmdbd"] = time.monotonic() - t
        t = time.monotonic()
        self._spawn("slurmctld", [_which("slurmctld") or "slurmctld", "-D", "-i"])
        rest_plugins = ",".join(f"openapi/{v}" for v in self.rest_versions)
        if self.accounting:
            rest_plugins += "," + ",".join(f"openapi/db{v}" for v in self.rest_versions)
        self._spawn(
            "slurmrestd",
            [
                _which("slurmrestd") or "slurmrestd",
                "-a",
                "rest_auth/jwt",
                "-s",
                rest_plugins,
                f"127.0.0.1:{self.rest_port}",
            ],
            user=self._rest_user,
            extra_env={"SLURM_JWT": "daemon"},
        )
        self._wait("slurmctld's port", lambda: _port_open(self.ctld_port), deadline)
        self.timings["slurmctld"] = time.monotonic() - t
        # After slurmctld listens: slurmd registers at once instead of retrying a second later.
        self._spawn("slurmd", [_which("slurmd") or "slurmd", "-D", "-N", NODE])
        self._admin_token = self.token("root", timeout=max(1.0, min(10.0, deadline - time.monotonic())))
        self.timings["token"] = time.monotonic() - t
        with httpx.Client(
            timeout=2.0, trust_env=False, headers=self.headers("root", self._admin_token)
        ) as client:

            def get(path: str) -> dict[str, Any] | None:
                try:
                    reply = client.get(self.url(path))
                except httpx.HTTPError:
                    return None
                if reply.status_code != 200:
                    return None
                body: dict[str, Any] = reply.json()
                return body

            def ping_up() -> bool:
                body = get("ping")
                return bool(body and any(p.get("ping") == "UP" for p in body.get("pings", [])))

            self._wait("slurmrestd's ping to answer UP", ping_up, deadline)
            self.timings["rest"] = time.monotonic() - t
            last: list[Any] = []

            def node_idle() -> bool:
                body = get(f"node/{NODE}")
                nodes = (body or {}).get("nodes") or []
                last[:] = nodes
                return (
                    bool(nodes)
                    and str(nodes[0].get("state", "")).lower() == "idle"
                    and "gpu" in str(nodes[0].get("gres", ""))
                )

            try:
                self._wait(f"node {NODE} to be idle with its GPUs", node_idle, deadline, interval=0.05)
            except SlurmClusterError as exc:
                node = (
                    {k: last[0].get(k) for k in ("state", "state_flags", "reason", "gres")} if last else None
                )
                raise SlurmClusterError(f"{exc}; node: {json.dumps(node)}") from None
        self.timings["node"] = time.monotonic() - t

    # ----------------------------------------------------------------- use

    def token(self, user: str = "root", lifespan: int = 86400, timeout: float = 15) -> str:
        """A JWT for ``user`` from ``scontrol token`` (slurmctld signs it with the cluster's key)."""
        scontrol = _which("scontrol") or "scontrol"
        rc, out = _run(
            [scontrol, "token", f"username={user}", f"lifespan={lifespan}"], timeout, env=self._env()
        )
        match = re.search(r"SLURM_JWT=(\S+)", out)
        if rc != 0 or match is None:
            raise SlurmClusterError(f"scontrol token username={user} failed ({rc}): {out.strip()}")
        return match.group(1)

    def scontrol(self, *args: str, timeout: float = 15) -> str:
        """Run ``scontrol`` against this cluster (as root); its output, or SlurmClusterError."""
        rc, out = _run([_which("scontrol") or "scontrol", *args], timeout, env=self._env())
        if rc != 0:
            raise SlurmClusterError(f"scontrol {' '.join(args)} failed ({rc}): {out.strip()}")
        return out

    def log_tails(self, lines: int = 30) -> str:
        """The last lines of every daemon's log and captured output, for failure messages."""
        # *.out: each daemon's stdout and stderr, where even the errors from before a log file
        # opens land (the daemons run in the foreground); log/*.log has the same with timestamps.
        parts = []
        for path in sorted(self.log.glob("*.out")):
            if path.exists() and path.stat().st_size:
                parts.append(f"--- {path.name} (last {lines} lines) ---\n{_tail(path, lines)}")
        return "\n".join(parts) if parts else "(no daemon logs)"

    # ----------------------------------------------------------------- stop

    def job_pids(self) -> set[int]:
        """slurmstepd and job processes of this cluster: a process whose environment carries our
        marker (slurmstepd inherits slurmd's) or whose working directory is under our root, and
        all their descendants. Not this process nor its ancestors, nor the running daemons and
        their children."""
        table = _proc_table()
        mine = {os.getpid()}
        pid = os.getpid()
        while pid in table and table[pid] > 0:
            pid = table[pid]
            mine.add(pid)
        marker = f"{MARKER}={self.root}".encode()
        root = str(self.root)
        seeds: set[int] = set()
        for pid in table:
            if pid in mine:
                continue
            try:
                cwd = os.readlink(f"/proc/{pid}/cwd")
                if cwd == root or cwd.startswith(root + "/"):
                    seeds.add(pid)
                    continue
                with open(f"/proc/{pid}/environ", "rb") as f:
                    if marker in f.read().split(b"\0"):
                        seeds.add(pid)
            except OSError:
                continue
        children: dict[int, list[int]] = {}
        for pid, ppid in table.items():
            children.setdefault(ppid, []).append(pid)

        def tree(roots: Iterable[int]) -> set[int]:
            found: set[int] = set()
            todo = list(roots)
            while todo:
                pid = todo.pop()
                if pid not in found and pid not in mine:
                    found.add(pid)
                    todo.extend(children.get(pid, []))
            return found

        # The daemons' own children (slurmctld's slurmscriptd) go with them: killing them first
        # would leave slurmctld waiting. slurmd double-forks slurmstepd, which is not its child.
        return tree(seeds) - tree(p.pid for p in self._procs.values() if p.poll() is None)

    @staticmethod
    def _signal(pids: Iterable[int], sig: int) -> None:
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, sig)

    def stop(self, timeout: float = 5) -> None:
        """Stop everything this cluster started, jobs included. Idempotent; bounded in time."""
        if not self._started:
            return
        t0 = time.monotonic()
        self._started = False
        atexit.unregister(self.stop)
        procs = self._procs
        slurm = [procs[n] for n in ("slurmrestd", "slurmd", "slurmctld", "slurmdbd") if n in procs]
        with contextlib.suppress(Exception):
            self._signal(self.job_pids(), signal.SIGKILL)
        self._signal([p.pid for p in slurm if p.poll() is None], signal.SIGTERM)
        self._reap(slurm, t0 + timeout * 0.6)
        with contextlib.suppress(Exception):  # steps slurmd started while going down
            self._signal(self.job_pids(), signal.SIGKILL)
        if self.accounting:
            _run(
                [
                    _which("mariadb") or "mariadb",
                    "-h127.0.0.1",
                    "-uroot",
                    "-e",
                    f"drop database if exists {self.database}",
                ],
                timeout=15,
            )
        if "munged" in procs:  # last: the others talk to it until they are gone
            self._signal([procs["munged"].pid], signal.SIGTERM)
            self._reap([procs["munged"]], t0 + timeout)
        with contextlib.suppress(Exception):
            leftovers = self.job_pids()
            self._signal(leftovers, signal.SIGKILL)
            deadline = time.monotonic() + 1
            while leftovers and time.monotonic() < deadline:
                leftovers = {p for p in leftovers if _pid_alive(p)}
                time.sleep(0.01)
        for out in self._outputs:
            with contextlib.suppress(OSError):
                out.close()
        self._outputs.clear()
        self._procs = {}
        self._admin_token = None
        self.timings["stop"] = time.monotonic() - t0

    @staticmethod
    def _reap(procs: list[subprocess.Popen[bytes]], deadline: float) -> None:
        for proc in procs:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=1)

    def __enter__(self) -> SlurmCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
