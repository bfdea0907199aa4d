"""Which HTTP client the gateway should call upstreams with: req/s and CPU per request.

    python tests/bench/bench_clients.py [--duration 10] [--concurrency 32] [--clients pyreqwest,aiohttp,httpx]

In this one process, each client sends the same chat request to the demo upstream
(a subprocess under granian) from ``--concurrency`` tasks for ``--duration`` seconds,
plain and streamed. The CPU per request is this process's (all threads: pyreqwest's
Rust runtime included), which is what the client would cost the gateway.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the gateway's own client (http1)

from _support import (
    CHAT_PATH,
    HOST,
    chat_body,
    interrupt_on_signals,
    machine_lines,
    package_version,
    start_demo_upstream,
    tree_cpu_seconds,
)

HEADERS = [("content-type", "application/json"), ("authorization", "Bearer bench")]
WORKLOADS = ("plain", "stream")


class Client(Protocol):
    async def post(self, url: str, body: bytes, stream: bool) -> int:
        """Send one request, read the whole response, return its status."""

    async def close(self) -> None: ...


class PyreqwestClient:
    def __init__(self, multithreaded: bool = False, read_ahead: bool = True) -> None:
        from pyreqwest.client import ClientBuilder

        self.client = ClientBuilder().runtime_multithreaded(multithreaded).build()
        self.read_ahead = read_ahead

    async def post(self, url: str, body: bytes, stream: bool) -> int:
        request = self.client.post(url).headers(HEADERS).body_bytes(body)
        if not stream:
            response = await request.build().send()
            await response.bytes()
            return int(response.status)
        if not self.read_ahead:  # what the gateway does: each chunk handed over as it arrives
            request = request.streamed_read_buffer_limit(0)
        async with request.build_streamed() as streamed:
            while await streamed.body_reader.read_chunk() is not None:
                pass
            return int(streamed.status)

    async def close(self) -> None:
        await self.client.close()


class AiohttpClient:
    def __init__(self, concurrency: int) -> None:
        import aiohttp

        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency))

    async def post(self, url: str, body: bytes, stream: bool) -> int:
        async with self.session.post(url, data=body, headers=HEADERS) as response:
            if stream:
                async for _ in response.content.iter_any():
                    pass
            else:
                await response.read()
            return response.status

    async def close(self) -> None:
        await self.session.close()


class HttpxClient:
    def __init__(self, concurrency: int) -> None:
        import httpx

        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        self.client = httpx.AsyncClient(limits=limits, timeout=30)

    async def post(self, url: str, body: bytes, stream: bool) -> int:
        if not stream:
            response = await self.client.post(url, content=body, headers=HEADERS)
            return response.status_code
        async with self.client.stream("POST", url, content=body, headers=HEADERS) as streamed:
            async for _ in streamed.aiter_raw():
                pass
            return streamed.status_code

    async def close(self) -> None:
        await self.client.aclose()


class Http1Client:
    """The gateway's own upstream client (gateway/proxy/http1.py): one pool per origin."""

    def __init__(self, concurrency: int) -> None:
        self.pools: dict[str, object] = {}

    async def post(self, url: str, body: bytes, stream: bool) -> int:
        from urllib.parse import urlsplit

        from gateway.proxy.http1 import Http1Pool

        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        pool = self.pools.get(origin)
        if pool is None:
            pool = self.pools[origin] = Http1Pool(origin, connect_timeout=5, read_timeout=30)
        assert isinstance(pool, Http1Pool)
        headers = [(k.encode(), v.encode()) for k, v in HEADERS]
        async with await pool.request(b"POST", parts.path.encode(), headers, body) as response:
            while await response.read_chunk() is not None:
                pass
            return response.status

    async def close(self) -> None:
        for pool in self.pools.values():
            await pool.close()  # type: ignore[attr-defined]


CLIENTS: dict[str, tuple[str, Callable[[int], Client]]] = {
    "http1": ("httptools", Http1Client),
    "pyreqwest": ("pyreqwest", lambda n: PyreqwestClient()),
    "pyreqwest-nobuf": ("pyreqwest", lambda n: PyreqwestClient(read_ahead=False)),
    "pyreqwest-mt": ("pyreqwest", lambda n: PyreqwestClient(multithreaded=True)),
    "aiohttp": ("aiohttp", AiohttpClient),
    "httpx": ("httpx", HttpxClient),
}


@dataclass(frozen=True)
class Result:
    client: str
    workload: str
    requests: int
    errors: int
    seconds: float
    cpu_seconds: float
    upstream_cpu_seconds: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    def per_request_us(self, cpu_seconds: float) -> float:
        return cpu_seconds / self.requests * 1e6 if self.requests else math.nan


async def drive(
    client: Client, url: str, body: bytes, stream: bool, concurrency: int, seconds: float
) -> tuple[int, int]:
    """``concurrency`` tasks, each sending one request after another until the time is up."""
    deadline = time.perf_counter() + seconds
    counts = [0, 0]  # completed with 2xx, failed

    async def task() -> None:
        while time.perf_counter() < deadline:
            try:
                status = await client.post(url, body, stream)
            except Exception:
                counts[1] += 1
                continue
            counts[0 if 200 <= status < 300 else 1] += 1

    await asyncio.gather(*(task() for _ in range(concurrency)))
    return counts[0], counts[1]


async def measure(name: str, url: str, args: argparse.Namespace, upstream_pid: int) -> list[Result]:
    client = CLIENTS[name][1](args.concurrency)
    results = []
    try:
        for workload in args.workloads:
            body = chat_body("bench-gpt", stream=workload == "stream")
            await drive(client, url, body, workload == "stream", args.concurrency, args.warmup)
            up0, cpu0, t0 = tree_cpu_seconds(upstream_pid), time.process_time(), time.perf_counter()
            ok, failed = await drive(client, url, body, workload == "stream", args.concurrency, args.duration)
            elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
            upstream_cpu = tree_cpu_seconds(upstream_pid) - up0
            result = Result(name, workload, ok, failed, elapsed, cpu, upstream_cpu)
            flag = f"  ERRORS: {failed}" if failed else ""
            print(f"  {name:<15} {workload:<6} {result.rps:9.1f} req/s{flag}", flush=True)
            results.append(result)
    finally:
        await client.close()
    return results


def print_table(results: list[Result]) -> None:
    header = ["client", "workload", "req/s", "client CPU µs/req", "upstream CPU µs/req", "errors"]
    rows = [
        [
            r.client,
            r.workload,
            f"{r.rps:.1f}",
            f"{r.per_request_us(r.cpu_seconds):.0f}",
            f"{r.per_request_us(r.upstream_cpu_seconds):.0f}",
            f"{r.errors} !!" if r.errors else "0",
        ]
        for r in results
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]

    def line(values: list[str]) -> str:
        cells = (
            v.ljust(w) if i < 2 else v.rjust(w) for i, (v, w) in enumerate(zip(values, widths, strict=True))
        )
        return "  ".join(cells).rstrip()

    print(line(header))
    print(line(["-" * w for w in widths]))
    for row in rows:
        print(line(row))


def new_loop(kind: str) -> asyncio.AbstractEventLoop:
    if kind == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--duration", type=float, default=10.0, help="seconds per run (default 10)")
    p.add_argument("--concurrency", type=int, default=32, help="concurrent tasks (default 32)")
    p.add_argument("--warmup", type=float, default=1.0, help="seconds of warm-up before each run")
    p.add_argument("--clients", default=",".join(CLIENTS), help=f"comma-separated, of {', '.join(CLIENTS)}")
    p.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated, of plain, stream")
    p.add_argument("--loop", choices=["uvloop", "asyncio"], default=None, help="default: uvloop if installed")
    args = p.parse_args(argv)
    args.clients = [c for c in args.clients.split(",") if c]
    args.workloads = [w for w in args.workloads.split(",") if w]
    if unknown := [c for c in args.clients if c not in CLIENTS] + [
        w for w in args.workloads if w not in WORKLOADS
    ]:
        p.error(f"unknown client or workload: {', '.join(unknown)}")
    if args.loop is None:
        args.loop = "uvloop" if package_version("uvloop") != "not installed" else "asyncio"
    return args


def run(args: argparse.Namespace, workdir: Path) -> int:
    upstream, port = start_demo_upstream(workdir)
    try:
        url = f"http://{HOST}:{port}{CHAT_PATH}"
        packages = sorted({CLIENTS[c][0] for c in args.clients} | {"granian", args.loop})
        print("\n".join(machine_lines(packages)))
        print(f"event loop: {args.loop}; {args.concurrency} concurrent tasks, {args.duration:g}s per run")
        print("the client and the upstream share this machine's CPUs.\n")
        results: list[Result] = []
        loop = new_loop(args.loop)
        try:
            for name in args.clients:
                results += loop.run_until_complete(measure(name, url, args, upstream.pid))
        finally:
            loop.close()
    finally:
        upstream.stop()
    print()
    print_table(results)
    print("\nclient CPU: this process (user + system, all threads) per request; lower is better.")
    return 1 if any(r.errors for r in results) else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    interrupt_on_signals()
    workdir = Path(tempfile.mkdtemp(prefix="gw-bench-clients-"))
    try:
        return run(args, workdir)
    except KeyboardInterrupt:
        print("\ninterrupted: the upstream is stopped", file=sys.stderr)
        return 130
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(workdir)


if __name__ == "__main__":
    sys.exit(main())
