"""uvicorn's HTTP/1.1 protocol, answering unparseable requests in the gateway's error shape.

When httptools cannot parse a request (a bad request line, an invalid ``content-length``, a
broken chunked encoding, even mid-body), uvicorn answers by itself, before or instead of the
app, with ``400 Invalid HTTP request received.`` as text/plain. This subclass writes the same
400 as the gateway's JSON error (``invalid_request``, with a request id) instead. uvicorn loads
it by name (``uvicorn.run(http="gateway.uvicorn_http:GatewayHttpToolsProtocol")``), which also
works in worker processes. granian offers no such hook: see README, Errors.
"""

from __future__ import annotations

import uuid

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .errors import BadRequest, error_body

PROTOCOL = "gateway.uvicorn_http:GatewayHttpToolsProtocol"


def bad_request_response(default_headers: list[tuple[bytes, bytes]]) -> bytes:
    """A complete ``400`` response, ``connection: close``, in the gateway's error shape."""
    request_id = str(uuid.uuid4())
    err = BadRequest(
        "the request is not valid HTTP/1.1 (request line, headers, content-length or chunked encoding)"
    )
    body = error_body(err, request_id)
    lines = [b"HTTP/1.1 400 Bad Request"]
    lines += [name + b": " + value for name, value in default_headers]
    lines += [
        b"content-type: application/json",
        b"content-length: " + str(len(body)).encode(),
        b"x-request-id: " + request_id.encode(),
        b"connection: close",
    ]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class GatewayHttpToolsProtocol(HttpToolsProtocol):
    def send_400_response(self, msg: str) -> None:
        self.transport.write(bad_request_response(self.server_state.default_headers))
        self.transport.close()
