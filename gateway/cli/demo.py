"""``gateway demo``: a running gateway in front of a demo upstream, with a customer and a key."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import asyncpg

from ..db import resolve_database_url
from ..db.migrate import migrate
from ..errors import NotFoundInStore
from ..identity.repository import create_key, find_customer
from ..kyc.service import KycService
from ..settings import Settings, load_settings

_CONFIG = """\
# Written by `gateway demo`: two upstreams served by the demo upstream on loopback.
[[upstreams]]
name = "demo-openai"
kind = "openai"
base_url = "http://127.0.0.1:{port}/v1"
models = ["demo-gpt"]
region = "US"
api_key_env = "DEMO_UPSTREAM_KEY"

[[upstreams]]
name = "demo-anthropic"
kind = "anthropic"
base_url = "http://127.0.0.1:{port}"
models = ["demo-claude"]
region = "US"
api_key_env = "DEMO_UPSTREAM_KEY"
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the demo upstream exited at start-up")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"the demo upstream did not listen on port {port}")


async def _demo_key(url: str, settings: Settings) -> str:
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
        kyc = KycService.from_settings(settings)
        await kyc.check_keys(conn)
        try:
            customer = await find_customer(conn, "demo")
        except NotFoundInStore:
            customer = await kyc.create_customer(conn, "demo", "individual", "US")
        # The proxy serves verified customers only: the demo customer is approved here, as an
        # operator would with `gateway kyc submit` and `gateway kyc approve`.
        status = await kyc.status(conn, customer.id)
        if status.status == "pending":
            await kyc.submit(conn, customer.id, "demo")
        if status.status in ("pending", "in_review"):
            await kyc.decide(conn, customer.id, "approve", "demo", "demo customer")
        created = await create_key(conn, "demo", "default", name=f"demo {time.strftime('%Y-%m-%d %H:%M:%S')}")
        return created.key
    finally:
        await conn.close()


def _commands() -> tuple[str, str]:
    """How to run this installation's ``gateway`` and ``python`` from any shell, venv active or not.

    The printed instructions are copied into another terminal, where the venv is rarely
    activated: bare ``gateway`` or ``python`` would be another program or none. So they name
    this interpreter by its absolute path, and the ``gateway`` script installed beside it.
    """
    python = Path(sys.executable).absolute()
    script = python.parent / "gateway"
    gateway = shlex.quote(str(script)) if script.is_file() else f"{shlex.quote(str(python))} -m gateway"
    return gateway, shlex.quote(str(python))


def run_demo(args: argparse.Namespace) -> None:
    from ..server import serve

    settings = load_settings(args.config, host=args.host, port=args.port)
    state = settings.state_path
    state.mkdir(parents=True, exist_ok=True)
    upstream_port = args.upstream_port or _free_port()
    upstream_key = secrets.token_hex(16)  # the upstream's own credential, never shown to callers
    config = state / "demo.toml"
    config.write_text(_CONFIG.format(port=upstream_port))
    # The gateway reads the key from this variable (api_key_env above), and so does the upstream:
    # passed on its command line, it would be visible to every user of the machine (ps).
    os.environ["DEMO_UPSTREAM_KEY"] = upstream_key

    url = resolve_database_url(settings)
    key = asyncio.run(_demo_key(url, settings))
    upstream = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway.demo.upstream",
            "--port",
            str(upstream_port),
            "--api-key-env",
            "DEMO_UPSTREAM_KEY",
        ]
    )
    try:
        _wait_port(upstream_port, upstream)
        base = f"http://{settings.host}:{settings.port}"
        where = "GATEWAY_DATABASE_URL" if settings.database_url else f"embedded, under {state}"
        gateway, python = _commands()
        # The same database from any directory: the embedded one lives in this state folder.
        usage = f"{gateway} usage list --limit 5"
        if args.config:
            usage = (
                f"{gateway} usage list --config {shlex.quote(str(Path(args.config).absolute()))} --limit 5"
            )
        if not settings.database_url:
            usage = f"GATEWAY_STATE_DIR={shlex.quote(str(state))} {usage}"
        print(
            f"""
The gateway is starting on {base} (database: {where}).
Demo customer "demo" (verified), project "default"; a new API key (shown only now):

  export GATEWAY_KEY={key}

Call it with curl:

  curl -s {base}/v1/chat/completions -H "Authorization: Bearer $GATEWAY_KEY" \\
       -H 'content-type: application/json' \\
       -d '{{"model": "demo-gpt", "messages": [{{"role": "user", "content": "Hello"}}]}}'

or with the openai SDK:

  {python} -c 'import openai, os; c = openai.OpenAI(base_url="{base}/v1", api_key=os.environ["GATEWAY_KEY"]); print(c.chat.completions.create(model="demo-gpt", messages=[{{"role": "user", "content": "Hello"}}]).choices[0].message.content)'

Anthropic-compatible: model "demo-claude" at {base}/v1/messages. Every call lands in the ledger:

  {usage}

Stop with Ctrl-C.
""",
            flush=True,
        )
        serve(load_settings(str(config), host=args.host, port=args.port, database_url=url))
    finally:
        upstream.terminate()
        upstream.wait(timeout=10)
