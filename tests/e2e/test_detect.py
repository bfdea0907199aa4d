"""Detection's actions through a real gateway: a throttled or suspended customer's next call is
refused with the right code, and served again once the action is reversed. The operator's side runs
through the real CLI and admin API."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import asyncpg
import httpx

from gateway.detect.findings import Finding
from gateway.detect.runner import run_once
from gateway.policy.detection import DetectionActions
from tests.conftest import _run, kyc_service
from tests.e2e.conftest import ADMIN_TOKEN, GatewayProcess, new_key
from tests.e2e.test_cli import gateway_cli
from tests.e2e.test_quota import chat
from tests.integration.detect.test_detect import Fake, policy

ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}


def _until(gw: GatewayProcess, key: str, status: int, code: str | None = None) -> httpx.Response:
    """Calls until one answers ``status`` (the change reaches the gateway by NOTIFY within a moment)."""
    for _ in range(300):
        r = chat(gw, key)
        if r.status_code == status and (code is None or r.json()["error"]["code"] == code):
            return r
        assert r.status_code in (200, 403, 429), r.text
    raise AssertionError(f"never answered {status} {code or ''}: last {r.status_code} {r.text[:300]}")


def _cli(gw: GatewayProcess, *args: str) -> Any:
    out = gateway_cli(gw, "detect", *args, "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def flagged(database_url: str, customer: uuid.UUID) -> tuple[uuid.UUID, int]:
    """A cluster of one flagged account, as a run of the detector records it, and its flag's id."""
    now = dt.datetime.now(dt.UTC)
    finding = Finding(
        kind="extractor",
        members=(customer,),
        score=0.9,
        signals={"reasoning_share": 0.95},
        reasons=("asks for step-by-step reasoning in 95 % of calls",),
        first_seen=now - dt.timedelta(hours=2),
        since=now - dt.timedelta(days=7),
        until=now,
    )

    async def record() -> tuple[uuid.UUID, int]:
        conn = await asyncpg.connect(database_url)
        try:
            flag_only = policy(actions=DetectionActions(flag=0.5, throttle=None))
            out = await run_once(conn, flag_only, kyc_service(), Fake(finding), now=now)
            (cid,) = out.new_clusters
            (flag,) = out.actions
            return cid, flag
        finally:
            await conn.close()

    return _run(record())


def test_a_throttled_or_suspended_customer_is_refused_and_served_again_after_reversal(
    gateway: GatewayProcess, database_url: str
) -> None:
    name = f"detect-e2e-{uuid.uuid4().hex[:8]}"
    key = new_key(database_url, gateway, name).key
    assert chat(gateway, key).status_code == 200
    customer = uuid.UUID(_id(gateway, name))
    cid, _ = flagged(database_url, customer)

    listed = _cli(gateway, "clusters", "--status", "open")
    assert str(cid) in [c["id"] for c in listed]
    shown = _cli(gateway, "show", str(cid))
    assert shown["cluster"]["members"] == [str(customer)]
    assert [a["action"] for a in shown["actions"]] == ["flag"]

    # Throttled: requests per minute down to the policy's 6; the calls beyond are refused.
    (throttle,) = _cli(
        gateway, "act", str(cid), "--action", "throttle", "--reason", "e2e: looks like extraction"
    )
    assert throttle["override_id"] is not None and not throttle["automatic"]
    refused = _until(gateway, key, 429, "rate_limited")
    assert "requests" in refused.json()["error"]["message"]
    undone = _cli(gateway, "reverse", str(throttle["id"]), "--reason", "e2e: a benchmark lab")
    assert undone["state"] == "reversed" and "removed" in undone["effect"]["undone"]
    _until(gateway, key, 200)

    # Suspended: the KYC standing refuses every call until reinstated.
    (suspend,) = _cli(gateway, "act", str(cid), "--action", "suspend", "--reason", "e2e: stop it")
    assert suspend["effect"]["kyc"]["to"] == "suspended"
    _until(gateway, key, 403, "kyc_suspended")
    undone = _cli(gateway, "reverse", str(suspend["id"]), "--reason", "e2e: cleared")
    assert undone["effect"]["undone"] == {"reinstated": "verified"}
    _until(gateway, key, 200)

    again = gateway_cli(gateway, "detect", "reverse", str(suspend["id"]), "--reason", "twice")
    assert again.returncode == 1 and "already reversed" in again.stderr

    # The admin API: the same cluster, a review, and a run on demand.
    r = httpx.get(f"{gateway.url}/admin/v1/detect/clusters/{cid}", headers=ADMIN)
    assert r.status_code == 200 and len(r.json()["actions"]) == 3
    r = httpx.post(
        f"{gateway.url}/admin/v1/detect/clusters/{cid}/review",
        headers=ADMIN,
        json={"verdict": "dismiss", "reason": "e2e: false alert"},
    )
    assert r.status_code == 200 and r.json()["cluster"]["status"] == "dismissed"
    assert {a["action"]: a["state"] for a in r.json()["actions"]}["flag"] == "reversed"
    # A rerun of history, over a stretch before any call: the engine runs and finds nothing there.
    # (Not the window ending now: the e2e database holds other tests' traffic, not to be acted on.)
    window = {"since": "2020-01-01T00:00:00Z", "until": "2020-01-08T00:00:00Z"}
    r = httpx.post(f"{gateway.url}/admin/v1/detect/runs", headers=ADMIN, json=window)
    assert r.status_code == 201 and r.json()["status"] == "done", r.text
    run = r.json()["run"]
    assert (
        run["findings"] == 0
        and run["since"].startswith("2020-01-01")
        and run["until"].startswith("2020-01-08")
    )


def _id(gw: GatewayProcess, name: str) -> str:
    out = gateway_cli(gw, "customers", "list", "--json")
    return str(next(c["id"] for c in json.loads(out.stdout) if c["name"] == name))


def test_the_admin_api_refuses_bad_input_with_clear_errors(gateway: GatewayProcess) -> None:
    base = gateway.url + "/admin/v1/detect"
    r = httpx.get(f"{base}/clusters/{uuid.uuid4()}", headers=ADMIN)
    assert (r.status_code, r.json()["error"]["code"]) == (404, "cluster_not_found")
    r = httpx.get(f"{base}/clusters", headers=ADMIN, params={"status": "closed"})
    assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_status")
    r = httpx.post(f"{base}/actions/999999999/reverse", headers=ADMIN, json={"reason": "x"})
    assert (r.status_code, r.json()["error"]["code"]) == (404, "action_not_found")
    r = httpx.post(
        f"{base}/clusters/{uuid.uuid4()}/review", headers=ADMIN, json={"verdict": "maybe", "reason": "x"}
    )
    assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_body")
    assert "verdict" in r.json()["error"]["message"]
    r = httpx.post(
        f"{base}/runs", headers=ADMIN, json={"since": "2026-12-01T00:00:00Z", "until": "2026-11-01T00:00:00Z"}
    )
    assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_window")
    r = httpx.post(f"{base}/runs", headers=ADMIN, json={"since": "2026-12-01T00:00:00"})
    assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_window")
    r = httpx.post(f"{base}/runs", json={})
    assert (r.status_code, r.json()["error"]["code"]) == (401, "missing_token")
