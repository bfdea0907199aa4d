"""What reading usage costs the proxy per request: µs per stream and per plain body.

    python tests/bench/bench_usage.py [--chunks 100] [--number 2000] [--repeat 7]

Every forwarded request builds its adapter's usage reader and feeds it: a plain response once,
a stream every event. This times exactly that, in process, on what the demo upstream sends
(the same wire formats as the providers):

- an OpenAI chat stream of ``--chunks`` content chunks with ``stream_options.include_usage``
  (every chunk carries ``"usage":null``; the last one the usage);
- an Anthropic messages stream of ``--chunks`` content deltas;
- an OpenAI Responses stream, and a plain chat completion body.

The SSE payloads are split beforehand, so the figures are the reader's own cost: build it, feed
every payload as the handler does, take its :class:`TokenUsage`. Each figure is the best of
``--repeat`` runs of ``--number`` streams (the machine is shared; the best run is the least
disturbed). No network. See tests/bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def capture(path: str, request: dict[str, Any], chunks: int) -> bytes:
    """The demo upstream's whole response body for one request, driven in process."""
    from gateway.demo.upstream import DemoUpstream

    body = msgspec.json.encode(request)
    headers = [(b"content-type", b"application/json"), (b"x-demo-chunks", str(chunks).encode())]
    scope = {"type": "http", "method": "POST", "path": path, "headers": headers, "query_string": b""}
    out: list[bytes] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client never leaves
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            out.append(message["body"])

    asyncio.run(DemoUpstream()(scope, receive, send))
    return b"".join(out)


def stream_payloads(path: str, request: dict[str, Any], chunks: int) -> list[bytes]:
    """The ``data:`` payloads of a streamed response, as the handler hands them to the reader."""
    from gateway.proxy.sse import EventSplitter, event_data

    splitter = EventSplitter()
    events = splitter.feed(capture(path, request, chunks))
    assert not splitter.rest()
    return [event_data(e) for e in events]


def workloads(chunks: int) -> dict[str, tuple[str, bool, list[bytes]]]:
    """Name → (adapter kind, streamed, payloads)."""
    chat = {"model": "m", "messages": [{"role": "user", "content": "Hello there"}]}
    streamed = {**chat, "stream": True, "stream_options": {"include_usage": True}}
    messages = {**chat, "max_tokens": 1000, "stream": True}
    responses = {"model": "m", "input": "Hello there", "stream": True}
    return {
        "openai chat stream": ("openai", True, stream_payloads("/v1/chat/completions", streamed, chunks)),
        "anthropic messages stream": ("anthropic", True, stream_payloads("/v1/messages", messages, chunks)),
        "openai responses stream": ("openai", True, stream_payloads("/v1/responses", responses, chunks)),
        "openai chat plain body": ("openai", False, [capture("/v1/chat/completions", chat, chunks)]),
    }


def best_us(run: Callable[[], object], number: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            run()
        best = min(best, time.perf_counter() - start)
    return best / number * 1e6


def reader_runner(kind: str, streamed: bool, payloads: list[bytes]) -> Callable[[], object]:
    """One request's usage reading, as gateway/proxy/handler.py does it."""
    from gateway.proxy.adapters import ADAPTERS

    adapter = ADAPTERS[kind]
    if not streamed:
        (body,) = payloads

        def plain() -> object:
            reader = adapter.usage_reader()
            reader.feed_json(body)
            return reader.usage()

        return plain

    def stream() -> object:
        reader = adapter.usage_reader()
        feed = reader.feed_event
        for data in payloads:
            feed(data)
        return reader.usage()

    return stream


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100)
    parser.add_argument("--number", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    for name, (kind, streamed, payloads) in workloads(args.chunks).items():
        run = reader_runner(kind, streamed, payloads)
        print(
            f"{name:28} {len(payloads):4} payloads  {best_us(run, args.number, args.repeat):8.2f} µs  {run()}"
        )


if __name__ == "__main__":
    main()
