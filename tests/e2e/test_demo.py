"""``gateway demo`` and ``make run`` as a newcomer meets them: a port of their choosing, printed
instructions that work in a shell without the venv activated, and no secret on a command line."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_database
from tests.e2e.conftest import free_port

ROOT = Path(__file__).parents[2]
GATEWAY = Path(sys.executable).absolute().parent / "gateway"
# A shell as a newcomer has it: no venv on PATH, no VIRTUAL_ENV, no GATEWAY_* settings.
BARE_PATH = "/usr/local/bin:/usr/bin:/bin"


def bare_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "VIRTUAL_ENV"))}
    return {**env, "PATH": BARE_PATH, **extra}


def test_make_run_passes_host_and_port_to_the_demo() -> None:
    # -n prints the recipe without running it (nor the venv set-up it depends on).
    # Run by `make test` too: the outer make's flags and level would add "Entering directory" lines.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    make = ["make", "--no-print-directory", "-n", "run"]
    done = subprocess.run(
        [*make, "PORT=9090", "HOST=127.0.0.2"], cwd=ROOT, capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == ".venv/bin/gateway demo --host 127.0.0.2 --port 9090"
    default = subprocess.run(make, cwd=ROOT, capture_output=True, text=True, env=env)
    assert default.stdout.strip().splitlines()[-1] == ".venv/bin/gateway demo --host 127.0.0.1 --port 8080"


@dataclass
class Demo:
    proc: subprocess.Popen[str]
    port: int
    upstream_port: int
    instructions: str
    env: dict[str, str]


def _read_instructions(proc: subprocess.Popen[str], deadline: float) -> str:
    assert proc.stdout is not None
    lines: list[str] = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"gateway demo exited ({proc.poll()}): {''.join(lines)}")
        lines.append(line)
        if line.startswith("Stop with Ctrl-C."):
            return "".join(lines)
    raise AssertionError(f"gateway demo printed no instructions in time: {''.join(lines)}")


@pytest.fixture(scope="module")
def demo(admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    url, drop = make_database(admin_url)
    state = tmp_path_factory.mktemp("demo") / "state"
    port, upstream_port = free_port(), free_port()
    env = bare_env(GATEWAY_DATABASE_URL=url, GATEWAY_STATE_DIR=str(state))
    # The installed console script, run by path as `make run` does: no `python -m`, no venv active.
    proc = subprocess.Popen(
        [str(GATEWAY), "demo", "--port", str(port), "--upstream-port", str(upstream_port)],
        env=env,
        cwd=state.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        instructions = _read_instructions(proc, deadline)
        while True:  # the instructions come first; the server then starts
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "the demo gateway did not get ready"
            time.sleep(0.05)
        yield Demo(proc, port, upstream_port, instructions, env)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # Ctrl-C, as the instructions say
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        drop()


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def test_the_demo_serves_on_the_port_it_was_given(demo: Demo) -> None:
    assert f"The gateway is starting on http://127.0.0.1:{demo.port} " in demo.instructions
    assert httpx.get(f"http://127.0.0.1:{demo.port}/healthz").json() == {"status": "ok"}


def test_no_process_of_the_demo_has_a_secret_on_its_command_line(demo: Demo) -> None:
    procs = [demo.proc.pid, *descendants(demo.proc.pid)]
    upstream = [p for p in procs if b"gateway.demo.upstream" in Path(f"/proc/{p}/cmdline").read_bytes()]
    assert len(upstream) == 1, procs
    environ = dict(
        item.split(b"=", 1)
        for item in Path(f"/proc/{upstream[0]}/environ").read_bytes().split(b"\0")
        if b"=" in item
    )
    upstream_key = environ[b"DEMO_UPSTREAM_KEY"]
    assert len(upstream_key) == 32
    # The upstream does hold and require that key: without it, it refuses.
    direct = f"http://127.0.0.1:{demo.upstream_port}/v1/chat/completions"
    body = {"model": "demo-gpt", "messages": [{"role": "user", "content": "hi"}]}
    assert httpx.post(direct, json=body).status_code == 401
    ok = httpx.post(direct, json=body, headers={"authorization": f"Bearer {upstream_key.decode()}"})
    assert ok.status_code == 200
    customer_key = re.search(r"export GATEWAY_KEY=(gk_\w+)", demo.instructions)
    assert customer_key is not None
    for pid in procs:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue  # a short-lived helper that has exited
        assert upstream_key not in cmdline, f"the upstream key is on the command line of {pid}"
        assert customer_key[1].encode() not in cmdline, f"the customer's key is on the command line of {pid}"


def test_the_printed_instructions_work_without_the_venv_activated(demo: Demo, tmp_path: Path) -> None:
    text = demo.instructions
    commands = [line.strip() for line in text.splitlines() if line.startswith("  ") and " -c " in line]
    commands += [line.strip() for line in text.splitlines() if "usage list" in line]
    assert len(commands) == 2, text
    python_cmd, usage_cmd = commands
    # Named by absolute paths that exist: the venv's interpreter and its gateway script.
    assert python_cmd.split()[0] == str(Path(sys.executable).absolute())
    assert str(GATEWAY) in usage_cmd and GATEWAY.is_file()

    export = next(
        line.strip() for line in text.splitlines() if line.strip().startswith("export GATEWAY_KEY=")
    )
    # Pasted into a fresh shell elsewhere: another directory, no venv on PATH, no GATEWAY_* settings
    # but the database this demo was told (from the environment, as the demo's own shell had it).
    env = bare_env(GATEWAY_DATABASE_URL=demo.env["GATEWAY_DATABASE_URL"])

    def shell(script: str) -> str:
        done = subprocess.run(
            ["bash", "-c", f"set -e\n{export}\n{script}"],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert shell(python_cmd).startswith("This is a demo reply")
    # The ledger is written in batches, off the request path: poll until the call is there.
    deadline = time.monotonic() + 10
    while not (events := json.loads(shell(f"{usage_cmd} --json"))):
        assert time.monotonic() < deadline, "the call never reached the ledger"
        time.sleep(0.1)
    assert events[0]["route"] == "/v1/chat/completions" and events[0]["status"] == 200
