"""The real anthropic SDK through the gateway."""

from __future__ import annotations

import anthropic
import pytest

from tests.e2e.conftest import UPSTREAM_KEY, GatewayProcess
from tests.e2e.ledger import usage_event


@pytest.fixture
def client(gateway: GatewayProcess, api_key) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key=api_key.key, max_retries=0)


def test_message_and_its_usage_event(client, database_url, upstream, api_key) -> None:
    raw = client.messages.with_raw_response.create(
        model="claude-test", max_tokens=5, messages=[{"role": "user", "content": "Hello from the SDK"}]
    )
    message = raw.parse()
    assert message.content[0].text == "This is a demo reply"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (4, 5)
    request_id = raw.headers["x-request-id"]
    event = usage_event(database_url, request_id)
    assert (event["route"], event["upstream"], event["prompt_tokens"], event["completion_tokens"]) == (
        "/v1/messages", "test-anthropic", 4, 5,
    )  # fmt: skip
    seen = next(r for r in upstream[0].requests if r["headers"].get("x-request-id") == request_id)
    assert seen["headers"]["x-api-key"] == UPSTREAM_KEY
    assert "authorization" not in seen["headers"]
    assert seen["headers"]["anthropic-version"]  # the SDK's own headers pass through


def test_streamed_message_usage(client, database_url) -> None:
    with client.messages.with_streaming_response.create(
        model="claude-test", max_tokens=1024, stream=True, messages=[{"role": "user", "content": "a b c"}]
    ) as raw:
        request_id = raw.headers["x-request-id"]
        events = list(raw.parse())
    kinds = [e.type for e in events]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    delta = next(e for e in events if e.type == "message_delta")
    event = usage_event(database_url, request_id)
    assert (event["prompt_tokens"], event["completion_tokens"], event["usage_complete"]) == (
        3, delta.usage.output_tokens, True,
    )  # fmt: skip


def test_stream_helper_and_count_tokens_and_models(client) -> None:
    with client.messages.stream(
        model="claude-test", max_tokens=3, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        text = "".join(stream.text_stream)
    assert text == "This is a"
    assert (
        client.messages.count_tokens(
            model="claude-test", messages=[{"role": "user", "content": "a b"}]
        ).input_tokens
        == 2
    )
    models = [m.id for m in client.models.list()]
    assert "claude-test" in models and "gpt-test" in models


def test_anthropic_route_refuses_an_openai_model(client) -> None:
    with pytest.raises(anthropic.BadRequestError) as info:
        client.messages.create(model="gpt-test", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert info.value.body["error"]["code"] == "wrong_protocol_for_model"
