"""Several workers, under each server, run on the settings ``gateway serve`` resolved, handed
over in memory: nothing is added to their environment, and a SIGHUP restart brings them back."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import GatewayProcess


def _started(gw: GatewayProcess) -> list[int]:
    """The pids of the workers that started, in order, from their ``gateway_started`` lines."""
    pids = []
    for line in gw.log().splitlines():
        if '"gateway_started"' in line:
            pids.append(json.loads(line)["pid"])
    return pids


def _wait_started(gw: GatewayProcess, count: int) -> list[int]:
    deadline = time.monotonic() + 60
    while len(pids := _started(gw)) < count:
        assert time.monotonic() < deadline, gw.log()[-3000:]
        time.sleep(0.1)
    return pids


def _started_with(
    config_file: Path, database_url: str, tmp_path: Path, server: str, setting: str = "workers = 2"
) -> GatewayProcess:
    """A gateway under ``server`` with one setting added to the harness's configuration."""
    config = tmp_path / "gateway.toml"
    config.write_text(setting + "\n" + config_file.read_text())
    return GatewayProcess(config, database_url, tmp_path / "state", server=server).start()


def _environ(pid: int) -> set[str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return {item.split(b"=", 1)[0].decode() for item in raw.split(b"\0") if item}


@pytest.mark.parametrize("server", ["granian", "uvicorn", "gateway"])
def test_two_workers_run_on_the_settings_of_their_parent(
    server: str, gateway_config_file: Path, database_url: str, tmp_path: Path
) -> None:
    gw = _started_with(gateway_config_file, database_url, tmp_path, server)
    try:
        first = _wait_started(gw, 2)
        assert len(set(first)) == 2 and gw.proc is not None and gw.proc.pid not in first
        harness = set(gw.env())
        for pid in first:
            assert _environ(pid) <= harness, "the parent added to its workers' environment"
        assert httpx.get(gw.url + "/v1/models").status_code == 401  # the model API, not_ready no more

        gw.proc.send_signal(signal.SIGHUP)  # both servers replace their workers
        restarted = _wait_started(gw, 4)[2:]
        assert not set(restarted) & set(first)
        for pid in restarted:
            assert _environ(pid) <= harness
        deadline = time.monotonic() + 30
        while httpx.get(gw.url + "/readyz").status_code != 200:
            assert time.monotonic() < deadline, gw.log()[-3000:]
            time.sleep(0.1)
    finally:
        gw.stop()


def test_the_gateways_own_server_replaces_a_worker_that_dies(
    gateway_config_file: Path, database_url: str, tmp_path: Path
) -> None:
    gw = _started_with(gateway_config_file, database_url, tmp_path, "gateway")
    try:
        first = _wait_started(gw, 2)
        os.kill(first[0], signal.SIGKILL)
        replacement = _wait_started(gw, 3)[2]
        assert replacement not in first
        assert '"worker_died"' in gw.log()
        for _ in range(20):  # every connection is served, whichever worker takes it
            assert httpx.get(gw.url + "/readyz").status_code == 200
    finally:
        gw.stop()


def test_the_gateways_own_workers_stop_when_their_parent_is_killed(
    gateway_config_file: Path, database_url: str, tmp_path: Path
) -> None:
    gw = _started_with(gateway_config_file, database_url, tmp_path, "gateway")
    try:
        workers = _wait_started(gw, 2)
        assert gw.proc is not None
        gw.proc.kill()  # SIGKILL: the parent cannot pass anything on
        gw.proc.wait()
        deadline = time.monotonic() + 30
        while alive := [pid for pid in workers if _running(pid)]:
            assert time.monotonic() < deadline, f"orphaned workers still serve: {alive}"
            time.sleep(0.1)
    finally:
        gw.stop()


def _running(pid: int) -> bool:
    """The process exists and is not a zombie (an orphan's zombie is reaped by init)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_the_own_servers_idle_timeout_is_the_setting(
    gateway_config_file: Path, database_url: str, tmp_path: Path
) -> None:
    gw = _started_with(gateway_config_file, database_url, tmp_path, "gateway", "http_idle_seconds = 1")
    try:
        with socket.create_connection(("127.0.0.1", gw.port), timeout=30) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: gateway\r\n\r\n")
            answer = b""
            while b"\r\n\r\n" not in answer:
                answer += sock.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200 ")
            # Kept alive, then idle: closed after the setting's 1 s (75 s by default, past the timeout).
            sock.settimeout(20)
            while chunk := sock.recv(65536):
                answer += chunk
    finally:
        gw.stop()
