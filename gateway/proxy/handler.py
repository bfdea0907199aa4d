"""The data plane's ASGI app: run the stages, forward, settle.

Written as plain ASGI rather than a Litestar route: this is the hot path, and the
benchmark (tests/bench) measures every microsecond spent here.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import Callable, Sequence
from typing import Any

import structlog

from ..errors import (
    GatewayError,
    MethodNotAllowed,
    NotFound,
    UpstreamTimeout,
    UpstreamUnavailable,
    error_body,
)
from ..ledger.events import UsageEvent
from ..ledger.writer import LedgerWriter
from ..metrics import Metrics
from ..quota.model import Usage
from .adapters import TokenUsage, UsageReader, dialect
from .context import RequestContext
from .headers import inbound_response_headers, outbound_request_headers
from .http1 import ConnectFailed, ConnectTimedOut, ReadTimedOut, UpstreamHttpError
from .models import model_list
from .routes import match
from .sse import EventSplitter, event_data
from .stages import ClientDisconnected, Stage
from .upstreams import Upstream, UpstreamRegistry

_log = structlog.get_logger("gateway.proxy")
_JSON = b"application/json"
_POST = b"POST"
_IDENTITY = (b"accept-encoding", b"identity")  # bodies pass through undecoded: usage is read from them
_UTC = dt.UTC
_CLIENT_CLOSED = 499  # nginx's "client closed request"
_NOTHING = Usage()


class ProxyApp:
    def __init__(
        self,
        stages: Sequence[Stage],
        registry: UpstreamRegistry,
        ledger: LedgerWriter,
        metrics: Metrics,
        *,
        access_log: bool = False,
        features: Callable[[UsageEvent, bytes], None] | None = None,
    ) -> None:
        self.stages = tuple(stages)
        self.registry = registry
        self.ledger = ledger
        self.metrics = metrics
        self.access_log = access_log
        self.features = features
        """Where each call with a body goes for feature extraction (``detect.tap.FeatureTap.take``);
        None: no features (``detect_features = false``)."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        ctx = RequestContext(scope, receive)
        try:
            matched = match(scope["path"])
            if matched is None:
                raise NotFound(f"no route {scope['path']!r}", code="route_not_found")
            ctx.route, model_id = matched
            if scope["method"] != ctx.route.method:
                raise MethodNotAllowed(f"{ctx.route.name} accepts {ctx.route.method} only")
            for stage in self.stages:
                await stage(ctx)
            if ctx.upstream is not None:
                await self._forward(ctx, ctx.upstream, send)
            else:
                body = model_list(self.registry, model_id, dialect(ctx.headers))
                await self._respond(ctx, send, 200, body)
        except GatewayError as err:
            ctx.error_code = err.code
            if ctx.upstream is not None and err.status >= 502:
                self.metrics.upstream_errors.labels(ctx.upstream.name, err.code).inc()
            if ctx.response_started:
                ctx.status = err.status  # the ledger records what went wrong mid-stream
            else:
                headers = [(b"content-type", _JSON), *err.headers] if err.headers else None
                await self._respond(ctx, send, err.status, error_body(err, ctx.request_id), headers)
        except ClientDisconnected:
            ctx.status, ctx.error_code = _CLIENT_CLOSED, "client_disconnected"
        except asyncio.CancelledError:
            if not ctx.disconnected:
                ctx.status, ctx.error_code = _CLIENT_CLOSED, "cancelled"
                raise
            # Our own disconnect watcher cancelled us: the stream is over, settle it.
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            ctx.status, ctx.error_code = _CLIENT_CLOSED, "client_disconnected"
        except Exception:
            _log.exception("proxy_internal_error", request_id=ctx.request_id)
            ctx.error_code = "internal_error"
            if ctx.response_started:
                ctx.status = 500
            else:
                internal = GatewayError("internal error")
                await self._respond(ctx, send, 500, error_body(internal, ctx.request_id))
        finally:
            self._settle(ctx)

    # -- forwarding -------------------------------------------------------------

    async def _forward(self, ctx: RequestContext, upstream: Upstream, send: Any) -> None:
        assert ctx.route is not None and ctx.head is not None
        body, ctx.wants_usage_chunk = upstream.adapter.prepare(
            ctx.body, ctx.head, ctx.route.usage_chunk_option
        )
        headers = outbound_request_headers(ctx.raw_headers, ctx.headers.get(b"connection"))
        headers += upstream.auth_headers
        headers.append(_IDENTITY)
        headers.append((b"x-request-id", ctx.request_id.encode()))
        reader = upstream.adapter.usage_reader()
        # A stream's client may leave at any time: watch for it from the start, to stop the upstream.
        watcher = None
        if ctx.stream:
            watcher = asyncio.ensure_future(_watch_disconnect(ctx, asyncio.current_task()))
        try:
            target = upstream.target(ctx.route.name, ctx.query)
            async with await upstream.pool.request(_POST, target, headers, body) as response:
                ctx.upstream_status = response.status
                out, upstream_id, content_type = inbound_response_headers(response.headers)
                if not ctx.stream or b"text/event-stream" not in content_type:
                    data = await response.read()
                    if 200 <= response.status < 300 and content_type.startswith(b"application/json"):
                        reader.feed_json(data)
                    self._take_usage(ctx, reader.usage())
                    await self._respond(ctx, send, response.status, data, out, upstream_id)
                    return
                await self._start(ctx, send, response.status, out, upstream_id)
                try:
                    await self._pump_events(ctx, response, send, reader)
                finally:
                    self._take_usage(ctx, reader.usage())
        except (ConnectTimedOut, ReadTimedOut):
            raise UpstreamTimeout(f"the upstream {upstream.name!r} did not answer in time") from None
        except ConnectFailed:
            raise UpstreamUnavailable(f"the upstream {upstream.name!r} refused the connection") from None
        except UpstreamHttpError as exc:
            raise UpstreamUnavailable(
                f"the upstream {upstream.name!r} failed: {exc}",
                code="upstream_error",
            ) from None
        finally:
            if watcher is not None:
                watcher.cancel()

    async def _pump_events(self, ctx: RequestContext, body: Any, send: Any, reader: UsageReader) -> None:
        """Pass the stream on chunk by chunk, reading usage from events as they complete."""
        splitter = EventSplitter()
        hide_usage_chunk = not ctx.wants_usage_chunk
        feed = reader.feed_event
        while (data := await body.read_chunk()) is not None:
            events = splitter.feed(data)
            if hide_usage_chunk:
                data = b"".join(e for e in events if not feed(event_data(e)))
            else:
                for event in events:
                    feed(event_data(event))
            if data:
                ctx.bytes_out += len(data)
                await send({"type": "http.response.body", "body": data, "more_body": True})
        rest = splitter.rest()
        if hide_usage_chunk and rest:
            feed(event_data(rest))
            ctx.bytes_out += len(rest)
            await send({"type": "http.response.body", "body": rest, "more_body": True})
        self._take_usage(ctx, reader.usage())
        self._settle(ctx)  # recorded (and journaled) before the stream's end leaves: see _settle
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    @staticmethod
    def _take_usage(ctx: RequestContext, usage: TokenUsage) -> None:
        ctx.prompt_tokens = usage.input_tokens
        ctx.completion_tokens = usage.output_tokens
        ctx.usage_complete = usage.complete

    # -- responding -------------------------------------------------------------

    async def _start(
        self,
        ctx: RequestContext,
        send: Any,
        status: int,
        headers: list[tuple[bytes, bytes]],
        upstream_id: str | None = None,
    ) -> None:
        headers.append((b"x-request-id", ctx.request_id.encode()))
        if upstream_id:
            headers.append((b"x-upstream-request-id", upstream_id.encode("latin-1")))
        if ctx.admission is not None:  # the upstream's own x-ratelimit-* were dropped: ours replace them
            headers += ctx.admission.headers()
        ctx.status = status
        ctx.response_started = True
        await send({"type": "http.response.start", "status": status, "headers": headers})

    async def _respond(
        self,
        ctx: RequestContext,
        send: Any,
        status: int,
        body: bytes,
        headers: list[tuple[bytes, bytes]] | None = None,
        upstream_id: str | None = None,
    ) -> None:
        if headers is None:
            headers = [(b"content-type", _JSON)]
        headers.append((b"content-length", str(len(body)).encode()))
        await self._start(ctx, send, status, headers, upstream_id)
        ctx.bytes_out += len(body)
        self._settle(ctx)  # recorded (and journaled) before the last byte leaves: see _settle
        await send({"type": "http.response.body", "body": body, "more_body": False})

    # -- settling -------------------------------------------------------------

    def _settle(self, ctx: RequestContext) -> None:
        """Runs once per request, on success, error and disconnect alike: just before a response's
        last byte is handed to the server (so that a client never holds a whole response whose call
        a killed gateway did not record), or, for a call that ends otherwise, as it ends."""
        if ctx.settled:
            return
        ctx.settled = True
        elapsed = time.perf_counter() - ctx.started
        route = ctx.route.name if ctx.route is not None else "unmatched"
        self.metrics.observe(route, ctx.status, elapsed)
        if ctx.admission is not None:
            ctx.admission.settle(actual_usage(ctx, ctx.admission.estimate))
        principal = ctx.principal
        if principal is not None:
            event = UsageEvent(
                request_id=ctx.request_uuid,
                occurred_at=dt.datetime.fromtimestamp(ctx.occurred_at, _UTC),
                customer_id=principal.customer_id,
                project_id=principal.project_id,
                key_id=principal.key_id,
                upstream=ctx.upstream.name if ctx.upstream is not None else None,
                route=route,
                model=ctx.model,
                stream=ctx.stream,
                status=ctx.status,
                error_code=ctx.error_code,
                prompt_tokens=ctx.prompt_tokens,
                completion_tokens=ctx.completion_tokens,
                usage_complete=ctx.usage_complete,
                duration_ms=elapsed * 1000.0,
                bytes_in=ctx.bytes_in,
                bytes_out=ctx.bytes_out,
                client_ip=ctx.client_ip,
                origin_country=ctx.origin_country,
                policy_hash=ctx.policy_hash,
            )
            self.ledger.record(event)
            # Only calls whose body was read (routes that forward): the body is what features are of.
            if self.features is not None and ctx.body:
                self.features(event, ctx.body)
        elif ctx.error_code is not None:
            # No key, a key that is not one, a path that is no route: no customer to record it under.
            self.metrics.refused_unattributed(ctx.error_code)
        if self.access_log:
            _log.info(
                "request",
                request_id=ctx.request_id,
                route=route,
                status=ctx.status,
                code=ctx.error_code,
                upstream=ctx.upstream.name if ctx.upstream is not None else None,
                model=ctx.model,
                ms=round(elapsed * 1000.0, 3),
            )


def actual_usage(ctx: RequestContext, estimate: Usage) -> Usage:
    """What a request used, for settling its quota reservation, from what the upstream reported.

    Nothing when the upstream never answered, failed (5xx) or refused (429): the caller got no
    service, so the reservation is refunded whole. Otherwise one request and the reported tokens;
    where the upstream reported none (a stream cut short, a body without usage), the prompt is
    taken as the estimate (it was processed) and the output as what the stream delivered (one
    token per delta), or the estimate for a successful plain response that did not say.
    """
    status = ctx.upstream_status
    if status is None or status >= 500 or status == 429:
        return _NOTHING
    ok = status < 300
    prompt = ctx.prompt_tokens
    completion = ctx.completion_tokens
    input_tokens = prompt if prompt is not None else (estimate.input_tokens if ok else 0)
    output_tokens = (
        completion if completion is not None else (estimate.output_tokens if ok and not ctx.stream else 0)
    )
    price = ctx.price
    return Usage(
        requests=1,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        spend=0.0 if price is None else price.cost(input_tokens, output_tokens),
    )


async def _watch_disconnect(ctx: RequestContext, task: asyncio.Task[Any] | None) -> None:
    """Cancel the request's task when the client goes away, so the upstream call stops too."""
    with contextlib.suppress(Exception):
        while True:
            message = await ctx.receive()
            if message["type"] == "http.disconnect":
                if ctx.settled:
                    # The answer's last byte is out: a server that says so with http.disconnect
                    # (uvicorn, the gateway's own, as ASGI has it) is not a client leaving.
                    return
                ctx.disconnected = True
                if task is not None:
                    task.cancel()
                return
