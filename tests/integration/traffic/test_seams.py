"""The import seam as it stands: JSONL batches handed to ``gateway usage import FILE``."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.traffic import seams
from tests.traffic.generator import Config, generate

RECORDS = list(itertools.islice(generate(Config.small(seed=2)).records(), 2500))


class Proc:
    def __init__(self, code: int) -> None:
        self.returncode = code

    async def communicate(self) -> tuple[bytes, bytes]:
        return b"", b"usage: gateway usage: error: invalid choice: 'import'" if self.returncode else b""


async def test_records_go_in_batches_of_jsonl_to_the_import_command(monkeypatch, database_url) -> None:
    seen: list[tuple[tuple[str, ...], dict[str, str], list[dict[str, Any]]]] = []

    async def run(*argv: str, env: dict[str, str], **_: object) -> Proc:
        lines = Path(argv[-1]).read_text().splitlines()
        seen.append((argv, env, [json.loads(line) for line in lines]))
        return Proc(0)

    monkeypatch.setattr(seams.asyncio, "create_subprocess_exec", run)
    monkeypatch.setattr(seams, "BATCH", 1000)
    async with asyncpg.create_pool(database_url, min_size=1, max_size=1) as pool:
        await seams.load_calls(pool, iter(RECORDS))
    assert [len(rows) for _, _, rows in seen] == [1000, 1000, 500]
    assert [r for _, _, rows in seen for r in rows] == RECORDS
    argv, env, _ = seen[0]
    assert argv[1:5] == ("-m", "gateway", "usage", "import")
    assert env["GATEWAY_DATABASE_URL"].rsplit("/", 1)[1] == database_url.rsplit("/", 1)[1].split("?")[0]
    conn = await asyncpg.connect(env["GATEWAY_DATABASE_URL"])  # the URL it derived reaches the database
    await conn.close()


async def test_a_failing_import_names_the_command_and_its_error(monkeypatch, database_url) -> None:
    async def run(*argv: str, **_: object) -> Proc:
        return Proc(2)

    monkeypatch.setattr(seams.asyncio, "create_subprocess_exec", run)
    async with asyncpg.create_pool(database_url, min_size=1, max_size=1) as pool:
        with pytest.raises(
            RuntimeError, match=r"gateway usage import calls-0000.jsonl exited 2: .*invalid choice"
        ):
            await seams.load_calls(pool, iter(RECORDS[:10]))
