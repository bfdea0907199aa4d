"""The bytes of HTTP/1.1 answers the server writes itself: status lines, framing, errors."""

from __future__ import annotations

import http
import uuid

from ..errors import GatewayError, error_body

STATUS_LINES = {
    status.value: f"HTTP/1.1 {status.value} {status.phrase}\r\n".encode() for status in http.HTTPStatus
}
NO_BODY_STATUS = frozenset({204, 304})
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
CLOSE = b"connection: close\r\n"
KEEP_ALIVE = b"connection: keep-alive\r\n"
CHUNKED = b"transfer-encoding: chunked\r\n"
LAST_CHUNK = b"0\r\n\r\n"


def status_line(status: int) -> bytes:
    return STATUS_LINES.get(status) or b"HTTP/1.1 %d Status\r\n" % status


def chunk(body: bytes) -> bytes:
    """One chunk of a chunked body; nothing for no bytes (an empty chunk would end the body)."""
    return b"%x\r\n%b\r\n" % (len(body), body) if body else b""


def error_response(err: GatewayError) -> bytes:
    """A complete answer in the gateway's error shape that closes the connection."""
    request_id = str(uuid.uuid4())
    body = error_body(err, request_id)
    return b"".join(
        (
            status_line(err.status),
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"x-request-id: " + request_id.encode() + b"\r\n",
            CLOSE,
            b"\r\n",
            body,
        )
    )
