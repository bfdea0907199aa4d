"""The real openai SDK, unchanged but for base_url and key, through the gateway."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.e2e.conftest import UPSTREAM_KEY, GatewayProcess
from tests.e2e.ledger import usage_event


@pytest.fixture
def client(gateway: GatewayProcess, api_key) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=api_key.key, max_retries=0)


def test_chat_completion_and_its_usage_event(client, gateway, api_key, database_url, upstream) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-test", messages=[{"role": "user", "content": "Hello there, gateway"}]
    )
    completion = raw.parse()
    assert completion.choices[0].message.content.startswith("This is a demo reply")
    assert completion.usage.prompt_tokens == 3
    request_id = raw.headers["x-request-id"]
    event = usage_event(database_url, request_id)
    assert event["key_id"] == api_key.id
    assert (event["route"], event["model"], event["upstream"], event["status"]) == (
        "/v1/chat/completions", "gpt-test", "test-openai", 200,
    )  # fmt: skip
    assert (event["prompt_tokens"], event["completion_tokens"]) == (3, completion.usage.completion_tokens)
    assert event["usage_complete"] is True and event["stream"] is False
    assert event["bytes_in"] > 0 and event["bytes_out"] > 0 and str(event["client_ip"]) == "127.0.0.1"

    # Credentials: the upstream saw its own key, never the caller's; the caller saw nothing of the upstream's.
    seen = next(r for r in upstream[0].requests if r["headers"].get("x-request-id") == request_id)
    assert seen["headers"]["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert api_key.key not in str(seen)
    assert "set-cookie" not in raw.headers and "openai-organization" not in raw.headers
    assert UPSTREAM_KEY not in str(raw.headers)


def test_stream_without_include_usage_hides_the_usage_chunk_but_records_usage(client, database_url) -> None:
    with client.chat.completions.with_streaming_response.create(
        model="gpt-test", messages=[{"role": "user", "content": "one two three four"}], stream=True
    ) as response:
        request_id = response.headers["x-request-id"]
        chunks = list(response.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("This is a demo reply")
    assert all(c.choices for c in chunks), "the usage-only chunk must not reach a client that did not ask"
    event = usage_event(database_url, request_id)
    assert (event["prompt_tokens"], event["stream"], event["usage_complete"]) == (4, True, True)
    assert event["completion_tokens"] == len(text.split())


def test_stream_with_include_usage_keeps_the_usage_chunk(client, database_url) -> None:
    chunks = list(
        client.chat.completions.create(
            model="gpt-test",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
            max_tokens=4,
        )
    )
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 4


def test_completions_embeddings_and_models(client, gateway, api_key) -> None:
    completion = client.completions.create(model="gpt-test", prompt="Say hi", max_tokens=3)
    assert completion.usage.completion_tokens == 3
    embedding = client.embeddings.create(model="gpt-test", input=["a b", "c"])
    assert len(embedding.data) == 2 and embedding.usage.prompt_tokens == 3
    models = sorted(m.id for m in client.models.list())
    assert models == ["claude-test", "gpt-down", "gpt-slow", "gpt-test"]
    assert client.models.retrieve("gpt-test").owned_by == "test-openai"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("nope")


def test_responses_api_plain_and_streamed(client, database_url) -> None:
    response = client.responses.create(model="gpt-test", input="tell me something")
    assert response.output_text.startswith("This is a demo reply")
    assert response.usage.input_tokens == 3
    with client.responses.with_streaming_response.create(model="gpt-test", input="a b", stream=True) as raw:
        request_id = raw.headers["x-request-id"]
        events = list(raw.parse())
    assert events[-1].type == "response.completed"
    event = usage_event(database_url, request_id)
    assert (event["prompt_tokens"], event["completion_tokens"]) == (
        2,
        events[-1].response.usage.output_tokens,
    )


def test_curl_like_client_with_x_api_key(gateway, api_key) -> None:
    r = httpx.post(
        gateway.url + "/v1/chat/completions",
        headers={"x-api-key": api_key.key},
        json={"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert r.status_code == 200 and r.json()["object"] == "chat.completion"
