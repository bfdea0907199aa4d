"""The ``gateway`` command imports what the command it runs needs, not all of the gateway: a command
starts in a fraction of the time, and ``--help`` at once.

Each command runs in a fresh interpreter whose ``sys.modules`` it prints when it is done (in this
test process, other tests have imported everything already). Checked on the modules, not on time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TEST_KYC_KEYS

HEAVY = (
    "numpy",
    "networkx",
    "fpdf",
    "jinja2",
    "litestar",
    "granian",
    "uvicorn",
    "prometheus_client",
    "gateway.app",
    "gateway.server",
    "gateway.ledger.writer",
    "gateway.detect.features",
    "gateway.detect.engine",
    "gateway.proxy.handler",
)
"""What only some commands use: the detector's numpy and networkx, the ledger's writer, the request
pipeline and its metrics, the web pages, PDF rendering, the server."""
FOR_COMMANDS = (
    "asyncpg",
    "structlog",
    "gateway.settings",
    "gateway.kyc.service",
    "gateway.identity.repository",
)
"""What commands use but no help needs (the database driver, logging, settings)."""

_PROBE = """
import json, sys
from gateway.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
finally:
    sys.stderr.write("\\n" + json.dumps(sorted(sys.modules)))
"""


def _loaded(*argv: str, env: dict[str, str] | None = None) -> tuple[str, set[str]]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True, timeout=60, env=env
    )
    first, _, modules = done.stderr.rpartition("\n")
    return done.stdout + first, set(json.loads(modules))


@pytest.mark.parametrize("argv", [(), ("detect",), ("usage", "list"), ("reports", "export"), ("serve",)])
def test_help_imports_neither_the_heavy_modules_nor_the_database_driver(argv: tuple[str, ...]) -> None:
    out, loaded = _loaded(*argv, "--help")
    assert "usage: gateway" in out
    assert loaded.isdisjoint(HEAVY + FOR_COMMANDS), sorted(loaded.intersection(HEAVY + FOR_COMMANDS))


@pytest.mark.parametrize(
    "argv",
    [
        ("usage", "list", "--json"),
        ("kyc", "queue", "--json"),
        ("detect", "clusters", "--json"),
        ("audit", "list", "--json"),
        ("reports", "list", "--json"),
    ],
)
def test_a_command_imports_none_of_the_heavy_modules(
    argv: tuple[str, ...], database_url: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env |= {
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_STATE_DIR": str(tmp_path),
        "GATEWAY_KYC_KEYS": TEST_KYC_KEYS,
    }
    out, loaded = _loaded(*argv, env=env)
    assert isinstance(json.loads(out.splitlines()[0]), list), out  # the command ran and printed its rows
    assert "asyncpg" in loaded
    assert loaded.isdisjoint(HEAVY), sorted(loaded.intersection(HEAVY))
