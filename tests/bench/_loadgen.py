"""Load generators: wrk (preferred) and a Python fallback on aiohttp, with one result shape."""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_TOTAL = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h),", re.MULTILINE)
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_PCT = re.compile(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


@dataclass(frozen=True)
class LoadResult:
    requests: int
    """Responses received completely (any status)."""
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors


class LoadGenerator(Protocol):
    name: str

    def run(
        self, url: str, body: bytes, api_key: str, connections: int, threads: int, seconds: float
    ) -> LoadResult: ...


# -- wrk ------------------------------------------------------------------------


def parse_wrk(output: str) -> LoadResult:
    """Read totals, the latency distribution and the error counts from ``wrk --latency`` output."""
    total, rps = _TOTAL.search(output), _RPS.search(output)
    if total is None or rps is None:
        raise ValueError(f"unexpected wrk output:\n{output}")
    pcts = {m[1]: float(m[2]) * _UNIT_MS[m[3]] for m in _PCT.finditer(output)}
    non_2xx = _NON_2XX.search(output)
    sockets = _SOCKET.search(output)
    return LoadResult(
        requests=int(total[1]),
        seconds=float(total[2]) * _UNIT_MS[total[3]] / 1000.0,
        rps=float(rps[1]),
        p50_ms=pcts.get("50", float("nan")),
        p99_ms=pcts.get("99", float("nan")),
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=sum(int(x) for x in sockets.groups()) if sockets else 0,
    )


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def wrk_script(body: bytes, api_key: str, headers: tuple[tuple[str, str], ...] = ()) -> str:
    """The Lua script that makes wrk send our POST (with ``headers`` besides)."""
    return "\n".join(
        [
            'wrk.method = "POST"',
            f"wrk.body = {_lua_string(body.decode())}",
            'wrk.headers["Content-Type"] = "application/json"',
            f'wrk.headers["Authorization"] = {_lua_string("Bearer " + api_key)}',
            *(f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers),
            "",
        ]
    )


class Wrk:
    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.name = "wrk"
        self._scripts: dict[tuple[bytes, str, tuple[tuple[str, str], ...]], Path] = {}

    def _script(self, body: bytes, api_key: str, headers: tuple[tuple[str, str], ...]) -> Path:
        path = self._scripts.get((body, api_key, headers))
        if path is None:
            path = self.workdir / f"request-{len(self._scripts) + 1}.lua"
            path.write_text(wrk_script(body, api_key, headers))
            self._scripts[(body, api_key, headers)] = path
        return path

    def run(
        self,
        url: str,
        body: bytes,
        api_key: str,
        connections: int,
        threads: int,
        seconds: float,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> LoadResult:
        script = self._script(body, api_key, headers)
        argv = [
            self.binary,
            f"-t{min(threads, connections)}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "--latency",
            "-s",
            str(script),
            url,
        ]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout}")
        return parse_wrk(done.stdout)


def wrk_version(binary: str) -> str:
    # `wrk -v` prints its version and exits non-zero.
    done = subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=10, check=False)
    return (done.stdout or done.stderr).strip().splitlines()[0] if (done.stdout or done.stderr) else "wrk"


# -- Python fallback --------------------------------------------------------------


def percentile(sorted_values: list[float], pct: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(pct / 100.0 * len(sorted_values)) - 1))
    return sorted_values[index]


class AiohttpLoad:
    """``connections`` keep-alive connections, each sending the next request when the last one ends.

    Python is much slower than wrk: on a small machine it is the bottleneck, so its
    req/s numbers are a floor, not the target's capacity.
    """

    name = "aiohttp (wrk not available)"

    def run(
        self,
        url: str,
        body: bytes,
        api_key: str,
        connections: int,
        threads: int,
        seconds: float,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> LoadResult:
        return asyncio.run(self._run(url, body, api_key, connections, seconds, headers))

    async def _run(
        self,
        url: str,
        body: bytes,
        api_key: str,
        connections: int,
        seconds: float,
        extra: tuple[tuple[str, str], ...],
    ) -> LoadResult:
        import aiohttp

        headers = {"content-type": "application/json", "authorization": f"Bearer {api_key}", **dict(extra)}
        latencies: list[float] = []
        counts = {"non_2xx": 0, "errors": 0}
        deadline = time.perf_counter() + seconds

        async def worker(session: aiohttp.ClientSession) -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    async with session.post(url, data=body, headers=headers) as resp:
                        await resp.read()
                        if not 200 <= resp.status < 300:
                            counts["non_2xx"] += 1
                except (aiohttp.ClientError, TimeoutError):
                    counts["errors"] += 1
                    continue
                latencies.append((time.perf_counter() - started) * 1000.0)

        connector = aiohttp.TCPConnector(limit=connections)
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            started = time.perf_counter()
            await asyncio.gather(*(worker(session) for _ in range(connections)))
            elapsed = time.perf_counter() - started
        latencies.sort()
        return LoadResult(
            requests=len(latencies),
            seconds=elapsed,
            rps=len(latencies) / elapsed if elapsed > 0 else 0.0,
            p50_ms=percentile(latencies, 50),
            p99_ms=percentile(latencies, 99),
            non_2xx=counts["non_2xx"],
            socket_errors=counts["errors"],
        )
