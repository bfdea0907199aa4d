"""A small model-API server speaking the real OpenAI and Anthropic wire formats.

It answers every model with a fixed reply, counts tokens as words, and streams
SSE exactly as the providers do (OpenAI chunks with the optional usage chunk,
Responses API events, Anthropic ``message_start`` ... ``message_stop``). The
``gateway demo`` command puts it behind the gateway; the tests and the benchmark
use it as their upstream. Request headers steer it for tests:

- ``x-demo-delay``: seconds to wait before answering;
- ``x-demo-chunk-delay``: seconds between streamed chunks;
- ``x-demo-chunks``: how many content chunks to stream (default: one per reply word).

It keeps the last requests it saw (``GET /_demo/requests``) and counts streams
whose client went away (``GET /_demo/stats``), so tests can check what crossed.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import time
import uuid
from typing import Any

import msgspec

REPLY = "This is a demo reply from the compute KYC gateway's test upstream."
_decode = msgspec.json.decode
_encode = msgspec.json.encode


def count_tokens(value: Any) -> int:
    """Words in every string of a JSON value: a deterministic stand-in for a tokenizer."""
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, list):
        return sum(count_tokens(v) for v in value)
    if isinstance(value, dict):
        return sum(count_tokens(v) for k, v in value.items() if k not in ("role", "type", "model"))
    return 0


class DemoUpstream:
    def __init__(self, api_key: str | None = None, keep: int = 200) -> None:
        self.api_key = api_key
        self.requests: collections.deque[dict[str, Any]] = collections.deque(maxlen=keep)
        self.stats = {"requests": 0, "streams_completed": 0, "streams_abandoned": 0, "connections": 0}
        self._peers: set[tuple[str, int]] = set()  # each client address seen: one per connection

    # -- ASGI ----------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        path = scope["path"]
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if scope["method"] == "GET" and path.startswith("/_demo/"):
            body = _encode(list(self.requests) if path == "/_demo/requests" else self.stats)
            return await _send_json(send, 200, body)
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        raw = b"".join(chunks)
        self.stats["requests"] += 1
        peer = scope.get("client")
        if peer is not None and tuple(peer) not in self._peers:
            self._peers.add(tuple(peer))
            self.stats["connections"] = len(self._peers)
        self.requests.append(
            {
                "path": path,
                "query": scope.get("query_string", b"").decode(),
                "headers": headers,
                "body": raw.decode("utf-8", "replace"),
            }
        )
        anthropic = path.startswith("/v1/messages")
        if self.api_key is not None:
            presented = (
                headers.get("x-api-key")
                if anthropic
                else headers.get("authorization", "").removeprefix("Bearer ")
            )
            if presented != self.api_key:
                return await _send_json(
                    send, 401, _error(anthropic, "authentication_error", "invalid x-api-key")
                )
        try:
            req = _decode(raw) if raw else {}
        except msgspec.DecodeError:
            return await _send_json(send, 400, _error(anthropic, "invalid_request_error", "invalid JSON"))
        if delay := float(headers.get("x-demo-delay", 0)):
            await asyncio.sleep(delay)
        handler = _ROUTES.get(path)
        if handler is None:
            return await _send_json(send, 404, _error(anthropic, "not_found_error", f"no route {path}"))
        await handler(self, req, headers, receive, send)

    # -- OpenAI ----------------------------------------------------------------

    async def chat(self, req: dict[str, Any], headers: dict[str, str], receive: Any, send: Any) -> None:
        await self._openai_text(req, headers, receive, send, chat=True)

    async def completions(
        self, req: dict[str, Any], headers: dict[str, str], receive: Any, send: Any
    ) -> None:
        await self._openai_text(req, headers, receive, send, chat=False)

    async def _openai_text(
        self, req: dict[str, Any], headers: dict[str, str], receive: Any, send: Any, chat: bool
    ) -> None:
        model = req.get("model", "")
        prompt = count_tokens(req.get("messages") if chat else req.get("prompt"))
        words = _reply_words(req.get("max_tokens") or req.get("max_completion_tokens"))
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": len(words),
            "total_tokens": prompt + len(words),
        }
        rid = ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex[:24]
        obj = "chat.completion" if chat else "text_completion"
        created = int(time.time())
        if not req.get("stream"):
            text = " ".join(words)
            choice = (
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
                if chat
                else {"index": 0, "text": text, "logprobs": None, "finish_reason": "stop"}
            )
            body = {
                "id": rid,
                "object": obj,
                "created": created,
                "model": model,
                "choices": [choice],
                "usage": usage,
            }
            return await _send_json(send, 200, _encode(body))
        include_usage = bool((req.get("stream_options") or {}).get("include_usage"))
        obj += ".chunk" if chat else ""

        def chunk(delta: dict[str, Any] | str, finish: str | None = None) -> bytes:
            choice = (
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                if chat
                else {"index": 0, "text": delta, "logprobs": None, "finish_reason": finish}
            )
            doc: dict[str, Any] = {
                "id": rid,
                "object": obj,
                "created": created,
                "model": model,
                "choices": [choice],
            }
            if include_usage:
                doc["usage"] = None
            return b"data: " + _encode(doc) + b"\n\n"

        events = [chunk({"role": "assistant", "content": ""} if chat else "")]
        events += [chunk({"content": piece} if chat else piece) for piece in _pieces(words, headers)]
        events.append(chunk({} if chat else "", "stop"))
        if include_usage:
            doc = {
                "id": rid,
                "object": obj,
                "created": created,
                "model": model,
                "choices": [],
                "usage": usage,
            }
            events.append(b"data: " + _encode(doc) + b"\n\n")
        events.append(b"data: [DONE]\n\n")
        await self._stream(events, headers, receive, send)

    async def embeddings(self, req: dict[str, Any], headers: dict[str, str], receive: Any, send: Any) -> None:
        inputs = req.get("input")
        items = inputs if isinstance(inputs, list) and inputs and not isinstance(inputs[0], int) else [inputs]
        prompt = count_tokens(items)
        data = [{"object": "embedding", "index": i, "embedding": [0.0, 0.5, 1.0]} for i in range(len(items))]
        body = {
            "object": "list",
            "data": data,
            "model": req.get("model"),
            "usage": {"prompt_tokens": prompt, "total_tokens": prompt},
        }
        await _send_json(send, 200, _encode(body))

    async def responses(self, req: dict[str, Any], headers: dict[str, str], receive: Any, send: Any) -> None:
        prompt = count_tokens(req.get("input")) + count_tokens(req.get("instructions"))
        words = _reply_words(req.get("max_output_tokens"))
        usage = {
            "input_tokens": prompt,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": len(words),
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": prompt + len(words),
        }
        rid, mid = "resp_" + uuid.uuid4().hex, "msg_" + uuid.uuid4().hex
        text = " ".join(words)
        message = {
            "type": "message",
            "id": mid,
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": []}],
        }
        base: dict[str, Any] = {
            "id": rid,
            "object": "response",
            "created_at": int(time.time()),
            "model": req.get("model"),
            "output": [],
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "status": "in_progress",
            "usage": None,
        }
        done = {**base, "status": "completed", "output": [message], "usage": usage}
        if not req.get("stream"):
            return await _send_json(send, 200, _encode(done))

        def event(kind: str, doc: dict[str, Any]) -> bytes:
            return b"event: " + kind.encode() + b"\ndata: " + _encode({"type": kind, **doc}) + b"\n\n"

        seq = iter(range(10_000))
        events = [event("response.created", {"sequence_number": next(seq), "response": base})]
        events += [
            event(
                "response.output_text.delta",
                {
                    "sequence_number": next(seq),
                    "item_id": mid,
                    "output_index": 0,
                    "content_index": 0,
                    "delta": piece,
                    "logprobs": [],
                },
            )
            for piece in _pieces(words, headers)
        ]
        events.append(event("response.completed", {"sequence_number": next(seq), "response": done}))
        await self._stream(events, headers, receive, send)

    # -- Anthropic ----------------------------------------------------------------

    async def messages(self, req: dict[str, Any], headers: dict[str, str], receive: Any, send: Any) -> None:
        prompt = count_tokens(req.get("messages")) + count_tokens(req.get("system"))
        words = _reply_words(req.get("max_tokens"))
        mid = "msg_" + uuid.uuid4().hex[:24]
        text = " ".join(words)
        if not req.get("stream"):
            body = {
                "id": mid, "type": "message", "role": "assistant", "model": req.get("model"),
                "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
                "usage": {"input_tokens": prompt, "output_tokens": len(words)},
            }  # fmt: skip
            return await _send_json(send, 200, _encode(body))

        def event(kind: str, doc: dict[str, Any]) -> bytes:
            return b"event: " + kind.encode() + b"\ndata: " + _encode({"type": kind, **doc}) + b"\n\n"

        start: dict[str, Any] = {
            "id": mid,
            "type": "message",
            "role": "assistant",
            "model": req.get("model"),
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": prompt, "output_tokens": 1},
        }
        events = [
            event("message_start", {"message": start}),
            event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
            event("ping", {}),
        ]
        events += [
            event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": p}})
            for p in _pieces(words, headers)
        ]
        events += [
            event("content_block_stop", {"index": 0}),
            event(
                "message_delta",
                {
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": len(words)},
                },
            ),
            event("message_stop", {}),
        ]
        await self._stream(events, headers, receive, send)

    async def count_tokens_route(
        self, req: dict[str, Any], headers: dict[str, str], receive: Any, send: Any
    ) -> None:
        prompt = count_tokens(req.get("messages")) + count_tokens(req.get("system"))
        await _send_json(send, 200, _encode({"input_tokens": prompt}))

    # -- streaming ----------------------------------------------------------------

    async def _stream(self, events: list[bytes], headers: dict[str, str], receive: Any, send: Any) -> None:
        gap = float(headers.get("x-demo-chunk-delay", 0))
        gone = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.ensure_future(watch())
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"text/event-stream; charset=utf-8"),
                        (b"cache-control", b"no-cache"),
                        (b"x-request-id", b"upstream-" + uuid.uuid4().hex.encode()),
                    ],
                }
            )
            for event in events:
                if gap:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(gone.wait(), timeout=gap)
                if gone.is_set():
                    self.stats["streams_abandoned"] += 1
                    return
                await send({"type": "http.response.body", "body": event, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            self.stats["streams_completed"] += 1
        finally:
            watcher.cancel()


_ROUTES = {
    "/v1/chat/completions": DemoUpstream.chat,
    "/v1/completions": DemoUpstream.completions,
    "/v1/embeddings": DemoUpstream.embeddings,
    "/v1/responses": DemoUpstream.responses,
    "/v1/messages": DemoUpstream.messages,
    "/v1/messages/count_tokens": DemoUpstream.count_tokens_route,
}


def _reply_words(limit: Any) -> list[str]:
    words = REPLY.split()
    return words[: int(limit)] if isinstance(limit, int) and limit > 0 else words


def _pieces(words: list[str], headers: dict[str, str]) -> list[str]:
    pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
    n = int(headers.get("x-demo-chunks", 0))
    return (pieces * (n // len(pieces) + 1))[:n] if n > 0 else pieces


def _error(anthropic: bool, kind: str, message: str) -> bytes:
    if anthropic:
        return _encode({"type": "error", "error": {"type": kind, "message": message}})
    return _encode({"error": {"message": message, "type": kind, "param": None, "code": None}})


async def _send_json(send: Any, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", b"upstream-" + uuid.uuid4().hex.encode()),
                (b"set-cookie", b"upstream_session=secret; Path=/"),
                (b"openai-organization", b"upstream-org"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="gateway-demo-upstream", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    # The key is named, not given: a command line is readable by every user of the machine (ps).
    parser.add_argument(
        "--api-key-env", metavar="NAME", default=None, help="require the key in this environment variable"
    )
    parser.add_argument("--server", choices=["granian", "uvicorn"], default="uvicorn")
    args = parser.parse_args(argv)
    api_key = None
    if args.api_key_env is not None:
        api_key = os.environ.get(args.api_key_env)
        if not api_key:
            parser.error(f"--api-key-env: ${args.api_key_env} is not set")
    app = DemoUpstream(api_key=api_key)
    if args.server == "granian":
        from granian.constants import Interfaces
        from granian.server.embed import Server

        server = Server(app, address=args.host, port=args.port, interface=Interfaces.ASGI, log_enabled=False)
        asyncio.run(server.serve())
    else:
        import uvicorn

        uvicorn.run(app, host=args.host, port=args.port, log_level="warning", lifespan="off")


if __name__ == "__main__":
    main()
