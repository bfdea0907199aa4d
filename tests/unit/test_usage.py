"""Usage from real wire formats: OpenAI JSON and chunks, Responses events, Anthropic events."""

import msgspec

from gateway.proxy.sse import EventSplitter, event_data
from gateway.proxy.usage import UsageMeter

enc = msgspec.json.encode


def test_openai_json_usage() -> None:
    m = UsageMeter()
    m.feed_json(
        enc(
            {
                "id": "x",
                "choices": [{"message": {"content": "hi"}}],
                "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
            }
        )
    )
    assert (m.prompt_tokens, m.completion_tokens, m.complete) == (7, 3, True)


def test_embeddings_usage_has_no_completion() -> None:
    m = UsageMeter()
    m.feed_json(enc({"data": [], "usage": {"prompt_tokens": 5, "total_tokens": 5}}))
    assert (m.prompt_tokens, m.completion_tokens) == (5, None)


def test_openai_usage_chunk_is_recognised_and_null_usage_ignored() -> None:
    m = UsageMeter()
    assert m.feed_event(enc({"choices": [{"delta": {"content": "a"}}], "usage": None})) is False
    assert m.prompt_tokens is None
    assert m.feed_event(enc({"choices": [], "usage": {"prompt_tokens": 4, "completion_tokens": 9}})) is True
    assert (m.prompt_tokens, m.completion_tokens, m.complete) == (4, 9, True)


def test_word_usage_in_content_is_not_usage() -> None:
    m = UsageMeter()
    m.feed_event(enc({"choices": [{"delta": {"content": 'say "usage": {"prompt_tokens": 99}'}}]}))
    assert m.prompt_tokens is None


def test_anthropic_stream_usage_is_cumulative_and_includes_cache() -> None:
    m = UsageMeter()
    m.feed_event(
        enc(
            {
                "type": "message_start",
                "message": {"usage": {"input_tokens": 10, "cache_read_input_tokens": 5, "output_tokens": 1}},
            }
        )
    )
    assert (m.prompt_tokens, m.complete) == (15, False)
    m.feed_event(enc({"type": "content_block_delta", "delta": {"type": "text_delta", "text": "x"}}))
    m.feed_event(
        enc({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 42}})
    )
    assert (m.prompt_tokens, m.completion_tokens, m.complete) == (15, 42, True)


def test_responses_api_completed_event() -> None:
    m = UsageMeter()
    m.feed_event(
        enc({"type": "response.completed", "response": {"usage": {"input_tokens": 3, "output_tokens": 8}}})
    )
    assert (m.prompt_tokens, m.completion_tokens, m.complete) == (3, 8, True)


def test_cut_stream_estimates_completion_from_deltas() -> None:
    m = UsageMeter()
    m.feed_event(
        enc({"type": "message_start", "message": {"usage": {"input_tokens": 10, "output_tokens": 1}}})
    )
    for _ in range(6):
        m.feed_event(enc({"type": "content_block_delta", "delta": {"type": "text_delta", "text": "x"}}))
    assert (m.prompt_tokens, m.completion_tokens, m.complete) == (10, 6, False)


def test_splitter_handles_events_split_across_chunks_and_crlf() -> None:
    s = EventSplitter()
    assert s.feed(b'data: {"a"') == []
    assert s.feed(b": 1}\n\ndata: 2\r\n\r\nda") == [b'data: {"a": 1}\n\n', b"data: 2\r\n\r\n"]
    assert s.feed(b"ta: 3\n") == []
    assert s.rest() == b"data: 3\n"
    assert event_data(b'event: message_stop\ndata: {"x": 1}\n\n') == b'{"x": 1}'
    assert event_data(b"data: a\ndata: b\n\n") == b"a\nb"


def test_usage_found_whatever_the_json_spacing() -> None:
    m = UsageMeter()
    assert m.feed_json(b'{"choices": [], "usage" : {"prompt_tokens": 1, "completion_tokens": 2}}') is True
    assert (m.prompt_tokens, m.completion_tokens) == (1, 2)
