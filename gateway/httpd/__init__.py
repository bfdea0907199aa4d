"""The gateway's own HTTP/1.1 server for its ASGI app: uvloop, httptools (llhttp), nothing else.

``server = "gateway"``. It serves what the gateway needs and no more: HTTP/1.1 and 1.0 with
kept-alive connections and pipelining, ASGI 3 ``http`` and ``lifespan`` (no WebSocket, no HTTP/2,
no TLS: put a TLS terminator in front, as with the other two servers). It exists because a request
costs less CPU here than under granian or uvicorn (tests/bench/README.md): it builds the scope in
one step, writes each response's head with its first body bytes in one ``write``, and keeps no
per-request machinery the gateway does not use.

- :mod:`.connection`: one client connection: parsing, limits, timeouts, the ASGI cycle of each
  request, flow control both ways.
- :mod:`.lifespan`: the app's ASGI lifespan.
- :mod:`.supervise`: the listening socket, the worker processes, signals, graceful shutdown.
"""
