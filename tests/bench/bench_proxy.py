"""How much the gateway costs: throughput, latency and CPU per request, against nginx and direct.

    python tests/bench/bench_proxy.py [--duration 10] [--connections 32] [--server granian|uvicorn|gateway|both|all]

Starts the demo upstream, a fresh PostgreSQL database, nginx (a plain reverse proxy,
the reference) and the gateway, drives each with wrk (or a Python fallback), and
checks that the usage ledger holds one row per request. See tests/bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import msgspec
from _loadgen import AiohttpLoad, LoadGenerator, LoadResult, Wrk, wrk_version
from _support import (
    CHAT_PATH,
    HOST,
    PYTHON,
    REPO,
    Child,
    chat_body,
    free_port,
    interrupt_on_signals,
    machine_lines,
    start_demo_upstream,
    tree_cpu_seconds,
    wait_http_ok,
    wait_port,
)
from _ttft import first_event_ms

MODEL = "bench-gpt"
ADMIN_URL = f"postgresql://postgres@{HOST}:5432/postgres"
WORKLOADS = ("plain", "stream")
TARGET_SHARE_OF_NGINX = 0.20
TARGET_ADDED_P50_MS = 1.0
TARGET_ADDED_TTFT_MS = 0.3
GOAL_CPU_US = {"plain": 150.0, "stream": 400.0}
"""Issue 20's goals: CPU per plain call, and per stream of 20 content chunks (--stream-chunks)."""
_APT_PACKAGES = {"wrk": "wrk", "nginx": "nginx-light"}

NGINX_CONF = """\
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    upstream demo {{
        server {host}:{upstream_port};
        keepalive 64;
    }}
    server {{
        listen {host}:{port};
        location / {{
            proxy_pass http://demo;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            # The streaming workload needs events passed on as they come; harmless for the plain one.
            proxy_buffering off;
        }}
    }}
}}
"""


# -- tools ------------------------------------------------------------------------


def find_tool(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for folder in ("/usr/sbin", "/usr/local/sbin", "/sbin"):
        path = Path(folder) / name
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    return None


def _apt(args: list[str], log: Path) -> bool:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with log.open("ab") as out:
        done = subprocess.run(
            ["apt-get", *args], stdout=out, stderr=subprocess.STDOUT, env=env, timeout=900, check=False
        )
    return done.returncode == 0


def ensure_tools(allow_install: bool, workdir: Path) -> dict[str, str | None]:
    """wrk and nginx, installed with apt-get (once) when missing and running as root."""
    found = {name: find_tool(name) for name in _APT_PACKAGES}
    missing = [name for name, path in found.items() if path is None]
    if not missing:
        return found
    print(f"missing: {', '.join(missing)} (get them with: apt-get install -y wrk nginx)")
    if not allow_install or os.geteuid() != 0 or shutil.which("apt-get") is None:
        print("not installing them (--no-install, not root, or no apt-get)")
        return found
    packages = [_APT_PACKAGES[name] for name in missing]
    log = workdir / "apt.log"
    print(f"installing {' '.join(packages)} with apt-get (log: {log}) ...", flush=True)
    if not _apt(["install", "-y", "--no-install-recommends", *packages], log):
        _apt(["update"], log)
        if (
            not _apt(["install", "-y", "--no-install-recommends", *packages], log)
            and "nginx-light" in packages
        ):
            # Newer Debian has no nginx-light: the plain package is the same server.
            packages = ["nginx" if p == "nginx-light" else p for p in packages]
            _apt(["install", "-y", "--no-install-recommends", *packages], log)
    return {name: find_tool(name) for name in _APT_PACKAGES}


def nginx_version(binary: str) -> str:
    done = subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=10, check=False)
    return (done.stderr or done.stdout).strip().removeprefix("nginx version: ")


# -- database ---------------------------------------------------------------------


class Database:
    """A fresh database (dropped at the end), or ``$GATEWAY_DATABASE_URL`` when set."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._conn: asyncpg.Connection | None = None
        self.created: str | None = None
        self.url = os.environ.get("GATEWAY_DATABASE_URL", "")

    def open(self) -> None:
        if self.url:
            return
        name = f"gw_bench_{secrets.token_hex(4)}"
        self._loop.run_until_complete(self._admin(f"create database {name}"))
        self.created = name
        self.url = f"postgresql://postgres@{HOST}:5432/{name}"

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._loop.run_until_complete(self._conn.close(timeout=5))
        if self.created is not None:
            try:
                self._loop.run_until_complete(
                    self._admin(f"drop database if exists {self.created} with (force)")
                )
            except Exception as exc:
                print(f"could not drop database {self.created}: {exc}", file=sys.stderr)
        self._loop.close()

    async def _admin(self, sql: str) -> None:
        conn = await asyncpg.connect(ADMIN_URL, timeout=10)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    def server_version(self) -> str:
        return str(self._loop.run_until_complete(self._fetchval("show server_version")))

    def usage_counts(self) -> tuple[int, int]:
        """Rows in ``usage_events``: all of them, and those with a 2xx status."""
        sql = "select count(*), count(*) filter (where status between 200 and 299) from usage_events"
        row = self._loop.run_until_complete(self._fetchrow(sql))
        return int(row[0]), int(row[1])

    def settled_usage_counts(self, at_least: int, timeout: float = 15.0) -> tuple[int, int]:
        """The counts once they stop moving (the ledger writes in batches, every 0.25 s)."""
        deadline = time.monotonic() + timeout
        last, since = self.usage_counts(), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.2)
            now = self.usage_counts()
            if now != last:
                last, since = now, time.monotonic()
            elif now[0] >= at_least and time.monotonic() - since >= 1.0:
                break
        return last

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(self.url, timeout=10)
        return self._conn

    async def _fetchval(self, sql: str) -> object:
        return await (await self._connection()).fetchval(sql)

    async def _fetchrow(self, sql: str) -> asyncpg.Record:
        return await (await self._connection()).fetchrow(sql)


# -- the things under test ------------------------------------------------------------


def gateway_env(db_url: str, state_dir: Path) -> dict[str, str]:
    # A database of the user's own needs its master keys too: GATEWAY_KYC_KEYS passes through.
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_") or k == "GATEWAY_KYC_KEYS"}
    env.update(GATEWAY_DATABASE_URL=db_url, GATEWAY_STATE_DIR=str(state_dir), GATEWAY_LOG_LEVEL="warning")
    return env


# The shipped default plan allows 50 requests/s per key: a benchmark would measure refusals. This
# deployment sells a bulk plan instead, so that every quota is checked and none refuses.
BULK_PLAN = """\
[plans.default]
title = "Benchmark bulk plan"
limits = [
  { dimension = "requests", period = "second", limit = 1e6, scope = "key" },
  { dimension = "requests", period = "minute", limit = 6e7 },
  { dimension = "output_tokens", period = "day", limit = 1e13 },
]
"""


def write_config(path: Path, upstream_port: int) -> Path:
    policy = path.parent / "policy"
    policy.mkdir(exist_ok=True)
    (policy / "plans.toml").write_text(BULK_PLAN)
    path.write_text(
        f'policy_dir = "{policy}"\n'
        "[[upstreams]]\n"
        'name = "bench"\n'
        'kind = "openai"\n'
        f'base_url = "http://{HOST}:{upstream_port}/v1"\n'
        f'models = ["{MODEL}"]\n'
        'region = "US"\n'
    )
    return path


def gateway_cli(env: dict[str, str], *args: str) -> object:
    done = subprocess.run(
        [PYTHON, "-m", "gateway", *args, "--json"], env=env, capture_output=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"gateway {' '.join(args)} failed: {done.stderr.decode().strip()}")
    return msgspec.json.decode(done.stdout)


def create_key(env: dict[str, str], customer: str) -> str:
    gateway_cli(env, "db", "migrate")
    # A verified customer: the proxy refuses everyone else.
    gateway_cli(env, "customers", "create", "--name", customer, "--kind", "individual", "--country", "US")
    gateway_cli(env, "kyc", "submit", "--customer", customer)
    gateway_cli(env, "kyc", "approve", "--customer", customer, "--reason", "benchmark customer")
    created = gateway_cli(env, "keys", "create", "--customer", customer, "--project", "p")
    assert isinstance(created, dict)
    return str(created["key"])


def start_gateway(
    server: str, config: Path, env: dict[str, str], workdir: Path, tree: Path | None = None
) -> tuple[Child, int]:
    """One gateway; from another source ``tree`` (a checkout of an earlier commit) if given."""
    port = free_port()
    argv = [PYTHON, "-m", "gateway", "serve", "--config", str(config)]
    argv += ["--host", HOST, "--port", str(port), "--server", server]
    if tree is not None:
        env = {**env, "PYTHONPATH": str(tree)}
    log = workdir / f"gateway-{server}{'-baseline' if tree else ''}.log"
    child = Child(f"gateway ({server})", argv, log, env, cwd=tree or REPO)
    try:
        wait_http_ok(f"http://{HOST}:{port}/readyz", child, timeout=90)
    except BaseException:
        child.stop()
        raise
    return child, port


BARE_VARIANTS = {
    "asgi": "bare (granian ASGI + pyreqwest)",
    "asgi-http1": "bare (granian ASGI + http1)",
    "rsgi": "bare (granian RSGI + pyreqwest)",
    "rsgi-http1": "bare (granian RSGI + http1)",
    "uvicorn-http1": "bare (uvicorn + http1)",
    "httpd-http1": "bare (gateway.httpd + http1)",
    "raw": "bare (uvloop + httptools)",
}


def start_bare(variant: str, upstream_port: int, workdir: Path) -> tuple[Child, int]:
    """A proxy that only forwards (tests/bench/bare_proxy.py): what Python itself costs."""
    port = free_port()
    argv = [PYTHON, str(Path(__file__).with_name("bare_proxy.py")), "--variant", variant]
    argv += ["--upstream", f"http://{HOST}:{upstream_port}", "--host", HOST, "--port", str(port)]
    child = Child(f"bare {variant}", argv, workdir / f"bare-{variant}.log")
    try:
        wait_port(port, child)
    except BaseException:
        child.stop()
        raise
    return child, port


def start_nginx(binary: str, upstream_port: int, prefix: Path) -> tuple[Child, int]:
    prefix.mkdir()
    prefix.chmod(0o755)  # the worker runs as nobody when we are root
    port = free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX_CONF.format(prefix=prefix, host=HOST, port=port, upstream_port=upstream_port))
    argv = [binary, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
    child = Child("nginx", argv, prefix / "stdout.log")
    try:
        wait_port(port, child)
    except BaseException:
        child.stop(grace=5)
        raise
    return child, port


# -- measuring ------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    name: str
    url: str
    proxy_pid: int | None
    """The process (tree) in the middle whose CPU we charge per request; None for direct."""
    ledger: bool
    """Whether this target writes usage events (the gateway does)."""


@dataclass(frozen=True)
class LedgerCheck:
    rows: int
    rows_2xx: int
    completed: int
    in_flight: int
    """Requests wrk may have cut at the end of the run: the gateway records those too."""

    @property
    def ok(self) -> bool:
        return self.completed <= self.rows <= self.completed + self.in_flight


@dataclass(frozen=True)
class Row:
    target: str
    workload: str
    loaded: bool
    connections: int
    result: LoadResult
    proxy_cpu_us: float | None
    upstream_cpu_us: float
    ledger: LedgerCheck | None


class ProxyBench:
    def __init__(
        self, gen: LoadGenerator, api_key: str, upstream: Child, db: Database, args: argparse.Namespace
    ) -> None:
        self.gen = gen
        self.api_key = api_key
        self.upstream = upstream
        self.db = db
        self.args = args
        self.rows: list[Row] = []
        self.ttft: dict[str, float] = {}
        """Median ms to a stream's first event, one call at a time, per target."""

    def run_target(self, target: Target) -> None:
        """Each workload loaded (many connections), then unloaded (one connection)."""
        a = self.args
        for workload in WORKLOADS:
            self.measure(target, workload, True, a.connections, a.threads, a.duration, a.warmup)
        for workload in WORKLOADS:
            self.measure(target, workload, False, 1, 1, a.unloaded_duration, 0.0)
        ttft = first_event_ms(target.url, chat_body(MODEL, stream=True), self.api_key)
        self.ttft[target.name] = ttft
        print(f"  {target.name:<18} first event of a stream, 1 conn: {ttft:.3f} ms (median)", flush=True)

    def measure(
        self,
        target: Target,
        workload: str,
        loaded: bool,
        connections: int,
        threads: int,
        seconds: float,
        warmup: float,
    ) -> Row:
        body = chat_body(MODEL, stream=workload == "stream")
        # A stream of --stream-chunks content chunks (the demo upstream's x-demo-chunks), plus its
        # role, finish and [DONE] events.
        extra = (("x-demo-chunks", str(self.args.stream_chunks)),) if workload == "stream" else ()
        print(f"  {target.name:<18} {workload:<6} c={connections:<3} {seconds:g}s ...", end="", flush=True)
        if warmup > 0:
            self.gen.run(target.url, body, self.api_key, connections, threads, warmup, extra)
        ledger_before = self.db.settled_usage_counts(0) if target.ledger else (0, 0)
        cpu_before = self._cpu(target)
        result = self.gen.run(target.url, body, self.api_key, connections, threads, seconds, extra)
        cpu_after = self._cpu(target)
        proxy_cpu, upstream_cpu = cpu_after[0] - cpu_before[0], cpu_after[1] - cpu_before[1]
        ledger = self._ledger_check(ledger_before, result.requests, connections) if target.ledger else None
        row = Row(
            target.name,
            workload,
            loaded,
            connections,
            result,
            per_request_us(proxy_cpu, result.requests) if target.proxy_pid else None,
            per_request_us(upstream_cpu, result.requests),
            ledger,
        )
        flag = f"  ERRORS: {result.errors}" if result.errors else ""
        print(f" {result.rps:9.1f} req/s  p50 {result.p50_ms:.2f} ms{flag}", flush=True)
        self.rows.append(row)
        return row

    def _cpu(self, target: Target) -> tuple[float, float]:
        """CPU seconds so far of the proxy under test (0 for direct) and of the upstream."""
        proxy = tree_cpu_seconds(target.proxy_pid) if target.proxy_pid else 0.0
        return proxy, tree_cpu_seconds(self.upstream.pid)

    def _ledger_check(self, before: tuple[int, int], completed: int, connections: int) -> LedgerCheck:
        after = self.db.settled_usage_counts(before[0] + completed)
        return LedgerCheck(after[0] - before[0], after[1] - before[1], completed, connections)

    def find(self, target: str, workload: str, loaded: bool = True) -> Row | None:
        for row in self.rows:
            if (row.target, row.workload, row.loaded) == (target, workload, loaded):
                return row
        return None


def per_request_us(cpu_seconds: float, requests: int) -> float:
    return cpu_seconds / requests * 1e6 if requests else math.nan


# -- report ------------------------------------------------------------------------


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None or math.isnan(value) else format(value, fmt)


def _ledger_cell(check: LedgerCheck | None) -> str:
    if check is None:
        return "-"
    verdict = "ok" if check.ok else "MISMATCH"
    return f"{check.rows} rows ({check.rows_2xx} 2xx) / {check.completed} done: {verdict}"


def print_table(rows: list[Row]) -> None:
    header = ["target", "workload", "conns", "req/s", "p50 ms", "p99 ms"]
    header += ["proxy CPU µs/req", "upstream CPU µs/req", "errors", "ledger (rows / wrk completed)"]
    cells = [
        [
            r.target,
            r.workload,
            str(r.connections),
            _num(r.result.rps, ".1f"),
            _num(r.result.p50_ms, ".2f"),
            _num(r.result.p99_ms, ".2f"),
            _num(r.proxy_cpu_us, ".0f"),
            _num(r.upstream_cpu_us, ".0f"),
            f"{r.result.errors} !!" if r.result.errors else "0",
            _ledger_cell(r.ledger),
        ]
        for r in rows
    ]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    numeric = {2, 3, 4, 5, 6, 7, 8}

    def line(values: list[str]) -> str:
        return "  ".join(
            v.rjust(w) if i in numeric else v.ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ).rstrip()

    print(line(header))
    print(line(["-" * w for w in widths]))
    for c in cells:
        print(line(c))


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _check(label: str, value: str, ok: bool, goal: str) -> str:
    return f"  {label:<30} {value:>9}  ({goal}: {_verdict(ok)})"


def compare(bench: ProxyBench, gw: str, workload: str, connections: int) -> Iterator[str]:
    """The gateway against nginx and direct, for one workload, with the targets."""
    row = bench.find(gw, workload)
    if row is None:
        return
    direct, nginx = bench.find("direct", workload), bench.find("nginx", workload)
    quiet_gw = bench.find(gw, workload, loaded=False)
    quiet_direct = bench.find("direct", workload, loaded=False)
    yield f"{gw}, {workload}:"
    if nginx is not None and nginx.result.rps > 0:
        share = row.result.rps / nginx.result.rps
        goal = f"target >= {TARGET_SHARE_OF_NGINX:.0%}"
        yield _check("req/s, share of nginx's", f"{share:.1%}", share >= TARGET_SHARE_OF_NGINX, goal)
    else:
        yield "  req/s, share of nginx's: n/a (no nginx run)"
    if direct is not None and direct.result.rps > 0:
        yield f"  {'req/s, share of direct':<30} {row.result.rps / direct.result.rps:>9.1%}"
        added = row.result.p50_ms - direct.result.p50_ms
        yield f"  {f'added p50, loaded ({connections} conns)':<30} {added:>+6.2f} ms"
    if quiet_gw is not None and quiet_direct is not None:
        added = quiet_gw.result.p50_ms - quiet_direct.result.p50_ms
        goal = f"target <= {TARGET_ADDED_P50_MS:g} ms"
        yield _check("added p50, unloaded (1 conn)", f"{added:+.2f} ms", added <= TARGET_ADDED_P50_MS, goal)
    if workload == "stream" and gw in bench.ttft and "direct" in bench.ttft:
        added = bench.ttft[gw] - bench.ttft["direct"]
        goal = f"target <= {TARGET_ADDED_TTFT_MS:g} ms"
        ok = added <= TARGET_ADDED_TTFT_MS
        yield _check("added time to first event", f"{added:+.3f} ms", ok, goal)
    if row.proxy_cpu_us is not None:
        cpu = row.proxy_cpu_us
        goal_us = GOAL_CPU_US[workload]
        yield _check("CPU per request", f"{cpu:.0f} µs", cpu <= goal_us, f"goal <= {goal_us:g} µs")
        # The same figure as a ratio to the references measured in this run: the steadier comparison.
        for ref in ("nginx", *BARE_VARIANTS.values()):
            base = bench.find(ref, workload)
            if base is not None and base.proxy_cpu_us:
                yield f"  {'CPU, times ' + ref.removeprefix('bare '):<30} {cpu / base.proxy_cpu_us:>8.1f}x"


def problems(rows: list[Row]) -> list[str]:
    out = []
    for r in rows:
        where = f"{r.target} {r.workload} c={r.connections}"
        if r.result.errors:
            out.append(
                f"{where}: {r.result.non_2xx} non-2xx responses, {r.result.socket_errors} socket errors"
            )
        if r.ledger is not None and not r.ledger.ok:
            c = r.ledger
            out.append(
                f"{where}: ledger has {c.rows} new rows for {c.completed} completed requests "
                f"(expected {c.completed}..{c.completed + c.in_flight})"
            )
    return out


# -- main ------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--duration", type=float, default=10.0, help="seconds per loaded run (default 10)")
    p.add_argument("--connections", type=int, default=32, help="connections per loaded run (default 32)")
    p.add_argument("--threads", type=int, default=2, help="wrk threads for loaded runs (default 2)")
    p.add_argument("--server", choices=["gateway", "granian", "uvicorn", "both", "all"], default="gateway")
    p.add_argument("--unloaded-duration", type=float, default=5.0, help="seconds per 1-connection run")
    p.add_argument("--warmup", type=float, default=1.0, help="seconds of warm-up before each loaded run")
    p.add_argument(
        "--bare",
        default="httpd-http1,raw",
        help="bare Python proxies to measure too, comma-separated from "
        + ", ".join(BARE_VARIANTS)
        + " (default: the gateway's own stack, and no framework); '' for none",
    )
    p.add_argument("--loadgen", choices=["auto", "aiohttp"], default="auto", help="auto: wrk if available")
    p.add_argument("--no-install", action="store_true", help="do not apt-get install missing wrk/nginx")
    p.add_argument("--keep-logs", action="store_true", help="keep the temporary folder with the logs")
    p.add_argument(
        "--quota-off-too", action="store_true", help="also run each gateway without the quota stage"
    )
    p.add_argument(
        "--features-off-too",
        action="store_true",
        help="also run each gateway without the detector's call features (detect_features = false)",
    )
    p.add_argument(
        "--baseline-server",
        default="granian",
        help="the server the --baseline-tree gateway runs under (default granian)",
    )
    p.add_argument(
        "--baseline-tree",
        metavar="DIR",
        help="also run the gateway from this checkout (e.g. `git worktree add DIR <commit>`), first",
    )
    p.add_argument("--again", action="store_true", help="run the plain gateway once more after the variants")
    p.add_argument(
        "--stream-chunks",
        type=int,
        default=20,
        help="content chunks per stream (default 20, as issue 20 counts; 11 before, one per reply word)",
    )
    p.add_argument(
        "--policy-off-too", action="store_true", help="also run each gateway without the jurisdiction stage"
    )
    args = p.parse_args(argv)
    args.bare = [v for v in args.bare.split(",") if v]
    if unknown := [v for v in args.bare if v not in BARE_VARIANTS]:
        p.error(f"--bare: unknown variant(s) {', '.join(unknown)}; choose from {', '.join(BARE_VARIANTS)}")
    if args.connections < 1 or args.duration <= 0 or args.unloaded_duration <= 0:
        p.error("--connections, --duration and --unloaded-duration must be positive")
    return args


def choose_loadgen(args: argparse.Namespace, wrk: str | None, workdir: Path) -> tuple[LoadGenerator, str]:
    if wrk and args.loadgen == "auto":
        return Wrk(wrk, workdir), wrk_version(wrk)
    if args.loadgen == "auto":
        print("wrk unavailable: using the aiohttp load generator (the client will be the bottleneck)")
    return AiohttpLoad(), "aiohttp (Python fallback: its own CPU limits the req/s)"


def start_reference(
    binary: str | None, upstream_port: int, workdir: Path, stack: contextlib.ExitStack
) -> tuple[Target | None, str]:
    """nginx in front of the demo upstream, or None and the reason why not."""
    if not binary:
        return None, "skipped: nginx is not installed (apt-get install -y nginx-light)"
    try:
        nginx, port = start_nginx(binary, upstream_port, workdir / "nginx")
    except (RuntimeError, OSError) as exc:
        return None, f"skipped: nginx did not start ({exc})"
    stack.callback(nginx.stop, grace=5)
    return Target("nginx", f"http://{HOST}:{port}{CHAT_PATH}", nginx.pid, False), nginx_version(binary)


def bench_gateways(
    bench: ProxyBench, servers: list[str], config: Path, env: dict[str, str], workdir: Path
) -> list[str]:
    """Start each gateway in turn (never two at once: they would share the CPUs) and measure it."""
    names: list[str] = []

    def measure(name: str, server: str, variant_env: dict[str, str], tree: Path | None = None) -> None:
        gateway, port = start_gateway(server, config, variant_env, workdir, tree)
        try:
            names.append(name)
            bench.run_target(Target(name, f"http://{HOST}:{port}{CHAT_PATH}", gateway.pid, True))
        finally:
            gateway.stop()

    if bench.args.baseline_tree is not None:
        # The gateway from an earlier commit's checkout, first, in this run: before and after. It
        # runs under --baseline-server (an older checkout may not have the server measured now).
        tree = Path(bench.args.baseline_tree).resolve()
        server = bench.args.baseline_server
        measure(f"gateway ({server}, baseline {tree.name})", server, env, tree)
    variants: list[tuple[str, dict[str, str]]] = [("", env)]
    if bench.args.policy_off_too:
        # The same gateway without the jurisdiction stage, in the same run: what the stage costs.
        variants.append((", policy off", {**env, "GATEWAY_POLICY_MODE": "off"}))
    if bench.args.quota_off_too:
        # ... and without the quota stage: what metering every request costs.
        variants.append((", quota off", {**env, "GATEWAY_QUOTA_MODE": "off"}))
    if bench.args.features_off_too:
        # ... without the detector's call features (extracted off the request path, on the same CPU).
        variants.append((", features off", {**env, "GATEWAY_DETECT_FEATURES": "false"}))
    if bench.args.again:
        # The plain gateway once more, last: how much of a variant's difference is the run's order.
        variants.append((", again", env))
    for server in servers:
        for suffix, variant_env in variants:
            measure(f"gateway ({server}{suffix})", server, variant_env)
    return names


def report(bench: ProxyBench, gateways: list[str], connections: int) -> int:
    print()
    print_table(bench.rows)
    print("\nproxy CPU: the gateway's (or nginx's) processes, user + system, per completed request.")
    for name in gateways:
        for workload in WORKLOADS:
            print("\n".join(["", *compare(bench, name, workload, connections)]))
    found = problems(bench.rows)
    if found:
        print("\nPROBLEMS (these runs are not valid measurements):")
        print("\n".join(f"  - {p}" for p in found))
    return 1 if found else 0


def run(args: argparse.Namespace, workdir: Path, stack: contextlib.ExitStack) -> int:
    tools = ensure_tools(not args.no_install, workdir)
    gen, client_version = choose_loadgen(args, tools["wrk"], workdir)
    upstream, upstream_port = start_demo_upstream(workdir)
    stack.callback(upstream.stop)
    db = Database()
    db.open()
    stack.callback(db.close)
    env = gateway_env(db.url, workdir / "state")
    config = write_config(workdir / "gateway.toml", upstream_port)
    api_key = create_key(env, "bench" if db.created else f"bench-{secrets.token_hex(3)}")
    nginx, nginx_note = start_reference(tools["nginx"], upstream_port, workdir, stack)

    print("\n".join(machine_lines(["granian", "uvicorn", "pyreqwest", "litestar", "asyncpg", "aiohttp"])))
    print(f"load generator: {client_version}; nginx: {nginx_note}; postgres: {db.server_version()}")
    print(
        f"loaded runs: {args.connections} connections, {args.threads} threads, {args.duration:g}s "
        f"(+{args.warmup:g}s warm-up); unloaded runs: 1 connection, {args.unloaded_duration:g}s"
    )
    print("all processes share this machine's CPUs: wrk, the upstream, and the proxy under test.\n")

    bench = ProxyBench(gen, api_key, upstream, db, args)
    bench.run_target(Target("direct", f"http://{HOST}:{upstream_port}{CHAT_PATH}", None, False))
    if nginx is not None:
        bench.run_target(nginx)
    for variant in args.bare:
        bare, port = start_bare(variant, upstream_port, workdir)
        try:
            bench.run_target(
                Target(BARE_VARIANTS[variant], f"http://{HOST}:{port}{CHAT_PATH}", bare.pid, False)
            )
        finally:
            bare.stop()
    servers = {"both": ["granian", "uvicorn"], "all": ["granian", "uvicorn", "gateway"]}.get(
        args.server, [args.server]
    )
    gateways = bench_gateways(bench, servers, config, env, workdir)
    return report(bench, gateways, args.connections)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    interrupt_on_signals()
    workdir = Path(tempfile.mkdtemp(prefix="gw-bench-"))
    workdir.chmod(0o711)  # run as root, nginx's worker is nobody: it must reach its prefix in here
    try:
        with contextlib.ExitStack() as stack:
            return run(args, workdir, stack)
    except KeyboardInterrupt:
        print("\ninterrupted: stopped every process this benchmark started", file=sys.stderr)
        return 130
    finally:
        if args.keep_logs:
            print(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
