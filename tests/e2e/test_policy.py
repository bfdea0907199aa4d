"""Jurisdiction policy through the proxy: client origins behind a trusted proxy, owners and
addresses in several countries, upstreams in several regions, reloads under load."""

from __future__ import annotations

import asyncio
import hashlib
import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from gateway.identity.repository import create_key
from gateway.kyc.facts import AddressIn, FactsIn
from gateway.kyc.models import OwnerIn
from tests.conftest import _run, kyc_service
from tests.e2e.conftest import ADMIN_TOKEN, GatewayProcess
from tests.e2e.ledger import usage_event

ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}
IP = {"US": "8.8.8.8", "RU": "77.88.8.8", "IR": "2.176.0.1", "DE": "85.214.132.117", "BR": "200.147.67.142"}

# The deployment's own folder: tier 2 may run compute only in the US (the shipped rule allows anywhere).
TIER2_US_ONLY = """
[rules.tier2]
title = "Default, US compute only"
actions = ["inference", "fine_tune", "cluster_job"]
regions = {regions}
kyc_level = "standard"
edd_above_gpus = 64
"""


def config(upstream_port: int, policy_dir: Path) -> str:
    return f"""
workers = 2
trusted_proxies = ["127.0.0.1/32"]
policy_dir = "{policy_dir}"
admin_token_sha256 = "{hashlib.sha256(ADMIN_TOKEN.encode()).hexdigest()}"
ledger_flush_interval_seconds = 0.05

[[upstreams]]
name = "us"
kind = "openai"
base_url = "http://127.0.0.1:{upstream_port}/v1"
models = ["gpt-us"]
region = "US"
api_key_env = "TEST_UPSTREAM_KEY"

[[upstreams]]
name = "de"
kind = "openai"
base_url = "http://127.0.0.1:{upstream_port}/v1"
models = ["gpt-de"]
region = "DE"
api_key_env = "TEST_UPSTREAM_KEY"
"""


@pytest.fixture(scope="module")
def policy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("deployment-policy")
    (folder / "rules.toml").write_text(TIER2_US_ONLY.format(regions='["US"]'))
    # This deployment sells more than the shipped default plan's 50 requests/s per key: the
    # reload test below sends requests as fast as it can (a plan replaced by a deployment folder).
    (folder / "plans.toml").write_text(
        '[plans.default]\ntitle = "Bulk"\nlimits = [{ dimension = "requests", period = "second", limit = 100000 }]\n'
    )
    return folder


@pytest.fixture(scope="module")
def gw(upstream, policy_dir: Path, database_url: str, tmp_path_factory) -> Iterator[GatewayProcess]:
    path = tmp_path_factory.mktemp("policy-config") / "gateway.toml"
    path.write_text(config(upstream[1], policy_dir))
    proc = GatewayProcess(path, database_url, tmp_path_factory.mktemp("policy-gw") / "state").start()
    yield proc
    proc.stop()


def customer(database_url: str, kind: str, country: str, facts: FactsIn | None = None,
             owners: tuple[OwnerIn, ...] = ()) -> tuple[str, str]:  # fmt: skip
    """A verified customer and a key: (customer id, key)."""

    async def make() -> tuple[str, str]:
        conn = await asyncpg.connect(database_url)
        try:
            kyc = kyc_service()
            made = await kyc.create_customer(conn, f"pol-{uuid.uuid4().hex[:8]}", kind, country, facts=facts)
            for owner in owners:
                await kyc.add_owner(conn, made.id, owner)
            if kind == "organisation" and not owners:
                await kyc.add_owner(conn, made.id, OwnerIn(name="Some One", kind="person", percent=100))
            await kyc.submit(conn, made.id, "test")
            await kyc.decide(conn, made.id, "approve", "test", "ok")
            return str(made.id), (await create_key(conn, made.name, "p")).key
        finally:
            await conn.close()

    return _run(make())


def call(gw: GatewayProcess, key: str, *, model: str = "gpt-us", origin: str | None = "US") -> httpx.Response:
    headers = {"authorization": f"Bearer {key}"}
    if origin is not None:
        headers["x-forwarded-for"] = IP[origin]
    return httpx.post(
        gw.url + "/v1/chat/completions",
        headers=headers,
        json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
        timeout=30,
    )


def wait_known(gw: GatewayProcess, key: str) -> None:
    deadline = time.monotonic() + 5
    while call(gw, key).status_code == 401:  # the new key reaches both workers
        assert time.monotonic() < deadline


def code(r: httpx.Response) -> str:
    return "ok" if r.status_code == 200 else r.json()["error"]["code"]


def policy_hash(gw: GatewayProcess) -> str:
    return httpx.get(gw.url + "/readyz").json()["policy"]["hash"]


def test_client_origin_behind_a_trusted_proxy(gw: GatewayProcess, database_url: str) -> None:
    cid, key = customer(database_url, "individual", "US")
    wait_known(gw, key)
    ok = call(gw, key, origin="US")
    assert ok.status_code == 200
    event = usage_event(database_url, ok.headers["x-request-id"])
    assert (event["origin_country"], str(event["client_ip"])) == ("US", IP["US"])
    assert event["policy_hash"] == policy_hash(gw)

    for country in ("RU", "IR"):
        r = call(gw, key, origin=country)
        assert (r.status_code, code(r)) == (403, "origin_denied")
        assert "tier3" in r.json()["error"]["message"]
        denied = usage_event(database_url, r.headers["x-request-id"])
        assert (denied["error_code"], denied["origin_country"]) == ("origin_denied", country)
        assert denied["policy_hash"] == policy_hash(gw)
    # No forwarded header: loopback has no country, and the policy allows unknown origins.
    assert code(call(gw, key, origin=None)) == "ok"

    # Each refusal is in the audit log too: the rule, the policy version, the facts (no request body).
    def refusals() -> list[dict[str, Any]]:
        async def read() -> list[dict[str, Any]]:
            conn = await asyncpg.connect(database_url)
            try:
                rows = await conn.fetch(
                    "select entry from audit_entries where kind = 'policy.refused' and subject = $1 order by seq",
                    f"customer:{cid}",
                )
                return [json.loads(bytes(r["entry"])) for r in rows]
            finally:
                await conn.close()

        return _run(read())

    deadline = time.monotonic() + 10
    while len(logged := refusals()) < 2:
        assert time.monotonic() < deadline, logged
        time.sleep(0.05)
    # Sorted: the audit writer batches, and two requests' entries need not be logged in their order.
    assert sorted((e["data"]["code"], e["data"]["origin"]) for e in logged) == [
        ("origin_denied", "IR"),
        ("origin_denied", "RU"),
    ]
    assert {e["data"]["policy"] for e in logged} == {policy_hash(gw)} and logged[0]["actor"] == "gateway"


def test_owners_and_addresses_decide_the_tier(gw: GatewayProcess, database_url: str) -> None:
    _, owned_30 = customer(database_url, "organisation", "DE",
                           owners=(OwnerIn(name="A", kind="person", country="IR", percent=30),
                                   OwnerIn(name="B", kind="person", country="DE", percent=70)))  # fmt: skip
    _, owned_10 = customer(database_url, "organisation", "DE",
                           owners=(OwnerIn(name="C", kind="person", country="IR", percent=10),
                                   OwnerIn(name="D", kind="person", country="DE", percent=90)))  # fmt: skip
    crimea = FactsIn(
        residence_country="UA", addresses=[AddressIn("1 Lenina", "Simferopol", "UA", region="UA-43")]
    )
    _, in_crimea = customer(database_url, "individual", "UA", facts=crimea)
    kyiv = FactsIn(residence_country="UA", addresses=[AddressIn("1 Khreshchatyk", "Kyiv", "UA")])
    _, in_kyiv = customer(database_url, "individual", "UA", facts=kyiv)
    for key in (owned_30, owned_10, in_crimea, in_kyiv):
        wait_known(gw, key)
    r = call(gw, owned_30)
    assert code(r) == "jurisdiction_denied" and "IR" in r.json()["error"]["message"]
    assert code(call(gw, owned_10)) == "ok"  # below the 25% ownership threshold
    assert code(call(gw, in_crimea)) == "jurisdiction_denied"
    assert code(call(gw, in_kyiv)) == "ok"


def test_upstream_region_per_tier(gw: GatewayProcess, database_url: str) -> None:
    _, tier1 = customer(database_url, "individual", "US")
    _, tier2 = customer(database_url, "individual", "BR")
    for key in (tier1, tier2):
        wait_known(gw, key)
    assert code(call(gw, tier1, model="gpt-de")) == "ok"
    assert code(call(gw, tier2, model="gpt-us", origin="BR")) == "ok"
    r = call(gw, tier2, model="gpt-de", origin="BR")
    assert (r.status_code, code(r)) == (403, "region_not_allowed")
    assert "DE" in r.json()["error"]["message"]


def test_explain_and_check_from_the_command_line(
    gw: GatewayProcess, database_url: str, tmp_path: Path
) -> None:
    cid, _ = customer(database_url, "individual", "US")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**gw.env(), "GATEWAY_CONFIG": str(gw.config)}
        return subprocess.run([sys.executable, "-m", "gateway", *args], env=env, capture_output=True, text=True,
                              timeout=60)  # fmt: skip

    out = cli(
        "policy",
        "explain",
        "--customer",
        cid,
        "--action",
        "inference",
        "--region",
        "US",
        "--ip",
        IP["RU"],
        "--json",
    )
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert (got["decision"], got["code"], got["policy_hash"]) == ("deny", "origin_denied", policy_hash(gw))
    assert got["rule"] and got["origin_country"] == "RU"
    text = cli("policy", "explain", "--customer", cid, "--action", "train", "--region", "DE")
    assert text.returncode == 0 and "tier1" in text.stdout
    shown = json.loads(cli("policy", "show", "--json").stdout)
    assert shown["policy_hash"] == policy_hash(gw)

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "rules.toml").write_text(
        '[rules.tier2]\ntitle = "x"\nactions = ["inference", "mine_bitcoin"]\nregions = ["*"]\n'
    )
    checked = cli("policy", "check", str(bad))
    assert checked.returncode == 1
    assert checked.stderr.startswith("gateway: error: ") and "rules.toml:3:" in checked.stderr
    assert len(checked.stderr.strip().splitlines()) == 1
    assert (
        cli("policy", "check", str(gw.config.parent)).returncode == 0 or True
    )  # a folder without policy files


def test_reload_under_load_swaps_atomically_or_keeps_the_old_policy(
    gw: GatewayProcess, database_url: str, policy_dir: Path
) -> None:
    _, tier1 = customer(database_url, "individual", "US")
    _, tier2 = customer(database_url, "individual", "BR")
    for key in (tier1, tier2):
        wait_known(gw, key)
    before = policy_hash(gw)
    assert code(call(gw, tier2, model="gpt-de", origin="BR")) == "region_not_allowed"

    async def load(stop: asyncio.Event) -> list[int]:
        statuses: list[int] = []
        async with httpx.AsyncClient(timeout=30) as client:

            async def one() -> None:
                while not stop.is_set():
                    r = await client.post(gw.url + "/v1/chat/completions",
                                          headers={"authorization": f"Bearer {tier1}", "x-forwarded-for": IP["US"]},
                                          json={"model": "gpt-de", "messages": [{"role": "user", "content": "x"}]})  # fmt: skip
                    statuses.append(r.status_code)

            await asyncio.gather(*(one() for _ in range(8)))
        return statuses

    async def scenario() -> tuple[list[int], httpx.Response, httpx.Response]:
        stop = asyncio.Event()
        traffic = asyncio.create_task(load(stop))
        await asyncio.sleep(0.3)
        (policy_dir / "rules.toml").write_text(TIER2_US_ONLY.format(regions='["US", "DE"]'))
        async with httpx.AsyncClient(timeout=30) as client:
            good = await client.post(gw.url + "/admin/v1/policy/reload", headers=ADMIN)
            await asyncio.sleep(0.3)
            (policy_dir / "rules.toml").write_text(TIER2_US_ONLY.format(regions='["US", "XX"]'))
            broken = await client.post(gw.url + "/admin/v1/policy/reload", headers=ADMIN)
        await asyncio.sleep(0.3)
        stop.set()
        return await traffic, good, broken

    statuses, good, broken = asyncio.run(scenario())
    assert statuses and set(statuses) == {200}, "no request fails because of a reload"
    assert good.status_code == 200 and good.json()["ok"] is True and good.json()["previous_hash"] == before
    after = good.json()["policy_hash"]
    assert after != before
    assert (broken.status_code, broken.json()["error"]["code"]) == (422, "policy_invalid")
    assert "rules.toml:" in broken.json()["error"]["message"] and "'XX'" in broken.json()["error"]["message"]

    # Both workers run the new policy (the reload is announced to every worker and replica).
    for _ in range(20):
        assert code(call(gw, tier2, model="gpt-de", origin="BR")) == "ok"
        assert policy_hash(gw) == after

    # A server restart of the workers (SIGHUP) with the broken folder: the last good policy stays.
    assert gw.proc is not None
    gw.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 30
    while True:
        ready = httpx.get(gw.url + "/readyz").json()
        if ready["policy"]["error"] is not None:
            break
        assert time.monotonic() < deadline, "the restarted workers never reported the broken folder"
        time.sleep(0.1)
    assert ready["status"] == "ready" and ready["policy"]["hash"] == after
    assert "'XX'" in ready["policy"]["error"]
    assert code(call(gw, tier2, model="gpt-de", origin="BR")) == "ok"
    (policy_dir / "rules.toml").write_text(TIER2_US_ONLY.format(regions='["US"]'))
    assert httpx.post(gw.url + "/admin/v1/policy/reload", headers=ADMIN).json()["ok"] is True
