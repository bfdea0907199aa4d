"""End-to-end fixtures: the demo upstream on loopback, the gateway as a real subprocess."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn

from gateway.audit.keys import new_key_spec
from gateway.clusters import identities
from gateway.demo.upstream import DemoUpstream
from gateway.identity.repository import CreatedKey, create_key
from tests.conftest import TEST_KYC_KEYS, _run, verified_customer
from tests.oidc_issuer import TestIssuer
from tests.slurm_cluster import SlurmCluster

UPSTREAM_KEY = "sk-upstream-test-credential-0123456789"
# Every gateway of a run shares the one database, as replicas do: they share the audit log's signing
# key too (as production sets audit_keys for all replicas), so that any of them verifies the log's
# checkpoints, whichever signed them.
TEST_AUDIT_KEYS = new_key_spec(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ThreadedServer:
    """An ASGI app under uvicorn in a background thread, on loopback."""

    def __init__(self, app: object) -> None:
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("upstream did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def upstream() -> Iterator[tuple[DemoUpstream, int]]:
    app = DemoUpstream(api_key=UPSTREAM_KEY)
    with ThreadedServer(app) as server:
        yield app, server.port


ADMIN_TOKEN = "test-admin-token-" + "x" * 24
PERSONA_SECRET = "wbhsec_test_persona"
GENERIC_SECRET = "generic-test-secret"


def gateway_config(upstream_port: int, dead_port: int, issuer: str = "http://127.0.0.1:9/none") -> str:
    return f"""
max_body_bytes = 1048576
access_log = true
ledger_flush_interval_seconds = 0.05
# The tests run the detector themselves (tests/e2e/test_detect.py): none in the background.
detect_seconds = 0
oidc_issuer = "{issuer}"
regulator_issuer = "{issuer}"
admin_token_sha256 = "{hashlib.sha256(ADMIN_TOKEN.encode()).hexdigest()}"

[[kyc_providers]]
name = "persona"
scheme = "persona"
secret_env = "TEST_PERSONA_SECRET"

[[kyc_providers]]
name = "acme-idv"
scheme = "generic"
secret_env = "TEST_GENERIC_SECRET"

[[upstreams]]
name = "test-openai"
kind = "openai"
base_url = "http://127.0.0.1:{upstream_port}/v1"
models = ["gpt-test"]
region = "US"
api_key_env = "TEST_UPSTREAM_KEY"

[[upstreams]]
name = "test-anthropic"
kind = "anthropic"
base_url = "http://127.0.0.1:{upstream_port}"
models = ["claude-test"]
region = "US"
api_key_env = "TEST_UPSTREAM_KEY"

[[upstreams]]
name = "slow"
kind = "openai"
base_url = "http://127.0.0.1:{upstream_port}/v1"
models = ["gpt-slow"]
region = "US"
api_key_env = "TEST_UPSTREAM_KEY"
read_timeout = 1.0

[[upstreams]]
name = "down"
kind = "openai"
base_url = "http://127.0.0.1:{dead_port}/v1"
models = ["gpt-down"]
region = "DE"
connect_timeout = 1.0
"""


def with_settings(config: str, settings: str) -> str:
    """``config`` with top-level ``settings`` added: they must come before its first ``[[table]]``."""
    head, _, tables = config.partition("\n[[")
    return head + "\n" + settings.strip() + "\n" + ("\n[[" + tables if tables else "")


@dataclass
class GatewayProcess:
    config: Path
    database_url: str
    state_dir: Path
    server: str = "gateway"
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.state_dir.parent / f"gateway-{self.port}.log"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        env.update(
            GATEWAY_DATABASE_URL=self.database_url,
            GATEWAY_STATE_DIR=str(self.state_dir),
            GATEWAY_KYC_KEYS=TEST_KYC_KEYS,
            GATEWAY_AUDIT_KEYS=TEST_AUDIT_KEYS,
            TEST_UPSTREAM_KEY=UPSTREAM_KEY,
            TEST_PERSONA_SECRET=PERSONA_SECRET,
            TEST_GENERIC_SECRET=GENERIC_SECRET,
        )
        return env

    def start(self) -> GatewayProcess:
        cmd = [sys.executable, "-m", "gateway", "serve", "--config", str(self.config), "--host", "127.0.0.1"]
        cmd += ["--port", str(self.port), "--server", self.server]
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(cmd, env=self.env(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"gateway not ready: {self.log_path.read_text()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="session")
def gateway_config_file(
    upstream: tuple[DemoUpstream, int], oidc_issuer: TestIssuer, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    path = tmp_path_factory.mktemp("config") / "gateway.toml"
    path.write_text(gateway_config(upstream[1], free_port(), oidc_issuer.issuer))
    return path


@pytest.fixture(scope="session")
def gateway(
    gateway_config_file: Path, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    proc = GatewayProcess(gateway_config_file, database_url, tmp_path_factory.mktemp("gw") / "state").start()
    yield proc
    proc.stop()


def new_key(
    database_url: str, gateway: GatewayProcess, customer: str, project: str = "default"
) -> CreatedKey:
    """A customer and key, created as the CLI does, once the gateway accepts the key."""

    async def make() -> CreatedKey:
        conn = await asyncpg.connect(database_url)
        try:
            exists = await conn.fetchval("select 1 from customers where name = $1", customer)
            if not exists:
                await verified_customer(conn, customer)
            return await create_key(conn, customer, project)
        finally:
            await conn.close()

    created = _run(make())
    deadline = time.monotonic() + 5
    while httpx.get(gateway.url + "/v1/models", headers={"x-api-key": created.key}).status_code != 200:
        assert time.monotonic() < deadline, "the new key did not reach the gateway"
        time.sleep(0.01)
    return created


@pytest.fixture(scope="session")
def api_key(database_url: str, gateway: GatewayProcess) -> CreatedKey:
    return new_key(database_url, gateway, "e2e-customer")


# --- the `lab` Slurm cluster behind a gateway (tests/e2e/test_clusters.py and beside it) ---


def lab_config(slurm: Any, homes: Path) -> str:
    """The `lab` cluster: jobs run as each customer's own user, with tokens minted from the key."""
    return f"""
[[clusters]]
name = "lab"
kind = "slurm"
base_url = "{slurm.base_url}"
region = "US"
jwt_key_file = "{slurm.etc}/jwt_hs256.key"
user = "root"
node_gpus = {slurm.gpus}
partitions = ["gpu"]
account = "lab-default"
home_root = "{homes}"
default_accelerator = "h100"
poll_seconds = 0.3
"""


@pytest.fixture(scope="module")
def lab(
    slurm: Any, gateway_config_file: Path, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """A gateway fronting the real cluster as `lab`; a test may replace it (a restart)."""
    folder = tmp_path_factory.mktemp("lab")
    # Outside pytest's base directory: another pytest session on the machine sets that back to
    # mode 700, and a job of a user other than root could no longer reach its home.
    homes = Path(tempfile.mkdtemp(prefix="gw-homes-", dir="/var/tmp"))
    homes.chmod(0o755)
    config = folder / "gateway.toml"
    config.write_text(gateway_config_file.read_text() + lab_config(slurm, homes))
    state = folder / "state"
    gw = GatewayProcess(config, database_url, state).start()
    holder: dict[str, Any] = {"gw": gw, "homes": homes, "users": []}
    yield holder
    holder["gw"].stop()
    for user in holder["users"]:
        remove_user(user)
    shutil.rmtree(homes, ignore_errors=True)


def cluster_user(lab: Any, database_url: str, customer_id: uuid.UUID, account: str | None = None) -> Path:
    """A Unix user of the customer's own, its home (mode 700) and its identity on `lab`."""
    name = f"gwt{customer_id.hex[:10]}"
    entry = SlurmCluster.ensure_user(name)
    lab["users"].append(name)
    home = lab["homes"] / name
    home.mkdir(mode=0o700)
    os.chown(home, entry.pw_uid, entry.pw_gid)

    async def put() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            await identities.put(
                conn, identities.checked("lab", customer_id, name, account=account, home=str(home))
            )
        finally:
            await conn.close()

    _run(put())
    return home


def remove_user(name: str) -> None:
    subprocess.run(["userdel", "-f", name], capture_output=True, check=False, timeout=30)
