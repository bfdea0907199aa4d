"""Bad input gets one error shape, the right status, a code and the request id."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import httpx
import openai
import pytest

from gateway.kyc.webhooks import sign_generic
from tests.e2e.conftest import ADMIN_TOKEN, GENERIC_SECRET, GatewayProcess, new_key
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
    # No customer to record these under: counted, not in the ledger.
    metrics = httpx.get(gateway.url + "/metrics").text
    for code in ("missing_api_key", "invalid_api_key"):
        assert f'gateway_unattributed_refusals_total{{code="{code}"}}' in metrics


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
    # The key is genuine: the refusal is in the ledger, under its customer and key.
    event = usage_event(database_url, r.headers["x-request-id"])
    assert (event["key_id"], event["status"], event["error_code"]) == (created.id, 401, "revoked_api_key")


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


# -- hostile bodies: every route that decodes a client's body answers 400, never 500 ------------

DEEP = b"[" * 100_000 + b"]" * 100_000
"""100,000 levels of nesting: deeper than any decoder's recursion limit."""
ADMIN_HEADERS = {"authorization": f"Bearer {ADMIN_TOKEN}", "content-type": "application/json"}


def signed_generic(body: bytes) -> dict[str, str]:
    return {"gateway-signature": sign_generic(GENERIC_SECRET.encode(), body, int(time.time()))}


def test_deeply_nested_json_is_invalid_json(gateway, api_key, oidc_issuer) -> None:
    chat = b'{"model": "gpt-test", "messages": ' + DEEP + b"}"
    r = post(gateway, api_key.key, content=chat)
    assert "nested" in check_error(r, 400, "invalid_json")["message"]
    messages = b'{"model": "claude-test", "max_tokens": 5, "messages": ' + DEEP + b"}"
    check_error(post(gateway, api_key.key, content=messages, path="/v1/messages"), 400, "invalid_json")
    # The control plane's bodies are strictly typed: the first bracket where a string belongs is
    # refused, naming the field, before any depth is reached.
    customer = b'{"name": "deep", "country": ' + DEEP + b"}"
    r = post(gateway, None, content=customer, path="/admin/v1/customers", headers=dict(ADMIN_HEADERS))
    assert "$.country" in check_error(r, 400, "invalid_body")["message"]
    token = oidc_issuer.sign(sub=f"deep-{uuid.uuid4().hex[:6]}")
    r = post(gateway, token, content=customer, path="/kyc/v1/applications")
    check_error(r, 400, "invalid_body")
    # A provider's webhook keeps its documented code; the signature is checked first.
    hook = b'{"event_id": "deep", "status": ' + DEEP + b"}"
    r = post(gateway, None, content=hook, path="/kyc/v1/webhooks/acme-idv", headers=signed_generic(hook))
    check_error(r, 400, "invalid_webhook")


def test_invalid_utf8_is_refused_before_anything_is_forwarded(
    gateway, api_key, upstream, database_url, oidc_issuer
) -> None:
    marker = f"utf8-{uuid.uuid4().hex}"
    body = b'{"model": "gpt-test", "messages": [{"role": "user", "content": "%s \xff\xfe"}]}'
    r = post(gateway, api_key.key, content=body % marker.encode())
    assert "UTF-8" in check_error(r, 400, "invalid_json")["message"]
    assert not any(marker in seen["body"] for seen in upstream[0].requests), "forwarded to the upstream"
    event = usage_event(database_url, r.headers["x-request-id"])
    assert (event["status"], event["error_code"], event["upstream"]) == (400, "invalid_json", None)
    # A lone continuation byte in a field the gateway does read, and in the control plane's bodies.
    check_error(post(gateway, api_key.key, content=b'{"model": "gpt-\x80"}'), 400, "invalid_json")
    customer = b'{"name": "caf\xe9"}'  # Latin-1, not UTF-8
    r = post(gateway, None, content=customer, path="/admin/v1/customers", headers=dict(ADMIN_HEADERS))
    assert "UTF-8" in check_error(r, 400, "invalid_json")["message"]
    token = oidc_issuer.sign(sub=f"utf8-{uuid.uuid4().hex[:6]}")
    check_error(post(gateway, token, content=customer, path="/kyc/v1/applications"), 400, "invalid_json")
    hook = b'{"event_id": "\xc3\x28", "customer_id": "x", "reference": "r", "status": "pending"}'
    r = post(gateway, None, content=hook, path="/kyc/v1/webhooks/acme-idv", headers=signed_generic(hook))
    check_error(r, 400, "invalid_webhook")


def test_control_plane_bodies_over_the_limit_are_request_too_large(gateway, oidc_issuer) -> None:
    huge = b'{"name": "' + b"a" * (40 * 1024 * 1024) + b'"}'
    for path, key, headers in (
        ("/admin/v1/customers", None, dict(ADMIN_HEADERS)),
        ("/kyc/v1/applications", oidc_issuer.sign(sub=f"big-{uuid.uuid4().hex[:6]}"), {}),
        ("/kyc/v1/webhooks/acme-idv", None, {}),
    ):
        check_error(post(gateway, key, content=huge, path=path, headers=headers), 413, "request_too_large")
    # Over the control plane's 1 MiB but under the data plane's limit: refused the same way.
    big = b'{"name": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    r = post(gateway, None, content=big, path="/admin/v1/customers", headers=dict(ADMIN_HEADERS))
    check_error(r, 413, "request_too_large")
