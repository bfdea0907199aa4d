"""Streams pass through chunk by chunk; a client that leaves cancels the upstream call."""

from __future__ import annotations

import time

import httpx

from tests.e2e.ledger import usage_event


def stats(upstream) -> dict[str, int]:
    return dict(upstream[0].stats)


def slow_anthropic_stream(gateway, key: str, prompt: str, chunks: int):
    """A Messages stream whose upstream sends one event every 50 ms."""
    body = {
        "model": "claude-test",
        "max_tokens": 500,
        "stream": True,
        "messages": [{"role": "user", "content": prompt}],
    }
    headers = {"x-api-key": key, "x-demo-chunk-delay": "0.05", "x-demo-chunks": str(chunks)}
    return httpx.stream("POST", gateway.url + "/v1/messages", json=body, headers=headers, timeout=30)


def test_first_chunk_arrives_while_the_upstream_is_still_streaming(gateway, api_key, upstream) -> None:
    before = stats(upstream)
    with slow_anthropic_stream(gateway, api_key.key, "x", chunks=40) as r:
        chunks = r.iter_raw()
        first = next(chunks)
        # Causal, not timed: the upstream has not finished, yet the client already holds the first event.
        assert stats(upstream)["streams_completed"] == before["streams_completed"]
        assert first.startswith(b"event: message_start")
        rest = b"".join(chunks)
    assert rest.rstrip().endswith(b'data: {"type":"message_stop"}')
    assert stats(upstream)["streams_completed"] == before["streams_completed"] + 1


def test_client_disconnect_cancels_upstream_and_records_partial_usage(
    gateway, api_key, upstream, database_url
) -> None:
    before = stats(upstream)
    with slow_anthropic_stream(gateway, api_key.key, "a b c d", chunks=200) as r:
        request_id = r.headers["x-request-id"]
        received = 0
        for chunk in r.iter_raw():
            received += chunk.count(b"content_block_delta")
            if received >= 3:
                break
    # Leaving the block closed the connection mid-stream.
    deadline = time.monotonic() + 10
    while stats(upstream)["streams_abandoned"] == before["streams_abandoned"]:
        assert time.monotonic() < deadline, "the upstream call was not cancelled"
        time.sleep(0.02)
    assert stats(upstream)["streams_completed"] == before["streams_completed"]
    event = usage_event(database_url, request_id)
    assert (event["status"], event["error_code"]) == (499, "client_disconnected")
    assert event["prompt_tokens"] == 4
    assert event["usage_complete"] is False
    assert 3 <= event["completion_tokens"] < 200


def test_openai_stream_cut_short_records_estimated_completion(
    gateway, api_key, upstream, database_url
) -> None:
    body = {"model": "gpt-test", "stream": True, "messages": [{"role": "user", "content": "x"}]}
    headers = {"authorization": f"Bearer {api_key.key}", "x-demo-chunk-delay": "0.05", "x-demo-chunks": "200"}
    with httpx.stream(
        "POST", gateway.url + "/v1/chat/completions", json=body, headers=headers, timeout=30
    ) as r:
        request_id = r.headers["x-request-id"]
        for n, _ in enumerate(r.iter_lines()):
            if n >= 8:
                break
    event = usage_event(database_url, request_id)
    assert (event["status"], event["usage_complete"]) == (499, False)
    assert event["completion_tokens"] >= 3 and event["prompt_tokens"] is None
