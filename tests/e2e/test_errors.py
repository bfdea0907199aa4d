"""Bad input gets one error shape, the right status, a code and the request id."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import openai
import pytest

from tests.e2e.conftest import GatewayProcess, new_key
from tests.e2e.ledger import usage_event

CHAT = {"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}]}


def check_error(r: httpx.Response, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert set(error) == {"type", "code", "message", "request_id"}
    assert error["code"] == code and error["message"]
    assert error["request_id"] == r.headers["x-request-id"]
    return error


def post(gateway: GatewayProcess, key: str | None, **kwargs) -> httpx.Response:
    headers = kwargs.pop("headers", {})
    if key is not None:
        headers["authorization"] = f"Bearer {key}"
    return httpx.post(
        gateway.url + kwargs.pop("path", "/v1/chat/completions"), headers=headers, timeout=30, **kwargs
    )


def test_missing_and_malformed_keys(gateway) -> None:
    check_error(post(gateway, None, json=CHAT), 401, "missing_api_key")
    check_error(post(gateway, "sk-not-ours", json=CHAT), 401, "invalid_api_key")
    check_error(post(gateway, "gk_" + "0" * 16 + "_" + "1" * 48, json=CHAT), 401, "invalid_api_key")
    err = check_error(
        post(gateway, None, json=CHAT, headers={"authorization": "Basic abc"}), 401, "missing_api_key"
    )
    assert err["type"] == "authentication_error"


def test_openai_sdk_sees_authentication_error(gateway) -> None:
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key="gk_bad", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        client.chat.completions.create(**CHAT)
    assert info.value.code == "invalid_api_key"
    assert info.value.request_id


def test_revoked_key_via_cli_is_refused_within_a_second(gateway, database_url) -> None:
    created = new_key(database_url, gateway, "revoke-co")
    assert post(gateway, created.key, json=CHAT).status_code == 200
    env = gateway.env()
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "keys", "revoke", created.id, "--customer", "revoke-co", "--json"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    revoked_at = time.monotonic()
    while (r := post(gateway, created.key, json=CHAT)).status_code == 200:
        assert time.monotonic() - revoked_at < 1.0, "revocation took longer than a second"
    check_error(r, 401, "revoked_api_key")


def test_body_errors(gateway, api_key, database_url) -> None:
    too_big = b'{"model": "gpt-test", "x": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    check_error(post(gateway, api_key.key, content=too_big), 413, "request_too_large")
    chunked = iter([b'{"model": "gpt-test", "x": "', b"a" * (1024 * 1024), b'"}'])
    check_error(post(gateway, api_key.key, content=chunked), 413, "request_too_large")
    r = post(gateway, api_key.key, content=b'{"model": "gpt-test", ')
    check_error(r, 400, "invalid_json")
    event = usage_event(database_url, r.headers["x-request-id"])
    assert (event["status"], event["error_code"], event["upstream"]) == (400, "invalid_json", None)
    check_error(post(gateway, api_key.key, content=b"[1, 2]"), 400, "invalid_request")
    check_error(post(gateway, api_key.key, json={"messages": []}), 400, "missing_model")
    check_error(post(gateway, api_key.key, json={"model": 5}), 400, "invalid_request")


def test_routing_errors(gateway, api_key) -> None:
    check_error(post(gateway, api_key.key, json={**CHAT, "model": "gpt-nope"}), 404, "model_not_found")
    check_error(
        post(gateway, api_key.key, json={**CHAT, "model": "claude-test"}), 400, "wrong_protocol_for_model"
    )
    check_error(post(gateway, api_key.key, json=CHAT, path="/v1/fine_tuning/jobs"), 404, "route_not_found")
    r = httpx.get(gateway.url + "/v1/chat/completions", headers={"x-api-key": api_key.key})
    check_error(r, 405, "method_not_allowed")
    check_error(httpx.get(gateway.url + "/nowhere"), 404, "route_not_found")


def test_upstream_down_is_502_and_counted(gateway, api_key, database_url) -> None:
    r = post(gateway, api_key.key, json={**CHAT, "model": "gpt-down"})
    check_error(r, 502, "upstream_unavailable")
    event = usage_event(database_url, r.headers["x-request-id"])
    assert (event["status"], event["upstream"], event["error_code"]) == (502, "down", "upstream_unavailable")
    metrics = httpx.get(gateway.url + "/metrics").text
    assert 'gateway_upstream_errors_total{code="upstream_unavailable",upstream="down"}' in metrics


def test_upstream_timeout_is_504(gateway, api_key) -> None:
    r = post(gateway, api_key.key, json={**CHAT, "model": "gpt-slow"}, headers={"x-demo-delay": "3"})
    check_error(r, 504, "upstream_timeout")


def test_upstream_errors_pass_through_with_their_status(gateway, api_key) -> None:
    # The upstream's own 4xx (here: it refuses invalid JSON the gateway let through as valid) is not ours.
    r = post(gateway, api_key.key, json=CHAT, path="/v1/embeddings", headers={"x-demo-delay": "0"})
    assert r.status_code == 200
