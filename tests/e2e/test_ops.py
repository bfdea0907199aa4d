"""Health, readiness, metrics, request ids, and logs without secrets."""

from __future__ import annotations

import httpx

from tests.e2e.conftest import UPSTREAM_KEY


def test_health_ready_and_metrics(gateway, api_key) -> None:
    health = httpx.get(gateway.url + "/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok"} and health.headers["x-request-id"]
    ready = httpx.get(gateway.url + "/readyz").json()
    assert ready["status"] == "ready"
    assert ready["checks"] == {
        "database": "ok", "migrations": "ok", "api_keys": "ok", "kyc_standing": "ok", "usage_ledger": "ok"
    }  # fmt: skip
    assert ready["ledger"] == {
        "journal": "ok", "spool": "ok", "database": "ok", "in_memory_only": 0, "queued": ready["ledger"]["queued"]
    }  # fmt: skip
    httpx.post(gateway.url + "/v1/chat/completions", headers={"x-api-key": api_key.key},
               json={"model": "gpt-test", "messages": [{"role": "user", "content": "m"}]})  # fmt: skip
    text = httpx.get(gateway.url + "/metrics").text
    assert 'gateway_requests_total{route="/v1/chat/completions",status="200"}' in text
    assert 'gateway_request_duration_seconds_bucket{le="0.005",route="/v1/chat/completions"}' in text
    assert "gateway_ledger_queue_depth " in text
    assert "gateway_ledger_accepting 1.0" in text and "gateway_ledger_events_in_memory_only 0.0" in text
    assert "gateway_features_pending " in text


def test_logs_are_json_and_carry_no_secrets(gateway, api_key) -> None:
    for headers in ({"x-api-key": api_key.key}, {"authorization": f"Bearer {api_key.key[:-1]}x"}):
        httpx.post(gateway.url + "/v1/chat/completions", headers=headers,
                   json={"model": "gpt-test", "messages": [{"role": "user", "content": "secret prompt text"}]})  # fmt: skip
    log = gateway.log()
    assert '"event": "request"' in log  # access log is on in the test configuration
    assert api_key.key not in log and api_key.key.split("_")[2] not in log
    assert UPSTREAM_KEY not in log
    assert "secret prompt text" not in log
