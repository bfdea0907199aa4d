"""Server-sent events split from a byte stream, and their data lines."""

from hypothesis import given
from hypothesis import strategies as st

from gateway.proxy.sse import EventSplitter, _joined_data_lines, event_data


def test_splitter_handles_events_split_across_chunks_and_crlf() -> None:
    s = EventSplitter()
    assert s.feed(b'data: {"a"') == []
    assert s.feed(b": 1}\n\ndata: 2\r\n\r\nda") == [b'data: {"a": 1}\n\n', b"data: 2\r\n\r\n"]
    assert s.feed(b"ta: 3\n") == []
    assert s.rest() == b"data: 3\n"
    assert event_data(b'event: message_stop\ndata: {"x": 1}\n\n') == b'{"x": 1}'
    assert event_data(b"data: a\ndata: b\n\n") == b"a\nb"


_LINE = st.one_of(
    st.binary(max_size=12).map(lambda b: b"data: " + b),
    st.binary(max_size=12).map(lambda b: b"data:" + b),
    st.sampled_from([b"event: x", b": comment", b"id: 7", b"data:  two spaces", b"data: "]),
    st.binary(max_size=8),
)


@given(st.lists(_LINE, min_size=1, max_size=3), st.sampled_from([b"\n", b"\r\n", b"\r"]))
def test_the_one_line_shortcut_reads_every_event_as_the_general_reading_does(
    lines: list[bytes], newline: bytes
) -> None:
    event = newline.join(lines) + newline + newline
    assert event_data(event) == _joined_data_lines(event)


def test_the_common_event_is_its_data_line() -> None:
    assert event_data(b'data: {"choices":[]}\n\n') == b'{"choices":[]}'
    assert event_data(b"data:  padded\n\n") == b"padded"  # every leading space goes, as before
