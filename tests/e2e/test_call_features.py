"""Call features through the real gateway (openai and anthropic SDKs) and through `gateway usage import`:
the same calls give the same rows.

The comparison: every ``call_features`` column but ``request_id`` and ``occurred_at`` (an import is a
new call at another time). The import file is written as an operator exporting these calls would:
the body each upstream received (what the SDK sent, as the demo upstream recorded it), the key, the
status and the token counts the gateway's own usage event recorded, the client address the gateway
saw. So tokens, key and address agree by construction; what the test shows is that both paths read
the same prompt, system prompt, parameters, family, reasoning flag, fingerprints, band keys, network
and country out of the same call, through the same extraction.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import anthropic
import asyncpg
import openai
import pytest

from tests.conftest import _run
from tests.e2e.conftest import GatewayProcess, new_key
from tests.e2e.ledger import call_features, usage_event

COMPARED_AWAY = {"request_id", "occurred_at"}


def gateway_cli(gw: GatewayProcess, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        env=gw.env(), input=stdin, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.fixture(scope="module")
def key(database_url: str, gateway: GatewayProcess) -> Any:
    return new_key(database_url, gateway, "features-co")


def calls_through_the_gateway(gateway: GatewayProcess, key: Any) -> list[str]:
    oa = openai.OpenAI(base_url=gateway.url + "/v1", api_key=key.key, max_retries=0)
    an = anthropic.Anthropic(base_url=gateway.url, api_key=key.key, max_retries=0)
    ids = []
    for name, number in (("Ada Lovelace", 12), ("Wang Wei", 977)):
        raw = oa.chat.completions.with_raw_response.create(
            model="gpt-test",
            messages=[
                {"role": "system", "content": "You are a patient maths tutor."},
                {"role": "user", "content": f"Solve {number} + 7 for {name} and explain step by step."},
            ],
            temperature=0.2,
            n=2,
            top_logprobs=3,
            logprobs=True,
        )
        ids.append(raw.headers["x-request-id"])
    raw = oa.completions.with_raw_response.create(
        model="gpt-test", prompt="Write a short poem about the sea", max_tokens=3
    )
    ids.append(raw.headers["x-request-id"])
    raw = oa.embeddings.with_raw_response.create(model="gpt-test", input=["first text", "second text"])
    ids.append(raw.headers["x-request-id"])
    raw = oa.responses.with_raw_response.create(
        model="gpt-test", instructions="Be brief.", input="Translate 'good night' into French"
    )
    ids.append(raw.headers["x-request-id"])
    raw = an.messages.with_raw_response.create(
        model="claude-test",
        max_tokens=16,
        system=[{"type": "text", "text": "You write Python."}],
        messages=[
            {"role": "user", "content": [{"type": "text", "text": "Fix this bug: ```x = [1,2][2]```"}]}
        ],
        tools=[{"name": "run", "description": "run code", "input_schema": {"type": "object"}}],
    )
    ids.append(raw.headers["x-request-id"])
    return ids


def import_line(gateway_event: dict[str, Any], body: str, request_id: uuid.UUID) -> str:
    return json.dumps(
        {
            "request_id": str(request_id),
            "occurred_at": (gateway_event["occurred_at"] + dt.timedelta(days=1)).isoformat(),
            "key_id": gateway_event["key_id"],
            "route": gateway_event["route"],
            "model": gateway_event["model"],
            "status": gateway_event["status"],
            "prompt_tokens": gateway_event["prompt_tokens"],
            "completion_tokens": gateway_event["completion_tokens"],
            "duration_ms": gateway_event["duration_ms"],
            "client_ip": str(gateway_event["client_ip"]),
            "body": json.loads(body),
        }
    )


def compared(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in COMPARED_AWAY}


def count(database_url: str, sql: str, *args: Any) -> int:
    async def run() -> int:
        conn = await asyncpg.connect(database_url)
        try:
            return int(await conn.fetchval(sql, *args))
        finally:
            await conn.close()

    return _run(run())


def test_the_gateway_and_the_import_give_the_same_features(
    gateway: GatewayProcess, key: Any, database_url: str, upstream: Any, tmp_path: Path
) -> None:
    ids = calls_through_the_gateway(gateway, key)
    received = {r["headers"].get("x-request-id"): r["body"] for r in upstream[0].requests}
    through = [call_features(database_url, i) for i in ids]
    events = [usage_event(database_url, i) for i in ids]
    assert [f["family"] for f in through] == ["math", "math", "writing", "other", "translation", "tools"]
    assert [f["reasoning"] for f in through] == [True, True, False, False, False, False]
    assert (
        through[0]["template_fp"] == through[1]["template_fp"] and through[0]["bands"] == through[1]["bands"]
    )
    assert (through[0]["logprobs"], through[0]["top_logprobs"], through[0]["n"]) == (True, 3, 2)
    assert str(through[0]["network"]) == "127.0.0.0/24" and through[0]["key_id"] == key.id

    new_ids = [uuid.uuid4() for _ in ids]
    file = tmp_path / "calls.jsonl"
    file.write_text(
        "\n".join(import_line(e, received[i], n) for e, i, n in zip(events, ids, new_ids, strict=True)) + "\n"
    )
    dry = gateway_cli(gateway, "usage", "import", str(file), "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout) == {"lines": 6, "written": 6, "duplicates": 0, "dry_run": True}
    assert count(database_url, "select count(*) from call_features where request_id = any($1)", new_ids) == 0

    done = gateway_cli(gateway, "usage", "import", str(file))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "6 lines, 6 calls written, 0 duplicates skipped"
    imported = [call_features(database_url, str(n), timeout=0) for n in new_ids]
    assert [compared(f) for f in imported] == [compared(f) for f in through]
    for gateway_event, new_id in zip(events, new_ids, strict=True):
        mine = usage_event(database_url, str(new_id), timeout=0)
        for column in ("customer_id", "project_id", "key_id", "route", "model", "status", "prompt_tokens"):
            assert mine[column] == gateway_event[column]

    # Again, from standard input: nothing new.
    again = gateway_cli(gateway, "usage", "import", "-", stdin=file.read_text())
    assert again.stdout.strip() == "6 lines, 0 calls written, 6 duplicates skipped"
    assert count(database_url, "select count(*) from call_features where request_id = any($1)", new_ids) == 6


def test_a_bad_line_writes_nothing(
    gateway: GatewayProcess, key: Any, database_url: str, tmp_path: Path
) -> None:
    line = {
        "occurred_at": "2026-12-01T10:00:00Z", "key_id": key.id, "route": "/v1/chat/completions",
        "model": "gpt-test", "body": {"messages": [{"role": "user", "content": "hi"}]},
    }  # fmt: skip
    unknown = {**line, "key_id": "ffffffffffffffff"}
    file = tmp_path / "bad.jsonl"
    file.write_text(json.dumps(line) + "\n" + json.dumps({**line, "status": "ok"}) + "\n")
    before = count(database_url, "select count(*) from usage_events where key_id = $1", key.id)
    done = gateway_cli(gateway, "usage", "import", str(file))
    assert done.returncode != 0
    assert done.stderr.strip().startswith("gateway: error: line 2: status: Expected `int`, got `str`")
    file.write_text(json.dumps(line) + "\n" + json.dumps(unknown) + "\n")
    done = gateway_cli(gateway, "usage", "import", str(file))
    assert done.returncode != 0 and "line 2: key_id: no key 'ffffffffffffffff'" in done.stderr
    assert count(database_url, "select count(*) from usage_events where key_id = $1", key.id) == before
    # Without request ids, the second import of a good file adds nothing (ids from the lines' bytes).
    file.write_text(json.dumps(line) + "\n")
    assert gateway_cli(gateway, "usage", "import", str(file)).stdout.startswith("1 lines, 1 calls written")
    assert gateway_cli(gateway, "usage", "import", str(file)).stdout.startswith("1 lines, 0 calls written")
