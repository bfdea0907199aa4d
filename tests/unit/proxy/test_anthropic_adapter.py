"""The Anthropic adapter's wire format: usage from message events and bodies; the model list."""

from __future__ import annotations

import msgspec

from gateway.proxy.adapters import ADAPTERS, AnthropicAdapter, TokenUsage, dialect

enc = msgspec.json.encode
anthropic = AnthropicAdapter()


def test_anthropic_stream_usage_is_cumulative_and_includes_cache() -> None:
    m = anthropic.usage_reader()
    m.feed_event(
        enc(
            {
                "type": "message_start",
                "message": {"usage": {"input_tokens": 10, "cache_read_input_tokens": 5, "output_tokens": 1}},
            }
        )
    )
    assert (m.usage().input_tokens, m.usage().complete) == (15, False)
    m.feed_event(enc({"type": "content_block_delta", "delta": {"type": "text_delta", "text": "x"}}))
    m.feed_event(
        enc({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 42}})
    )
    assert m.usage() == TokenUsage(15, 42, True)


def test_cut_stream_estimates_completion_from_deltas() -> None:
    m = anthropic.usage_reader()
    m.feed_event(
        enc({"type": "message_start", "message": {"usage": {"input_tokens": 10, "output_tokens": 1}}})
    )
    for _ in range(6):
        m.feed_event(enc({"type": "content_block_delta", "delta": {"type": "text_delta", "text": "x"}}))
    assert m.usage() == TokenUsage(10, 6, False)


def test_plain_message_usage_with_cache_creation_and_no_usage_only_chunk() -> None:
    m = anthropic.usage_reader()
    body = {
        "type": "message",
        "content": [{"type": "text", "text": "hi"}],
        "usage": {"input_tokens": 3, "cache_creation_input_tokens": 100, "output_tokens": 2},
    }
    assert m.feed_json(enc(body)) is False  # Anthropic has no usage-only chunk to hide
    assert m.usage() == TokenUsage(103, 2, True)


def test_model_list_and_one_model_in_anthropic_shape() -> None:
    one = b'{"id":"a","display_name":"a","type":"model","created_at":"1970-01-01T00:00:00Z"}'
    assert anthropic.models_body([("a", "up1"), ("b", "up2")]) == (
        b'{"data":['
        + one
        + b',{"id":"b","display_name":"b","type":"model","created_at":"1970-01-01T00:00:00Z"}],'
        b'"has_more":false,"first_id":"a","last_id":"b"}'
    )
    assert anthropic.models_body([]) == b'{"data":[],"has_more":false,"first_id":null,"last_id":null}'
    assert anthropic.model_body("a", "up1") == one


def test_the_anthropic_sdk_is_recognised_by_anthropic_version() -> None:
    headers = {b"anthropic-version": b"2023-06-01", b"x-api-key": b"gk_x"}
    assert anthropic.speaks(headers)
    assert dialect(headers) is ADAPTERS["anthropic"]
    assert not anthropic.speaks({b"x-api-key": b"gk_x"})
