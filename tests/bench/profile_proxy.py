"""Where the gateway's CPU goes on the hot path: py-spy samples its worker under wrk load, and the
samples are summed per stage of the pipeline (a stage with everything it calls).

    python tests/bench/profile_proxy.py [--workload plain|stream] [--seconds 15] [--connections 32]
                                        [--stacks out.txt]

Starts the demo upstream, a fresh database and one gateway (1 worker; ``--server``: granian, uvicorn or
the gateway's own) as bench_proxy.py does.
First it measures the worker's CPU per request under wrk, unprofiled. Then it samples the worker with
``py-spy record --gil --nonblocking`` (the threads holding the GIL, without stopping the process) under
the same load, and prints µs per request for each stage: its samples over the requests served
meanwhile. What is left of the CPU per request runs outside the GIL: granian's and pyreqwest's Rust
threads (sockets, HTTP parsing) and the kernel.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from _loadgen import LoadResult, Wrk
from _support import (
    CHAT_PATH,
    HOST,
    chat_body,
    interrupt_on_signals,
    start_demo_upstream,
    tree_cpu_seconds,
)
from bench_proxy import MODEL, Database, create_key, gateway_env, start_gateway, write_config

HANDLER = Path(__file__).resolve().parents[2] / "gateway" / "proxy" / "handler.py"


def _at(*snippets: str) -> tuple[str, ...]:
    """The handler's frames at the lines holding these snippets (found by text, not by number)."""
    lines = HANDLER.read_text().splitlines()
    return tuple(
        f"(gateway/proxy/handler.py:{n})"
        for n, line in enumerate(lines, 1)
        if any(s in line for s in snippets)
    )


# A sample goes to the row of its innermost frame that one of these needles matches (the row's
# callees count as the row; in one frame, the first row that matches). Not the root: py-spy's
# non-blocking samples are sometimes cut short, so a request's stack need not reach its ASGI call.
STAGES: list[tuple[str, tuple[str, ...]]] = [
    ("forward: upstream client (http1: send, parse, read)", ("gateway/proxy/http1.py",)),
    ("server: the gateway's own (gateway.httpd)", ("gateway/httpd/",)),
    ("respond: ASGI send (the server's)", _at('await send({"type": "http.response')),
    ("settle: call features hand-off", ("take (gateway/detect/tap.py",)),
    ("background: call features extraction", ("gateway/detect/",)),
    (
        "settle: usage event + journal",
        ("_settle (gateway/proxy/handler.py", "record (gateway/ledger/writer.py"),
    ),
    ("background: ledger writes (COPY)", ("gateway/ledger/",)),
    (
        "background: quota writes and leases",
        ("gateway/quota/writer.py", "gateway/quota/leasing.py", "gateway/quota/store.py"),
    ),
    ("quota: admit, settle, headers", ("gateway/quota/",)),
    ("stage: identify (API key)", ("Identify", "gateway/identity/")),
    ("stage: know customer", ("KnowCustomer", "gateway/kyc/")),
    ("stage: ledger check", ("CheckLedger",)),
    ("stage: read body", ("ReadBody", "read_body", "gateway/bodies.py")),
    ("stage: origin", ("ResolveOrigin", "gateway/proxy/origin.py")),
    ("stage: policy (place, parameters)", ("Place", "GuardParameters", "gateway/policy/")),
    ("forward: adapter prepare", ("prepare (gateway/proxy/adapters",)),
    ("forward: request headers", ("outbound_request_headers",)),
    ("forward: response headers", ("inbound_response_headers",)),
    (
        "forward: SSE split and usage reading",
        ("feed_json", "feed_event", "gateway/proxy/sse.py", "_pump_events"),
    ),
    ("context: request context", ("RequestContext", "gateway/proxy/context.py")),
    ("app: routing, dispatch, the rest of the handler", ("gateway/app.py", "gateway/proxy/")),
    ("metrics", ("gateway/metrics.py", "prometheus_client")),
    ("background: audit, caches, other tasks", ("gateway/audit/", "gateway/db/")),
]
# Matched only when no frame of the sample matches a row above (a sample cut short above the driver).
FALLBACK = [("database driver (asyncpg), caller cut off", ("asyncpg",))]
RATE = 1000  # samples a second


def classify(stack: str) -> str:
    frames = stack.split(";")
    for rows in (STAGES, FALLBACK):
        for frame in reversed(frames):
            for name, needles in rows:
                if any(n in frame for n in needles):
                    return name
    # The worker's root frames (gateway/cli, gateway/server.py) match nothing above.
    return "server (granian or uvicorn) and event loop"


def worker_pid(parent: int) -> int:
    """granian's worker: the child process that does the serving (the one burning CPU)."""
    children = psutil.Process(parent).children(recursive=True)
    if not children:
        return parent
    return max(children, key=lambda c: sum(c.cpu_times()[:2])).pid


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workload", choices=["plain", "stream"], default="plain")
    parser.add_argument("--server", choices=["granian", "uvicorn", "gateway"], default="gateway")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--stacks", help="also write the collapsed stacks here (flamegraph.pl, speedscope)")
    parser.add_argument("--top", type=int, default=25, help="also print the N hottest leaf functions")
    parser.add_argument(
        "--perf", action="store_true", help="also sample CPU with perf (Linux) and split it by shared object"
    )
    args = parser.parse_args()
    interrupt_on_signals()
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    wrk_bin = shutil.which("wrk")
    if not Path(spy).exists() or wrk_bin is None:
        print("needs py-spy (pip install py-spy) and wrk (apt-get install wrk)", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="gw-profile-"))
    db = Database()
    with contextlib.ExitStack() as stack:
        db.open()
        stack.callback(db.close)
        upstream, upstream_port = start_demo_upstream(workdir)
        stack.callback(upstream.stop)
        env = gateway_env(db.url, workdir / "state")
        config = write_config(workdir / "gateway.toml", upstream_port)
        key = create_key(env, "profile")
        gateway, port = start_gateway(args.server, config, env, workdir)
        stack.callback(gateway.stop)
        url = f"http://{HOST}:{port}{CHAT_PATH}"
        body = chat_body(MODEL, args.workload == "stream")
        wrk = Wrk(wrk_bin, workdir)
        wrk.run(url, body, key, args.connections, 2, 2)  # warm-up
        pid = worker_pid(gateway.pid)
        # 1. The worker's CPU per request, unprofiled.
        cpu0 = tree_cpu_seconds(pid)
        plain = wrk.run(url, body, key, args.connections, 2, args.seconds)
        per_request = (tree_cpu_seconds(pid) - cpu0) / max(plain.requests, 1) * 1e6
        # 2. Where the GIL-holding time goes: py-spy samples the worker without stopping it, only the
        # threads holding the GIL (the Python work; granian's and pyreqwest's Rust threads run outside).
        raw = workdir / "profile.txt"
        result: list[LoadResult] = []
        load = threading.Thread(
            target=lambda: result.append(wrk.run(url, body, key, args.connections, 2, args.seconds + 2))
        )
        load.start()
        time.sleep(1)
        argv = [spy, "record", "--pid", str(pid), "--duration", str(int(args.seconds)), "--rate", str(RATE)]
        argv += ["--gil", "--nonblocking", "--format", "raw", "--output", str(raw)]
        spied = subprocess.run(argv, capture_output=True, text=True, timeout=args.seconds + 60)
        load.join()
        if spied.returncode != 0:
            print(f"py-spy failed: {spied.stderr.strip() or spied.stdout.strip()}", file=sys.stderr)
            return 1
        # Requests served while py-spy sampled: wrk's count, pro rata.
        profiled = result[0].requests * int(args.seconds) / (args.seconds + 2)
        if args.perf:
            by_object = perf_by_object(wrk, url, body, key, args, pid)
    counts: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack_text, _, n = line.rpartition(" ")
        samples = int(n)
        total += samples
        counts[classify(stack_text)] += samples
        leaves[stack_text.rsplit(";", 1)[-1]] += samples
    if args.stacks:
        shutil.copy(raw, args.stacks)
    us = {name: n / RATE / profiled * 1e6 for name, n in counts.items()}
    in_python = sum(us.values())
    print(f"workload {args.workload}, {args.connections} connections: {plain.requests} requests unprofiled,")
    print(
        f"  worker CPU {per_request:.0f} µs per request; GIL held {in_python:.0f} µs per request while profiled"
    )
    print(f"{'stage':42} {'µs/req':>8} {'share':>7}")
    for name, value in sorted(us.items(), key=lambda kv: -kv[1]):
        print(f"{name:42} {value:8.1f} {value / per_request:7.1%}")
    outside = per_request - in_python
    print(f"{'outside the GIL (Rust threads, kernel)':42} {outside:8.1f} {outside / per_request:7.1%}")
    print(f"\nhottest frames, self time (of {total} samples):")
    for frame, n in leaves.most_common(args.top):
        print(f"{n / total:6.1%}  {frame[:150]}")
    if args.perf:
        print("\nCPU by where it runs (perf, cpu-clock samples of the worker: CPU, not wall-clock):")
        for name, share in by_object:
            print(f"{share:6.1%}  {name:40} {share * per_request:7.1f} µs/req")
    return 0


def perf_by_object(
    wrk: Wrk, url: str, body: bytes, key: str, args: argparse.Namespace, pid: int
) -> list[tuple[str, float]]:
    """The worker's CPU under the same load, by shared object: the kernel (sockets, syscalls), the
    interpreter, and each extension (uvloop, httptools, asyncpg, numpy ...). perf samples CPU
    time, so unlike py-spy's rows these add up to the CPU measured."""
    data = Path(tempfile.mkdtemp(prefix="gw-perf-")) / "perf.data"
    load = threading.Thread(target=lambda: wrk.run(url, body, key, args.connections, 2, args.seconds + 2))
    load.start()
    time.sleep(1)
    subprocess.run(
        ["perf", "record", "-e", "cpu-clock", "-F", "999", "-p", str(pid), "-o", str(data), "--", "sleep",
         str(int(args.seconds))],
        capture_output=True, timeout=args.seconds + 60, check=True,
    )  # fmt: skip
    load.join()
    report = subprocess.run(
        ["perf", "report", "-i", str(data), "--stdio", "--sort", "dso", "--percent-limit", "0.5"],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    rows = []
    for line in report.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].endswith("%"):
            rows.append((parts[1], float(parts[0].rstrip("%")) / 100))
    return rows


if __name__ == "__main__":
    sys.exit(main())
