"""The gateway's log stays JSON lines through a database outage, asyncpg's tracebacks included."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from tests.e2e.conftest import GatewayProcess, free_port
from tests.tcp_proxy import TcpProxy


class ThreadedTcpProxy:
    """:class:`TcpProxy` on an event loop of its own, for a test that is not async."""

    def __init__(self, host: str, port: int) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.proxy = self._call(TcpProxy(host, port).start())

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def cut(self) -> None:
        self._call(self.proxy.cut())

    def close(self) -> None:
        self.cut()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


@pytest.fixture
def database_proxy(database_url: str) -> Iterator[tuple[ThreadedTcpProxy, str]]:
    """A TCP proxy to the test database and the database URL through it."""
    parts = urlsplit(database_url)
    proxy = ThreadedTcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    netloc = (
        f"{parts.username}@127.0.0.1:{proxy.proxy.port}"
        if parts.username
        else f"127.0.0.1:{proxy.proxy.port}"
    )
    yield proxy, urlunsplit(parts._replace(netloc=netloc))
    proxy.close()


def lines_until(stream: IO[str], seen: list[dict[str, Any]], done: Any) -> None:
    """Read the log line by line (blocking: no polling) until ``done(line)``; each must be JSON."""
    for raw in stream:
        try:
            line = json.loads(raw)
        except ValueError:
            raise AssertionError(f"not a JSON line: {raw!r}") from None
        seen.append(line)
        if done(line):
            return
    raise AssertionError(f"the log ended first; last lines: {seen[-5:]}")


@pytest.mark.parametrize("server", ["granian", "uvicorn", "gateway"])
def test_every_line_is_json_through_a_database_outage(
    server: str, gateway_config_file, database_proxy, tmp_path
) -> None:
    proxy, url = database_proxy
    gw = GatewayProcess(gateway_config_file, url, tmp_path / "state", server=server, port=free_port())
    cmd = [sys.executable, "-m", "gateway", "serve", "--config", str(gw.config), "--host", "127.0.0.1"]
    cmd += ["--port", str(gw.port), "--server", server]
    proc = subprocess.Popen(cmd, env=gw.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    seen: list[dict[str, Any]] = []
    try:
        lines_until(proc.stdout, seen, lambda line: line["event"] == "gateway_started")
        assert httpx.get(gw.url + "/readyz", timeout=10).status_code == 200
        proxy.cut()
        assert httpx.get(gw.url + "/readyz", timeout=10).status_code == 503
        # asyncpg's pool tries to restore its floor of connections and logs each failure with
        # its traceback: the line that used to be text.
        lines_until(proc.stdout, seen, lambda line: line.get("logger") == "asyncpg.pool")
        proc.terminate()
        rest = proc.communicate(timeout=60)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    seen += [json.loads(raw) for raw in rest.splitlines()]
    for line in seen:
        assert {"level", "event", "timestamp"} <= set(line), line
    floor = next(line for line in seen if line.get("logger") == "asyncpg.pool")
    assert floor["level"] == "warning" and floor["exception"][0]["frames"], floor
    assert all(not frame.get("locals") for exc in floor["exception"] for frame in exc["frames"])
