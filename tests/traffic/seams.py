"""THE SEAMS the integrator wires once the feature, engine and import branches are merged.

Two functions, nothing else in ``tests/traffic`` needs to change:

- :func:`load_calls` ``(pool, records)``: put calls (dicts in the usage import format) into the
  ledger through the import path, which writes ``usage_events`` and ``call_features`` the way the
  gateway does. Now: runs the command ``gateway usage import FILE`` on JSONL files of the records.
  Replace the body with a direct call to the import function if there is one.
- :func:`detection_engine` ``()``: the engine's ``async def detect(conn, policy, since, until, *, now)
  -> list[Finding]``. Now: imported from ``ENGINE``; fix that one string if the engine lives elsewhere.
"""

from __future__ import annotations

import asyncio
import importlib
import itertools
import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any, cast

import asyncpg
import msgspec

from .harness import Detect

ENGINE = "gateway.detect.engine:detect"
IMPORT_COMMAND = ("usage", "import")
"""``python -m gateway usage import FILE``: the usage import path (the features branch)."""
BATCH = 100_000


def detection_engine() -> Detect:
    """SEAM: the detector under evaluation."""
    module, _, name = ENGINE.partition(":")
    return cast(Detect, getattr(importlib.import_module(module), name))


async def load_calls(pool: asyncpg.Pool, records: Iterable[dict[str, Any]]) -> None:
    """SEAM: the usage import path. Writes the records to JSONL files of ``BATCH`` lines and runs
    ``gateway usage import FILE`` on each against the pool's database."""
    async with pool.acquire() as conn:
        url = await database_url(conn)
    encoder = msgspec.json.Encoder()
    with tempfile.TemporaryDirectory(prefix="traffic-") as folder:
        # The master keys (GATEWAY_KYC_KEYS) pass through: the database was seeded with them.
        env = {**os.environ, "GATEWAY_DATABASE_URL": url, "GATEWAY_LOG_LEVEL": "warning",
               "GATEWAY_STATE_DIR": str(Path(folder) / "state")}  # fmt: skip
        it = iter(records)
        for n in itertools.count():
            chunk = list(itertools.islice(it, BATCH))
            if not chunk:
                break
            path = Path(folder) / f"calls-{n:04d}.jsonl"
            path.write_bytes(b"\n".join(encoder.encode(r) for r in chunk) + b"\n")
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "gateway", *IMPORT_COMMAND, str(path),
                env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, err = await proc.communicate()
            if proc.returncode != 0:
                raise RuntimeError(
                    f"gateway {' '.join(IMPORT_COMMAND)} {path.name} exited {proc.returncode}: "
                    f"{(err or out).decode(errors='replace').strip()[-2000:]}"
                )


async def database_url(conn: asyncpg.Connection) -> str:
    """A URL for the database ``conn`` is connected to (trust authentication, as in the tests)."""
    row = await conn.fetchrow(
        "select current_user as usr, current_database() as db,"
        " coalesce(host(inet_server_addr()), '127.0.0.1') as host, coalesce(inet_server_port(), 5432) as port"
    )
    return f"postgresql://{row['usr']}@{row['host']}:{row['port']}/{row['db']}"
