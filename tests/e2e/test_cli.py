"""The gateway command: the exact forms the acceptance checks use, --help everywhere, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import pytest

from tests.e2e.conftest import ADMIN_TOKEN, GatewayProcess


def gateway_cli(gw: GatewayProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args], env=gw.env(), capture_output=True, text=True, timeout=60
    )


def test_customer_key_call_and_usage_list(gateway) -> None:
    made = gateway_cli(gateway, "customers", "create", "--name", "cli-co", "--json")
    assert made.returncode == 0, made.stderr
    customer = json.loads(made.stdout)
    assert customer["name"] == "cli-co" and customer["status"] == "pending"
    assert customer["kind"] == "organisation" and customer["country"] is None

    out = gateway_cli(gateway, "keys", "create", "--customer", "cli-co", "--project", "research", "--json")
    key = json.loads(out.stdout)
    assert set(key) == {"id", "key", "customer", "project"}
    assert (key["customer"], key["project"]) == ("cli-co", "research")
    auth = {"authorization": f"Bearer {key['key']}"}

    # The foundation's form creates an unverified customer: refused until verified.
    for _ in range(500):
        r = httpx.get(gateway.url + "/v1/models", headers=auth)
        if r.status_code != 401:
            break
    assert r.status_code == 403 and r.json()["error"]["code"] == "kyc_pending"
    refused = gateway_cli(gateway, "kyc", "submit", "--customer", "cli-co")
    assert refused.returncode == 1
    assert (
        refused.stderr.strip()
        == "gateway: error: the application is incomplete: missing country, beneficial owners"
    )

    # Country from the facts, one owner: then it can be submitted and approved.
    facts = gateway.state_dir.parent / "cli-co-facts.json"
    facts.write_text(json.dumps({"incorporation_country": "NL", "legal_name": "CLI Co B.V."}))
    assert gateway_cli(gateway, "kyc", "facts", "--customer", "cli-co", "--file", str(facts)).returncode == 0
    reindexed = gateway_cli(gateway, "kyc", "reindex-payments", "--json")
    assert reindexed.returncode == 0, reindexed.stderr
    assert json.loads(reindexed.stdout)["customers"] >= 1  # cli-co has facts now
    owner = gateway_cli(
        gateway,
        "owners",
        "add",
        "--customer",
        "cli-co",
        "--name",
        "Ada Quill",
        "--kind",
        "person",
        "--country",
        "NL",
        "--percent",
        "100",
        "--json",
    )
    assert owner.returncode == 0, owner.stderr
    assert gateway_cli(gateway, "kyc", "submit", "--customer", "cli-co").returncode == 0
    approved = gateway_cli(gateway, "kyc", "approve", "--customer", "cli-co", "--reason", "documents checked")
    assert approved.returncode == 0, approved.stderr

    ids = []
    for _ in range(500):
        r = httpx.get(gateway.url + "/v1/models", headers=auth)
        if r.status_code == 200:
            break
    assert r.status_code == 200
    for n in range(3):
        r = httpx.post(
            gateway.url + "/v1/chat/completions",
            headers={"authorization": f"Bearer {key['key']}"},
            json={"model": "gpt-test", "messages": [{"role": "user", "content": "x " * (n + 1)}]},
        )
        assert r.status_code == 200
        ids.append(r.headers["x-request-id"])

    for _ in range(200):
        events = json.loads(
            gateway_cli(gateway, "usage", "list", "--json", "--limit", "2", "--customer", "cli-co").stdout
        )
        if events and events[0]["request_id"] == ids[-1]:
            break
    assert [e["request_id"] for e in events] == [ids[2], ids[1]]
    assert [e["prompt_tokens"] for e in events] == [3, 2]

    listed = gateway_cli(gateway, "keys", "list", "--customer", customer["id"], "--json")
    assert key["key"] not in listed.stdout and json.loads(listed.stdout)[0]["id"] == key["id"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["keys", "create", "--customer", "nobody", "--project", "p"],
            "no customer with id or name 'nobody'",
        ),
        (["keys", "revoke", "0000000000000000"], "no API key with id '0000000000000000'"),
        (["customers", "create", "--name", "dup-co"], "a customer named 'dup-co' already exists"),
    ],
)
def test_errors_exit_non_zero_with_one_line(gateway, args, message) -> None:
    gateway_cli(gateway, "customers", "create", "--name", "dup-co")
    done = gateway_cli(gateway, *args)
    assert done.returncode == 1
    assert done.stderr.strip() == f"gateway: error: {message}"


def test_bad_configuration_stops_with_the_key_named(gateway, tmp_path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[upstreams]]\nname = "x"\nkind = "openai"\nbase_url = "http://h/v1"\nmodels = ["m"]\nregion = "ZZ"\n'
    )
    done = gateway_cli(gateway, "serve", "--config", str(bad))
    assert done.returncode == 1
    assert "invalid setting upstreams[0].region" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def serve(env: dict[str, str], config) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    """``gateway serve`` expected to refuse to start (port 9: nothing is ever served)."""
    return subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--config", str(config), "--port", "9"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_an_egress_proxy_the_client_cannot_speak_to_stops_start_up(gateway, gateway_config_file) -> None:
    # Calls must not quietly bypass a proxy the environment asked for: refused before anything starts.
    proxy = "https://user:secret@proxy.example:443"
    env = {**gateway.env(), "HTTPS_PROXY": proxy, "HTTP_PROXY": proxy, "NO_PROXY": "", "no_proxy": ""}
    env.update(https_proxy="", http_proxy="", all_proxy="", ALL_PROXY="")
    done = serve(env, gateway_config_file)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "gateway: error: invalid upstream: egress proxy https://proxy.example: only http:// proxies are supported"
    )


def test_a_replica_with_another_master_key_refuses_to_start(gateway, gateway_config_file) -> None:
    env = {**gateway.env(), "GATEWAY_KYC_KEYS": "1:" + "Q" * 43}
    done = serve(env, gateway_config_file)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "gateway: error: master key version 1 differs from the one this database was encrypted with;"
        " every replica must share the same kyc_keys (GATEWAY_KYC_KEYS)"
    )


@pytest.mark.parametrize(
    "command",
    [[], ["serve"], ["db", "migrate"], ["db", "status"], ["customers", "create"], ["customers", "list"],
     ["keys", "create"], ["keys", "list"], ["keys", "revoke"], ["usage", "list"], ["usage", "compute"],
     ["usage", "summary"], ["usage", "import"], ["audit", "verify"], ["audit", "export"], ["audit", "verify-export"],
     ["audit", "checkpoint"], ["audit", "keys"], ["audit", "list"], ["demo"], ["version"],
     ["owners", "add"], ["owners", "link"], ["owners", "list"], ["screening", "load"], ["kyc", "submit"],
     ["kyc", "approve"], ["kyc", "status"], ["kyc", "confirm-hit"], ["kyc", "erase"],
     ["kyc", "reindex-payments"], ["reports", "generate"], ["reports", "list"], ["reports", "show"],
     ["reports", "export"], ["reports", "proof"], ["reports", "schema"], ["reports", "verify"]],
)  # fmt: skip
def test_every_command_has_help(command) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gateway", *command, "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0 and "usage: gateway" in done.stdout


def test_version_json(gateway) -> None:
    assert json.loads(gateway_cli(gateway, "version", "--json").stdout)["version"]


def test_a_usage_summary_needs_a_period_that_ends_after_it_starts(gateway) -> None:
    done = gateway_cli(gateway, "usage", "summary", "--since", "2026-02-01", "--until", "2026-01-01")
    assert done.returncode != 0
    assert "--since (2026-02-01T00:00:00+00:00) must be before --until" in done.stderr
    bad = gateway_cli(gateway, "usage", "summary", "--since", "yesterday", "--until", "2026-01-01")
    assert bad.returncode != 0 and "'yesterday' is not an ISO 8601 date or time" in bad.stderr


def test_key_changes_are_audited_and_verified_by_a_third_party(gateway, tmp_path) -> None:
    made = gateway_cli(gateway, "customers", "create", "--name", "audited-co", "--json")
    assert made.returncode == 0, made.stderr
    key = json.loads(
        gateway_cli(gateway, "keys", "create", "--customer", "audited-co", "--project", "p", "--json").stdout
    )
    assert gateway_cli(gateway, "keys", "revoke", key["id"]).returncode == 0
    logged = json.loads(gateway_cli(gateway, "audit", "list", "--json", "--limit", "50").stdout)
    mine = [e for e in logged if e["subject"] == f"key:{key['id']}"]
    assert [e["kind"] for e in mine] == ["key.revoked", "key.created"]
    assert all(e["actor"].startswith("cli") for e in mine)
    assert "audited-co" not in json.dumps(logged)  # names stay out of the log: ids only

    # The admin API's use is logged too, as the token's fingerprint, once the batch is written.
    admin = httpx.get(gateway.url + "/admin/v1/kyc/queue", headers={"authorization": f"Bearer {ADMIN_TOKEN}"})
    assert admin.status_code == 200, admin.text
    deadline = time.monotonic() + 10
    while not any(
        e["kind"] == "admin.access"
        for e in json.loads(gateway_cli(gateway, "audit", "list", "--json").stdout)
    ):
        assert time.monotonic() < deadline, "the admin call was not audited"
        time.sleep(0.1)

    signed = json.loads(gateway_cli(gateway, "audit", "checkpoint", "--json").stdout)
    assert signed["size"] >= 2 and signed["note"].startswith("kyc-gateway.local/audit\n")
    verified = json.loads(gateway_cli(gateway, "audit", "verify", "--json").stdout)
    assert verified["ok"] and verified["size"] == signed["size"] and verified["checkpoints"] >= 1

    (vkey,) = json.loads(gateway_cli(gateway, "audit", "keys", "--json").stdout)["vkeys"]
    out = tmp_path / "audit.json"
    done = gateway_cli(
        gateway, "audit", "export", "--since", "2000-01-01", "--until", "2100-01-01", "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    # Checked with the file and the key alone: no configuration, no database in its environment.
    third_party = subprocess.run(
        [sys.executable, "-m", "gateway", "audit", "verify-export", str(out), "--vkey", vkey, "--json"],
        capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "GATEWAY_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"},
    )  # fmt: skip
    assert third_party.returncode == 0, third_party.stderr
    assert json.loads(third_party.stdout)["entries"] >= 2
    wrong = subprocess.run(
        [sys.executable, "-m", "gateway", "audit", "verify-export", str(out), "--vkey", vkey.replace("+A", "+B", 1)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert wrong.returncode != 0 and wrong.stderr.strip()


def test_the_ledgers_partitions_are_listed_and_pruned_only_before_a_date(gateway) -> None:
    listed = gateway_cli(gateway, "usage", "partitions", "--json")
    assert listed.returncode == 0, listed.stderr
    names = {p["name"] for p in json.loads(listed.stdout)}
    assert {
        "usage_events_before",
        "usage_events_default",
        "call_features_before",
        "compute_events_before",
    } <= names
    table = gateway_cli(gateway, "usage", "partitions")
    assert "usage_events_default" in table.stdout and "DEFAULT" in table.stdout
    # Nothing ends before 2000: nothing is dropped (the shared database keeps its rows).
    pruned = gateway_cli(gateway, "usage", "prune", "--before", "2000-01-01")
    assert (
        pruned.returncode == 0
        and pruned.stdout.strip() == "no partition ends before 2000-01-01T00:00:00+00:00"
    )
    bad = gateway_cli(gateway, "usage", "prune", "--before", "next tuesday")
    assert bad.returncode != 0 and "--before" in bad.stderr
    # The audit log's months, the same way.
    listed = gateway_cli(gateway, "audit", "partitions", "--json")
    assert listed.returncode == 0, listed.stderr
    assert {"audit_entries_before", "audit_entries_default"} <= {p["name"] for p in json.loads(listed.stdout)}
    assert "usage_events_before" not in listed.stdout
    pruned = gateway_cli(gateway, "audit", "prune", "--before", "2000-01-01")
    assert pruned.returncode == 0, pruned.stderr
    assert pruned.stdout.strip() == "no partition of the audit log ends before 2000-01-01T00:00:00+00:00"
