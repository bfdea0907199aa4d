"""uvicorn's HTTP/1.1 protocol, answering unparseable requests in the gateway's error shape.

When httptools cannot parse a request (a bad request line, an invalid ``content-length``, a
broken chunked encoding, even mid-body), uvicorn answers by itself, before or instead of the
app, with ``400 Invalid HTTP request received.`` as text/plain. This subclass writes the same
400 as the gateway's JSON error (``invalid_request``, with a request id) instead, as the gateway's
own server does (``gateway.httpd``). uvicorn loads it by name
(``uvicorn.run(http="gateway.uvicorn_http:GatewayHttpToolsProtocol")``), which also works in worker
processes. granian offers no such hook: see README, Errors.
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .httpd.connection import INVALID_REQUEST
from .httpd.wire import error_response

PROTOCOL = "gateway.uvicorn_http:GatewayHttpToolsProtocol"


class GatewayHttpToolsProtocol(HttpToolsProtocol):
    def send_400_response(self, msg: str) -> None:
        self.transport.write(error_response(INVALID_REQUEST))
        self.transport.close()
