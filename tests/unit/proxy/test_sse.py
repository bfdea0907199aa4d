"""Server-sent events split from a byte stream, and their data lines."""

from gateway.proxy.sse import EventSplitter, event_data


def test_splitter_handles_events_split_across_chunks_and_crlf() -> None:
    s = EventSplitter()
    assert s.feed(b'data: {"a"') == []
    assert s.feed(b": 1}\n\ndata: 2\r\n\r\nda") == [b'data: {"a": 1}\n\n', b"data: 2\r\n\r\n"]
    assert s.feed(b"ta: 3\n") == []
    assert s.rest() == b"data: 3\n"
    assert event_data(b'event: message_stop\ndata: {"x": 1}\n\n') == b'{"x": 1}'
    assert event_data(b"data: a\ndata: b\n\n") == b"a\nb"
