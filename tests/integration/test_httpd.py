"""The gateway's own HTTP server (gateway/httpd) on loopback, spoken to in raw bytes.

Each test serves a small ASGI app written for it with :class:`HttpConnection` on a real uvloop-free
asyncio server (the protocol is the same on both loops), and writes and reads the wire itself, so
the framing, the timing and the connection's fate are what the test checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from gateway.httpd.connection import MAX_URL_BYTES, HttpConnection, ServerState
from gateway.httpd.supervise import listening_socket

App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


@contextlib.asynccontextmanager
async def serving(app: App, **options: float) -> AsyncIterator[tuple[ServerState, int]]:
    loop = asyncio.get_running_loop()
    state = ServerState(app, **options)
    server = await loop.create_server(lambda: HttpConnection(state, loop), "127.0.0.1", 0)
    try:
        yield state, server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for conn in list(state.connections):
            if conn.transport is not None:
                conn.transport.abort()
        await server.wait_closed()


async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[bytes, bytes], bytes]:
    """One response, framed by content-length, chunks, or the connection's end."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    lines = head[:-4].split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    if status in (204, 304):
        body = b""
    elif b"content-length" in headers:
        body = await reader.readexactly(int(headers[b"content-length"]))
    elif headers.get(b"transfer-encoding") == b"chunked":
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n"))[:-2], 16)
            data = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += data[:-2]
    else:
        body = await asyncio.wait_for(reader.read(), 5)
    return status, headers, body


async def closed(reader: asyncio.StreamReader) -> bool:
    """The server closed the connection (EOF), with nothing more sent."""
    return await asyncio.wait_for(reader.read(), 5) == b""


def post(path: str, body: bytes, extra: bytes = b"") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nhost: t\r\ncontent-length: {len(body)}\r\n".encode()
        + extra
        + b"\r\n"
        + body
    )


async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers with what it was asked: method, path, query, body and header names, as JSON."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    answer = {
        "method": scope["method"],
        "path": scope["path"],
        "raw_path": scope["raw_path"].decode(),
        "query": scope["query_string"].decode(),
        "body": body.decode(),
        "headers": [name.decode() for name, _ in scope["headers"]],
        "version": scope["http_version"],
        "client": list(scope["client"]),
    }
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": json.dumps(answer).encode()})


async def test_a_plain_answer_gets_its_length_and_the_connection_is_kept_alive() -> None:
    async with serving(echo) as (state, port):
        reader, writer = await connect(port)
        writer.write(post("/v1/a%20b?x=1", b'{"q": 1}', b"X-Custom: yes\r\n"))
        status, headers, body = await read_response(reader)
        assert status == 200
        assert headers[b"content-length"] == str(len(body)).encode()
        assert b"date" in headers and b"connection" not in headers
        seen = json.loads(body)
        assert seen["path"] == "/v1/a b" and seen["raw_path"] == "/v1/a%20b" and seen["query"] == "x=1"
        assert seen["body"] == '{"q": 1}' and "x-custom" in seen["headers"] and seen["version"] == "1.1"
        assert seen["client"][0] == "127.0.0.1"
        writer.write(post("/second", b"2"))  # the same connection answers again
        status, _, body = await read_response(reader)
        assert status == 200 and json.loads(body)["path"] == "/second"
        assert len(state.connections) == 1
        writer.close()


async def test_pipelined_requests_are_answered_in_order() -> None:
    async with serving(echo) as (_, port):
        reader, writer = await connect(port)
        writer.write(b"".join(post(f"/{i}", str(i).encode()) for i in range(5)))
        paths = [json.loads((await read_response(reader))[2])["path"] for _ in range(5)]
        assert paths == ["/0", "/1", "/2", "/3", "/4"]
        writer.close()


async def test_a_chunked_request_body_is_read_whole() -> None:
    async with serving(echo) as (_, port):
        reader, writer = await connect(port)
        writer.write(b"POST /c HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n")
        await writer.drain()
        writer.write(b"6\r\n world\r\n0\r\n\r\n")
        _, _, body = await read_response(reader)
        assert json.loads(body)["body"] == "hello world"
        writer.close()


async def test_a_large_body_read_slowly_arrives_whole_under_back_pressure() -> None:
    received: list[int] = []

    async def slow(scope: dict[str, Any], receive: Any, send: Any) -> None:
        total = 0
        while True:
            message = await receive()
            total += len(message["body"])
            await asyncio.sleep(0)  # a reader slower than the socket: reading must pause, not buffer
            if not message["more_body"]:
                break
        received.append(total)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    payload = bytes(range(256)) * 16_384  # 4 MiB
    async with serving(slow) as (_, port):
        reader, writer = await connect(port)
        writer.write(post("/big", payload))
        await writer.drain()
        status, headers, body = await read_response(reader)
        assert status == 204 and body == b"" and b"content-length" not in headers
        assert received == [len(payload)]
        writer.close()


async def test_a_streamed_answer_is_chunked_and_its_head_goes_out_before_the_first_bytes() -> None:
    go = asyncio.Event()

    async def stream(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        await go.wait()  # the head must reach the client while the app waits here
        for i in range(3):
            await send({"type": "http.response.body", "body": f"data: {i}\n\n".encode(), "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async with serving(stream) as (_, port):
        reader, writer = await connect(port)
        writer.write(post("/s", b""))
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert b"transfer-encoding: chunked" in head and b"content-length" not in head
        go.set()
        data = await asyncio.wait_for(reader.readuntil(b"0\r\n\r\n"), 5)
        assert (
            data
            == b"".join(b"%x\r\ndata: %d\n\n\r\n" % (len(f"data: {i}\n\n"), i) for i in range(3))
            + b"0\r\n\r\n"
        )
        writer.close()


async def test_http_1_0_gets_an_answer_ended_by_the_close() -> None:
    async def stream(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"one ", "more_body": True})
        await send({"type": "http.response.body", "body": b"two", "more_body": False})

    async with serving(stream) as (_, port):
        reader, writer = await connect(port)
        writer.write(b"GET /old HTTP/1.0\r\n\r\n")
        status, headers, body = await read_response(reader)
        assert status == 200 and body == b"one two"
        assert headers[b"connection"] == b"close" and b"transfer-encoding" not in headers


async def test_head_answers_carry_no_body() -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"5")]})
        await send({"type": "http.response.body", "body": b"hello"})

    async with serving(app) as (_, port):
        reader, writer = await connect(port)
        writer.write(b"HEAD /h HTTP/1.1\r\nhost: t\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert b"content-length: 5" in head
        writer.write(b"HEAD /h HTTP/1.1\r\nhost: t\r\n\r\n")  # no body came between: the next head follows
        assert (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).startswith(b"HTTP/1.1 200 OK")
        writer.close()


async def test_expect_100_continue_is_answered_when_the_app_reads_the_body() -> None:
    async with serving(echo) as (_, port):
        reader, writer = await connect(port)
        writer.write(b"POST /e HTTP/1.1\r\nhost: t\r\ncontent-length: 4\r\nexpect: 100-continue\r\n\r\n")
        assert await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5) == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(b"ping")
        _, _, body = await read_response(reader)
        assert json.loads(body)["body"] == "ping"
        writer.close()


@pytest.mark.parametrize(
    ("wire", "status", "code"),
    [
        (b"NOT HTTP AT ALL\r\n\r\n", 400, "invalid_request"),
        (b"POST / HTTP/1.1\r\ncontent-length: x\r\n\r\n", 400, "invalid_request"),
        (b"GET /" + b"a" * (MAX_URL_BYTES + 1) + b" HTTP/1.1\r\n\r\n", 414, "uri_too_long"),
        (
            b"GET / HTTP/1.1\r\n" + b"".join(b"x-h%d: v\r\n" % i for i in range(300)) + b"\r\n",
            431,
            "request_headers_too_large",
        ),
        (b"GET /\xff HTTP/1.1\r\nhost: t\r\n\r\n", 400, "invalid_request"),
    ],
    ids=["garbage", "bad-length", "long-uri", "many-headers", "non-ascii-path"],
)
async def test_a_request_it_cannot_take_gets_the_gateway_error_shape_and_the_connection_ends(
    wire: bytes, status: int, code: str
) -> None:
    async with serving(echo) as (_, port):
        reader, writer = await connect(port)
        writer.write(wire)
        got, headers, body = await read_response(reader)
        assert got == status
        error = json.loads(body)["error"]
        assert error["code"] == code and error["message"]
        assert headers[b"x-request-id"] and headers[b"connection"] == b"close"
        assert await closed(reader)


async def test_a_request_after_a_good_one_that_breaks_is_refused_after_the_good_answer() -> None:
    async with serving(echo) as (_, port):
        reader, writer = await connect(port)
        writer.write(post("/fine", b"ok") + b"BROKEN\r\n\r\n")
        status, _, body = await read_response(reader)
        assert status == 200 and json.loads(body)["path"] == "/fine"
        status, _, body = await read_response(reader)
        assert status == 400 and json.loads(body)["error"]["code"] == "invalid_request"
        assert await closed(reader)


async def test_a_body_that_breaks_off_is_a_disconnect_to_the_app_and_a_400_to_the_client() -> None:
    seen: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            seen.append(message["type"])
            if message["type"] == "http.disconnect" or not message["more_body"]:
                return

    async with serving(app) as (_, port):
        reader, writer = await connect(port)
        writer.write(b"POST /b HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n")
        await writer.drain()
        writer.write(b"zz\r\n")  # not a chunk size
        status, _, body = await read_response(reader)
        assert status == 400 and json.loads(body)["error"]["code"] == "invalid_request"
        assert seen[-1] == "http.disconnect"


async def test_an_idle_connection_is_closed_after_the_idle_timeout() -> None:
    async with serving(echo, idle_timeout=0.2) as (_, port):
        reader, writer = await connect(port)
        writer.write(post("/x", b"1"))
        await read_response(reader)
        assert await closed(reader)  # kept alive, then idle past the timeout
        reader, writer = await connect(port)
        writer.write(b"GET / HTTP/1.1\r\nhost")  # a head that never completes
        assert await closed(reader)


async def test_a_stalled_body_is_a_disconnect_to_the_app() -> None:
    seen: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            seen.append(message)
            if message["type"] == "http.disconnect" or not message["more_body"]:
                return

    async with serving(app, stall_timeout=0.2) as (_, port):
        reader, writer = await connect(port)
        writer.write(b"POST /b HTTP/1.1\r\nhost: t\r\ncontent-length: 10\r\n\r\nabc")
        assert await closed(reader)
        assert [m["type"] for m in seen] == ["http.request", "http.disconnect"]
        assert seen[0]["body"] == b"abc" and seen[0]["more_body"] is True


async def test_the_app_learns_that_its_client_left_mid_stream() -> None:
    left = asyncio.Event()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        if (await receive())["type"] == "http.disconnect":
            left.set()
        await send({"type": "http.response.body", "body": b"late", "more_body": False})  # dropped, no error

    async with serving(app) as (_, port):
        reader, writer = await connect(port)
        writer.write(post("/s", b""))
        await asyncio.wait_for(reader.readuntil(b"first\r\n"), 5)
        writer.close()
        await asyncio.wait_for(left.wait(), 5)


@pytest.mark.parametrize("fault", ["raises", "returns-without-answer"])
async def test_an_app_that_fails_before_answering_gets_a_500_in_shape(fault: str) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if fault == "raises":
            raise ValueError("boom")

    async with serving(app) as (_, port):
        reader, writer = await connect(port)
        writer.write(post("/f", b""))
        status, headers, body = await read_response(reader)
        assert status == 500 and json.loads(body)["error"]["code"] == "internal_error"
        assert headers[b"x-request-id"] and await closed(reader)


async def test_a_header_value_with_a_line_break_is_never_written() -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"x-a", b"1\r\nset-cookie: evil=1")]}
        )
        await send({"type": "http.response.body", "body": b"x"})

    async with serving(app) as (_, port):
        reader, writer = await connect(port)
        writer.write(post("/h", b""))
        status, _, body = await read_response(reader)
        assert status == 500 and b"evil" not in body


async def test_an_answer_shorter_than_its_length_ends_the_connection() -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"10")]})
        await send({"type": "http.response.body", "body": b"short"})

    async with serving(app) as (_, port):
        reader, writer = await connect(port)
        writer.write(post("/short", b""))
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert b"content-length: 10" in head
        assert await asyncio.wait_for(reader.read(), 5) == b"short"  # then EOF: never kept alive


async def test_shutting_down_closes_idle_connections_and_ends_busy_ones_after_their_answer() -> None:
    release = asyncio.Event()
    started = asyncio.Event()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        started.set()
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})

    async with serving(app) as (state, port):
        idle_reader, _ = await connect(port)
        busy_reader, busy_writer = await connect(port)
        busy_writer.write(post("/slow", b""))
        await asyncio.wait_for(started.wait(), 5)
        state.shut()
        assert await closed(idle_reader)
        release.set()
        status, headers, body = await read_response(busy_reader)
        assert status == 200 and body == b"done" and headers[b"connection"] == b"close"
        assert await closed(busy_reader)
        await asyncio.wait_for(state.all_closed.wait(), 5)


async def test_a_client_that_half_closes_has_left() -> None:
    seen: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append((await receive())["type"])
        seen.append((await receive())["type"])

    async with serving(app) as (_, port):
        reader, writer = await connect(port)
        writer.write(b"POST /b HTTP/1.1\r\nhost: t\r\ncontent-length: 10\r\n\r\nabc")
        writer.write_eof()
        assert await closed(reader)
        assert seen == ["http.request", "http.disconnect"]


async def test_http_1_0_keep_alive_is_granted_only_to_an_answer_of_known_length() -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        sized = scope["path"] == "/sized"
        headers = [(b"content-length", b"2")] if sized else []
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    request = "GET {} HTTP/1.0\r\nconnection: keep-alive\r\n\r\n"  # as ApacheBench -k asks
    async with serving(app) as (_, port):
        reader, writer = await connect(port)
        for _ in range(2):  # the same connection, twice
            writer.write(request.format("/sized").encode())
            status, headers, body = await read_response(reader)
            assert (status, body, headers[b"connection"]) == (200, b"ok", b"keep-alive")
        writer.write(request.format("/unsized").encode())
        status, headers, body = await read_response(reader)  # ended by the connection's close
        assert (status, body, headers[b"connection"]) == (200, b"ok", b"close")


async def test_a_client_that_stops_reading_is_cut_off_and_the_app_told() -> None:
    ended = asyncio.Event()
    seen: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(10_000):  # 640 MiB: far past what the socket buffers hold
            await send({"type": "http.response.body", "body": b"x" * 65_536, "more_body": True})
        seen.append((await receive())["type"])
        ended.set()

    async with serving(app, stall_timeout=0.3) as (_, port):
        _, writer = await connect(port)
        writer.write(post("/big-answer", b""))  # and never read
        await asyncio.wait_for(ended.wait(), 10)
        assert seen == ["http.disconnect"]
        writer.close()


FAILING_APP = """
import sys
from gateway.httpd.supervise import serve

async def app(scope, receive, send):
    await receive()
    await send({"type": "lifespan.startup.failed", "message": "no database"})

sys.exit(serve(lambda: app, host="127.0.0.1", port=0, workers=2))
"""


def test_a_worker_that_fails_to_start_stops_the_server_with_exit_3() -> None:
    done = subprocess.run([sys.executable, "-c", FAILING_APP], capture_output=True, text=True, timeout=60)
    assert done.returncode == 3, done.stderr[-2000:]
    assert "worker_startup_failed" in done.stderr + done.stdout


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_the_listening_socket_takes_the_family_of_its_address(host: str) -> None:
    sock = listening_socket(host, 0)
    try:
        port = sock.getsockname()[1]
        family = socket.AF_INET6 if ":" in host else sock.family
        with socket.create_connection((host, port), timeout=5) as client:
            assert client.family == family
    finally:
        sock.close()
