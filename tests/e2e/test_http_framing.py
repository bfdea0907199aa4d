"""What the HTTP server layer refuses, seen from a raw socket: headers too large, bad framing.

granian (hyper), uvicorn and the gateway's own server (both httptools) answer some requests before
the app sees them. Where the
app can answer, the answer has the gateway's error shape; where it cannot (granian's own 400 and
431), the README's Errors section says so, and these tests pin down what the client gets.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import h11
import httpx
import pytest

from tests.e2e.conftest import ADMIN_TOKEN, GatewayProcess, new_key


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def error(self) -> dict[str, str]:
        """The gateway's error shape, with the request id of the ``x-request-id`` header."""
        assert self.headers["content-type"] == "application/json", self
        error = json.loads(self.body)["error"]
        assert set(error) == {"type", "code", "message", "request_id"}
        assert error["message"] and error["request_id"] == self.headers["x-request-id"]
        return error


def exchange(port: int, *parts: bytes) -> Answer:
    """Send ``parts`` as they are, one after another, and read one response."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        try:
            for part in parts:
                sock.sendall(part)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before taking everything: read what it said
        client = h11.Connection(h11.CLIENT)
        client.send(h11.Request(method="GET", target="/", headers=[("host", "x")]))  # h11 bookkeeping
        status, headers, body = 0, {}, b""
        while True:
            event = client.next_event()
            if event is h11.NEED_DATA:
                try:
                    data = sock.recv(65536)
                except ConnectionResetError:
                    data = b""
                client.receive_data(data)
                continue
            if isinstance(event, h11.Response):
                status = event.status_code
                headers = {k.decode(): v.decode() for k, v in event.headers}
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                return Answer(status, headers, body)


def head(path: str, key: str, *lines: str) -> bytes:
    return "".join(
        [f"POST {path} HTTP/1.1\r\n", "host: gateway\r\n", f"authorization: Bearer {key}\r\n"]
        + [line + "\r\n" for line in lines]
        + ["\r\n"]
    ).encode()


CHAT = b'{"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}]}'


@pytest.fixture(scope="module")
def under(gateway_config_file, database_url, tmp_path_factory) -> Iterator[Callable[[str], GatewayProcess]]:
    """The gateway under a server, started on first use and kept for the module."""
    started: dict[str, GatewayProcess] = {}

    def start(server: str) -> GatewayProcess:
        if server not in started:
            state = tmp_path_factory.mktemp(f"gw-{server}") / "state"
            started[server] = GatewayProcess(gateway_config_file, database_url, state, server=server).start()
        return started[server]

    yield start
    for proc in started.values():
        proc.stop()


@pytest.fixture(params=["granian", "uvicorn", "gateway"])
def served(request, under, database_url) -> tuple[GatewayProcess, str]:
    """Each server in turn, with a key it accepts."""
    gw = under(request.param)
    return gw, new_key(database_url, gw, "framing-co").key


def test_headers_over_the_gateways_limit_are_431_in_the_error_shape(served) -> None:
    gw, key = served
    big = exchange(
        gw.port, head("/v1/chat/completions", key, "x-big: " + "a" * 100_000, "content-length: 2"), b"{}"
    )
    assert big.status == 431
    assert big.error()["code"] == "request_headers_too_large"
    control = exchange(gw.port, head("/admin/v1/kyc/queue", key, "x-big: " + "a" * 100_000))
    assert (control.status, control.error()["code"]) == (431, "request_headers_too_large")
    if gw.server != "granian":  # granian refuses over 100 headers itself (below)
        many = exchange(gw.port, head("/v1/models", key, *(f"x-h{i}: v" for i in range(100))))
        assert (many.status, many.error()["code"]) == (431, "request_headers_too_large")
    # Just under the limit, the request is served.
    fits = exchange(
        gw.port,
        head("/v1/chat/completions", key, "x-big: " + "a" * 60_000, f"content-length: {len(CHAT)}"),
        CHAT,
    )
    assert fits.status == 200, fits


def test_granian_answers_huge_headers_itself_with_an_empty_431(under, database_url) -> None:
    # Past granian's own limits (over 100 headers, about 0.5 MB), hyper answers before the app.
    granian = under("granian")
    key = new_key(database_url, granian, "framing-co").key
    many = [f"x-h{i}: v" for i in range(101)] + ["content-length: 0"]
    for request in (
        head("/v1/models", key, *many),
        head("/v1/models", key, "x-big: " + "a" * 1_000_000),
    ):
        answer = exchange(granian.port, request)
        assert (answer.status, answer.body, answer.headers.get("connection")) == (431, b"", "close")


def test_a_body_cut_short_is_400_incomplete_body(served, database_url) -> None:
    gw, key = served
    # A chunked body whose second chunk size is not hex: broken mid-stream, the client still there.
    broken = exchange(
        gw.port, head("/v1/chat/completions", key, "transfer-encoding: chunked"), b'4\r\n{"mo\r\n', b"zz\r\n"
    )
    assert broken.status == 400
    if gw.server == "granian":  # the app sees the body end early and answers
        assert broken.error()["code"] == "incomplete_body"
    else:  # the parser fails first: uvicorn's own 400 (written in shape by the gateway's protocol),
        # or the gateway's server's (the app is told the client left, the client gets the 400)
        assert broken.error()["code"] == "invalid_request"
    # The control plane (Litestar) too.
    control = exchange(
        gw.port, head("/admin/v1/customers", ADMIN_TOKEN, "transfer-encoding: chunked"), b"2\r\n{}\r\nzz\r\n"
    )
    expected = "incomplete_body" if gw.server == "granian" else "invalid_request"
    assert (control.status, control.error()["code"]) == (400, expected)
    # Fewer bytes than content-length, then the client stops sending (half-close).
    with socket.create_connection(("127.0.0.1", gw.port), timeout=30) as sock:
        sock.sendall(head("/v1/chat/completions", key, "content-length: 100") + b'{"model"')
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    if gw.server == "granian":
        assert data.startswith(b"HTTP/1.1 400 ") and b'"code":"incomplete_body"' in data, data
    else:
        assert data == b"", data  # uvicorn and ours close without a word: the client left, they say


def test_invalid_framing_in_the_head(served) -> None:
    gw, key = served
    for framing in (
        "content-length: abc",
        "content-length: 2\r\ncontent-length: 3",
        "transfer-encoding: gzip",
    ):
        answer = exchange(gw.port, head("/v1/chat/completions", key, framing), b"{}")
        assert answer.status == 400
        if gw.server == "granian":  # hyper refuses before the app is called: nothing to shape
            assert (answer.body, answer.headers.get("connection")) == (b"", "close")
        else:
            assert answer.error()["code"] == "invalid_request"


def test_a_finished_stream_keeps_its_upstream_connection(served, upstream) -> None:
    """uvicorn and the gateway's own server answer ``receive()`` with ``http.disconnect`` once the
    answer has ended (as ASGI has it): the gateway must not take that for a client leaving, which
    cancelled the call and threw its kept-alive upstream connection away after every stream."""
    gw, key = served
    body = {"model": "gpt-test", "stream": True, "messages": [{"role": "user", "content": "x"}]}
    with httpx.Client(timeout=30) as client:

        def stream() -> None:
            with client.stream(
                "POST", gw.url + "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"}
            ) as r:
                assert r.status_code == 200
                assert b"".join(r.iter_raw()).rstrip().endswith(b"data: [DONE]")

        stream()  # the pool has a connection to the upstream now
        before = dict(upstream[0].stats)
        for _ in range(5):
            stream()
    after = upstream[0].stats
    assert after["streams_completed"] == before["streams_completed"] + 5
    assert after["connections"] == before["connections"], "a finished stream closed its upstream connection"
