"""What both benchmarks share: loopback ports, child processes, the demo upstream, machine facts.

Every child starts in its own session, so that a Ctrl-C in the terminal reaches only
the benchmark, which then stops its children in order (and their process groups, by id).
"""

from __future__ import annotations

import contextlib
import gc
import os
import platform
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from types import FrameType

import psutil

HOST = "127.0.0.1"
PYTHON = sys.executable
REPO = Path(__file__).resolve().parents[2]
CHAT_PATH = "/v1/chat/completions"


def chat_body(model: str, stream: bool) -> bytes:
    """The request every benchmark sends; ``stream`` adds ``"stream": true``."""
    extra = ',"stream":true' if stream else ""
    return (
        '{"model":"' + model + '","messages":[{"role":"user","content":"Hello there"}]' + extra + "}"
    ).encode()


def free_port() -> int:
    """A loopback port free right now (the OS picks it; a small race with the child is accepted)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def interrupt_on_signals() -> None:
    """SIGINT and SIGTERM raise KeyboardInterrupt, so that ``finally`` blocks clean up either way.

    SIGINT is set explicitly: a shell starts background jobs with it ignored.
    """

    def handler(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


class Child:
    """A child process started by the benchmark, its output in a log file."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path = REPO,
    ) -> None:
        self.name = name
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=dict(env) if env is not None else None,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self, sig: signal.Signals = signal.SIGTERM, grace: float = 20.0) -> None:
        """Signal the child, wait up to ``grace`` seconds, then kill its process group."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=grace)
        # The group is the one this child leads (start_new_session): its own workers, nothing else.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)


def wait_http_ok(url: str, child: Child, timeout: float = 60.0) -> None:
    """Poll ``url`` until it answers 200; fail early if ``child`` exits."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if not child.alive():
            raise RuntimeError(f"{child.name} exited with {child.proc.returncode}:\n{child.tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # a loopback URL we built
                if resp.status == 200:
                    return
                last = f"HTTP {resp.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except OSError as exc:
            last = type(exc).__name__
        time.sleep(0.2)
    raise RuntimeError(f"{child.name} not ready at {url} after {timeout:.0f}s ({last}):\n{child.tail()}")


def wait_port(port: int, child: Child, timeout: float = 30.0) -> None:
    """Wait until something accepts TCP connections on the loopback ``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.alive():
            raise RuntimeError(f"{child.name} exited with {child.proc.returncode}:\n{child.tail()}")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{child.name} does not listen on {HOST}:{port} after {timeout:.0f}s:\n{child.tail()}")


def start_demo_upstream(workdir: Path) -> tuple[Child, int]:
    """The demo model API under granian, on a free loopback port."""
    port = free_port()
    argv = [PYTHON, "-m", "gateway.demo.upstream", "--server", "granian", "--host", HOST, "--port", str(port)]
    child = Child("demo upstream", argv, workdir / "upstream.log")
    wait_http_ok(f"http://{HOST}:{port}/_demo/stats", child)
    return child, port


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and all its live descendants."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def machine_lines(packages: Sequence[str]) -> list[str]:
    """Facts about this machine and the software versions, one per line."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    versions = ", ".join(f"{p} {package_version(p)}" for p in packages)
    return [
        f"machine: {os.cpu_count()} CPUs ({cpu_model()}), {platform.system()} {platform.release()}",
        f"load average (1/5/15 min): {load}",
        f"python: {platform.python_implementation()} {platform.python_version()}",
        f"packages: {versions}",
    ]


def best_rate(label: str, count: int, repeat: int, run: Callable[[], object], width: int = 44) -> float:
    """Calls per second of `run` (which makes `count` calls), best of `repeat` timed runs."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    rate = count / best
    print(f"{label:{width}s} {rate:>12,.0f} /s   {1e6 / rate:6.2f} µs each")
    return rate
