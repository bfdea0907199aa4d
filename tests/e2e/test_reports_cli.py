"""`gateway reports ...` as an operator runs it: generate from the ledger, list, show, export JSON,
CSV and PDF with the JWS beside them, verify with the JWK Set alone, prove, correct; and the
errors, one line each. A database of its own (reports count every customer of the database)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import pytest

from tests.conftest import TEST_KYC_KEYS, _run


class Cli:
    def __init__(self, database_url: str, state_dir: Path, **settings: str) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        self.env.update(GATEWAY_DATABASE_URL=database_url, GATEWAY_STATE_DIR=str(state_dir),
                        GATEWAY_KYC_KEYS=TEST_KYC_KEYS, **settings)  # fmt: skip

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "gateway", *args], env=self.env, capture_output=True,
                              text=True, timeout=120)  # fmt: skip

    def json(self, *args: str):  # type: ignore[no-untyped-def]
        done = self(*args, "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)


def add_calls(
    database_url: str, customer: str, count: int, status: int = 200, code: str | None = None
) -> None:
    async def insert() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            cid = uuid.UUID(customer)
            when = dt.datetime(2026, 11, 15, tzinfo=dt.UTC)
            await conn.copy_records_to_table(
                "usage_events",
                columns=["request_id", "occurred_at", "customer_id", "project_id", "key_id", "route", "status",
                         "error_code", "prompt_tokens", "completion_tokens", "usage_complete", "duration_ms",
                         "bytes_in", "bytes_out"],
                records=[(uuid.uuid4(), when, cid, cid, "0123456789abcdef", "/v1/chat/completions", status,
                          code, 10, 20, True, 5.0, 10, 10) for _ in range(count)],
            )  # fmt: skip
        finally:
            await conn.close()

    _run(insert())


@pytest.fixture
def cli(empty_database_url: str, tmp_path: Path) -> Cli:
    return Cli(empty_database_url, tmp_path / "state", GATEWAY_PROVIDER_NAME="Example GPU Cloud Inc.")


def test_generate_export_verify_prove_and_correct(cli: Cli, empty_database_url: str, tmp_path: Path) -> None:
    de = cli.json("customers", "create", "--name", "nimbus", "--country", "DE")["id"]
    cli.json("customers", "create", "--name", "cloudco", "--country", "US")
    add_calls(empty_database_url, de, 12)
    add_calls(empty_database_url, de, 2, 429, "budget_exhausted")
    period = ("--since", "2026-11-01", "--until", "2027-01-01")

    (issued,) = cli.json("reports", "generate", "--kind", "usage", "--jurisdiction", "EU", *period)
    assert (issued["kind"], issued["jurisdiction"], issued["version"]) == ("usage", "EU", 1)
    text = cli("reports", "generate", "--kind", "usage", "--jurisdiction", "US", *period)
    assert text.returncode == 0 and text.stdout.startswith("issued usage report ")
    assert "(US, 2026-11-01..2027-01-01)" in text.stdout and text.stderr == ""  # no bar off a terminal

    listed = cli.json("reports", "list")
    assert [r["jurisdiction"] for r in listed] == ["US", "EU"]
    assert [r["id"] for r in cli.json("reports", "list", "--jurisdiction", "eu")] == [issued["id"]]
    table = cli("reports", "list").stdout.splitlines()
    assert table[0].split()[:4] == ["ID", "VERSION", "KIND", "JURISDICTION"] and len(table) == 3

    shown = cli.json("reports", "show", issued["id"])
    body = shown["body"]
    assert body["provider"]["name"] == "Example GPU Cloud Inc." and body["provider"]["country"] == "US"
    assert body["customers"]["by_country"] == {"DE": 1} and body["compute"]["requests"] == 14
    assert body["refusals"]["by_code"] == {"budget_exhausted": 2}
    assert shown["proof"] is None  # not checkpointed yet

    out = tmp_path / "eu.json"
    exported = cli.json("reports", "export", issued["id"], "--format", "json", "--out", str(out))
    assert exported["sha256"] == issued["sha256"] and Path(exported["jws"]) == tmp_path / "eu.json.jws"
    assert json.loads(out.read_bytes()) == body
    keys = cli.json("audit", "keys")
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(keys))  # the whole `audit keys --json` output is accepted, or its jwks
    verified = cli.json("reports", "verify", str(out), "--jwks", str(jwks))
    assert verified["ok"] and verified["kid"] == keys["jwks"]["keys"][0]["kid"]
    (tmp_path / "only.jwks").write_text(json.dumps(keys["jwks"]))
    assert cli("reports", "verify", str(out), "--jwks", str(tmp_path / "only.jwks")).returncode == 0
    out.write_bytes(out.read_bytes().replace(b'"EU"', b'"FR"'))
    tampered = cli("reports", "verify", str(out), "--jwks", str(jwks))
    assert tampered.returncode == 1
    assert tampered.stderr.startswith("gateway: error: the signature does not verify with key")

    csv_out, pdf_out = tmp_path / "eu.csv", tmp_path / "eu.pdf"
    assert cli("reports", "export", issued["id"], "--format", "csv", "--out", str(csv_out)).returncode == 0
    rows = list(csv.reader(io.StringIO(csv_out.read_text())))
    assert rows[0] == ["envelope"] and ["budget_exhausted", "2"] in rows
    assert cli("reports", "export", issued["id"], "--format", "pdf", "--out", str(pdf_out)).returncode == 0
    assert pdf_out.read_bytes().startswith(b"%PDF-")
    assert (tmp_path / "eu.pdf.jws").read_text().strip() == shown["jws"]

    not_yet = cli("reports", "proof", issued["id"])
    assert not_yet.returncode == 1 and "not yet checkpointed" in not_yet.stderr
    assert cli("audit", "checkpoint").returncode == 0
    proof = json.loads(cli("reports", "proof", issued["id"]).stdout)
    assert proof["index"] == issued["audit_seq"] and proof["entry"]["data"]["sha256"] == issued["sha256"]
    assert proof["tlog_proof"].startswith("c2sp.org/tlog-proof@v1\n")
    assert cli.json("audit", "verify")["ok"]

    same = cli("reports", "generate", "--correct", issued["id"])
    assert same.returncode == 1 and "nothing to correct" in same.stderr
    add_calls(empty_database_url, de, 1)
    (corrected,) = cli.json("reports", "generate", "--correct", issued["id"])
    assert (corrected["version"], corrected["supersedes"]) == (2, issued["id"])
    assert cli.json("reports", "show", corrected["id"])["body"]["compute"]["requests"] == 15
    assert cli.json("reports", "generate", "--kind", "large_training") == []  # nobody is near a level


def test_the_schema_is_printed(cli: Cli) -> None:
    for kind in ("usage", "large_training"):
        done = cli("reports", "schema", "--kind", kind)
        assert done.returncode == 0
        schema = json.loads(done.stdout)
        assert schema["$schema"].endswith("2020-12/schema") and "$defs" in schema


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["generate"], "give --kind (usage or large_training), or --correct REPORT_ID"),
        (["generate", "--kind", "usage", "--jurisdiction", "EU"], "a usage report needs --jurisdiction, --since and --until"),
        (["generate", "--kind", "usage", "--jurisdiction", "Atlantis", "--since", "2026-11-01", "--until", "2026-12-01"],
         "unknown jurisdiction 'ATLANTIS': an ISO 3166-1 alpha-2 code, or a policy group's name in upper case (EU for [groups.eu])"),
        (["generate", "--kind", "usage", "--jurisdiction", "EU", "--since", "2026-12-01", "--until", "2026-11-01"],
         "--since (2026-12-01T00:00:00+00:00) must be before --until (2026-11-01T00:00:00+00:00)"),
        (["show", "00000000-0000-0000-0000-000000000000"], "no report with id 00000000-0000-0000-0000-000000000000"),
        (["generate", "--correct", "00000000-0000-0000-0000-000000000000"], "no report with id 00000000-0000-0000-0000-000000000000"),
    ],
)  # fmt: skip
def test_errors_are_one_line(cli: Cli, args: list[str], message: str) -> None:
    done = cli("reports", *args)
    assert done.returncode == 1
    assert done.stderr.strip() == f"gateway: error: {message}"
