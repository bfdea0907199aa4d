"""The OpenAI adapter's wire format: usage from JSON, chunks and Responses events; the model list."""

from __future__ import annotations

import msgspec

from gateway.proxy.adapters import ADAPTERS, OpenAIAdapter, TokenUsage, dialect

enc = msgspec.json.encode
openai = OpenAIAdapter()


def test_openai_json_usage() -> None:
    m = openai.usage_reader()
    m.feed_json(
        enc(
            {
                "id": "x",
                "choices": [{"message": {"content": "hi"}}],
                "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
            }
        )
    )
    assert m.usage() == TokenUsage(7, 3, True)


def test_embeddings_usage_has_no_completion() -> None:
    m = openai.usage_reader()
    m.feed_json(enc({"data": [], "usage": {"prompt_tokens": 5, "total_tokens": 5}}))
    assert (m.usage().input_tokens, m.usage().output_tokens) == (5, None)


def test_openai_usage_chunk_is_recognised_and_null_usage_ignored() -> None:
    m = openai.usage_reader()
    assert m.feed_event(enc({"choices": [{"delta": {"content": "a"}}], "usage": None})) is False
    assert m.usage().input_tokens is None
    assert m.feed_event(enc({"choices": [], "usage": {"prompt_tokens": 4, "completion_tokens": 9}})) is True
    assert m.usage() == TokenUsage(4, 9, True)


def test_word_usage_in_content_is_not_usage() -> None:
    m = openai.usage_reader()
    m.feed_event(enc({"choices": [{"delta": {"content": 'say "usage": {"prompt_tokens": 99}'}}]}))
    assert m.usage().input_tokens is None


def test_responses_api_completed_event() -> None:
    m = openai.usage_reader()
    m.feed_event(
        enc({"type": "response.completed", "response": {"usage": {"input_tokens": 3, "output_tokens": 8}}})
    )
    assert m.usage() == TokenUsage(3, 8, True)


def test_usage_found_whatever_the_json_spacing() -> None:
    m = openai.usage_reader()
    assert m.feed_json(b'{"choices": [], "usage" : {"prompt_tokens": 1, "completion_tokens": 2}}') is True
    assert (m.usage().input_tokens, m.usage().output_tokens) == (1, 2)


def test_responses_api_plain_body_reports_usage_at_the_top() -> None:
    m = openai.usage_reader()
    body = {
        "object": "response",
        "output": [],
        "usage": {"input_tokens": 6, "output_tokens": 2, "total_tokens": 8},
    }
    assert m.feed_json(enc(body)) is False
    assert m.usage() == TokenUsage(6, 2, True)


def test_cut_chat_stream_counts_deltas_and_legacy_text_chunks() -> None:
    m = openai.usage_reader()
    m.feed_event(enc({"choices": [{"delta": {"content": "a"}}], "usage": None}))
    m.feed_event(enc({"choices": [{"text": "b", "index": 0}]}))  # legacy completions
    m.feed_event(b"[DONE]")
    assert m.usage() == TokenUsage(None, 2, False)


def test_a_payload_that_is_not_json_is_no_usage() -> None:
    m = openai.usage_reader()
    assert m.feed_json(b'{"usage": {"prompt_tokens": 1') is False
    assert m.feed_json(b'{"usage": {"prompt_tokens": "many"}}') is False
    assert m.usage() == TokenUsage(None, None, False)


def test_model_list_and_one_model_in_openai_shape() -> None:
    assert openai.models_body([("a", "up1"), ("b", "up2")]) == (
        b'{"data":[{"id":"a","owned_by":"up1","object":"model","created":0},'
        b'{"id":"b","owned_by":"up2","object":"model","created":0}],"object":"list"}'
    )
    assert openai.models_body([]) == b'{"data":[],"object":"list"}'
    assert openai.model_body("a", "up1") == b'{"id":"a","owned_by":"up1","object":"model","created":0}'


def test_openai_is_the_default_dialect() -> None:
    assert not openai.speaks({b"user-agent": b"OpenAI/Python 1.0"})
    assert dialect({b"user-agent": b"OpenAI/Python 1.0"}) is ADAPTERS["openai"]
    assert dialect({}) is ADAPTERS["openai"]


def test_claude_behind_an_openai_compatible_router_counts_its_cached_prompt() -> None:
    m = openai.usage_reader()
    usage = {"prompt_tokens": 10, "completion_tokens": 2, "cache_read_input_tokens": 90}
    m.feed_json(enc({"choices": [], "usage": {**usage, "cache_creation_input_tokens": 5}}))
    assert m.usage() == TokenUsage(105, 2, True)
