"""Extraction-friendly parameters through the real gateway: refused below enhanced due diligence
(policies/detection.toml: logit_bias with logprobs, top_logprobs above 5), allowed after it."""

from __future__ import annotations

import time
from typing import Any

import httpx
import openai
import pytest

from tests.e2e.conftest import GatewayProcess, new_key
from tests.e2e.ledger import call_features, usage_event
from tests.e2e.test_call_features import gateway_cli

MESSAGES = [{"role": "user", "content": "Say yes"}]


def test_logit_bias_with_logprobs_and_top_logprobs(database_url: str, gateway: GatewayProcess) -> None:
    key = new_key(database_url, gateway, "guarded-co")
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=key.key, max_retries=0)

    with pytest.raises(openai.PermissionDeniedError) as refused:
        client.chat.completions.create(
            model="gpt-test", messages=MESSAGES, logprobs=True, logit_bias={"50256": -100}
        )
    error: Any = refused.value.body
    assert refused.value.status_code == 403 and error["code"] == "parameter_not_allowed"
    assert error["message"] == (
        "logit_bias together with logprobs is not allowed for this account "
        "(policy parameters.standard_due_diligence)"
    )
    # The refusal is in the ledger, with the call's features (evidence for the detector).
    request_id = refused.value.response.headers["x-request-id"]
    assert usage_event(database_url, request_id)["error_code"] == "parameter_not_allowed"
    features = call_features(database_url, request_id)
    assert (features["status"], features["logit_bias"], features["logprobs"]) == (403, True, True)

    with pytest.raises(openai.PermissionDeniedError, match=r"top_logprobs 6 is above the limit of 5"):
        client.chat.completions.create(model="gpt-test", messages=MESSAGES, logprobs=True, top_logprobs=6)
    # Each alone, and within the cap, passes.
    client.chat.completions.create(model="gpt-test", messages=MESSAGES, logprobs=True, top_logprobs=5)
    client.chat.completions.create(model="gpt-test", messages=MESSAGES, logit_bias={"50256": -100})

    done = gateway_cli(
        gateway, "kyc", "level", "--customer", "guarded-co", "--level", "enhanced", "--reason", "EDD done"
    )
    assert done.returncode == 0, done.stderr
    body = {"model": "gpt-test", "messages": MESSAGES, "logprobs": True, "logit_bias": {"50256": -100}}
    deadline = time.monotonic() + 10
    while True:  # the standing reaches the gateway through LISTEN/NOTIFY
        r = httpx.post(gateway.url + "/v1/chat/completions", json=body, headers={"x-api-key": key.key})
        if r.status_code == 200:
            break
        assert r.status_code == 403 and time.monotonic() < deadline
        time.sleep(0.02)
    completion = client.chat.completions.create(
        model="gpt-test", messages=MESSAGES, logprobs=True, logit_bias={"50256": -100}, top_logprobs=5
    )
    assert completion.choices
