"""The app factory: one ASGI app, the data plane (``/v1/...``) beside the control plane."""

from __future__ import annotations

import uuid
from typing import Any

from .errors import ServiceUnavailable, error_body
from .logs import configure_logging
from .ops.control import create_control_app
from .runtime import Runtime
from .settings import Settings, load_settings


class GatewayApp:
    """Dispatches by path. The proxy is built when the lifespan starts the runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.control = create_control_app(runtime)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v1/"):
            proxy = self.runtime.proxy
            if proxy is not None:
                return await proxy(scope, receive, send)
            return await _not_ready(send)
        if scope["type"] == "http" and scope["path"].startswith("/clusters/"):
            clusters = self.runtime.cluster_proxy
            if clusters is not None:
                return await clusters(scope, receive, send)
            if self.runtime.proxy is None:
                return await _not_ready(send)
        if scope["type"] != "http":
            return await self.control(scope, receive, send)  # type: ignore[arg-type]  # lifespan
        request_id = str(uuid.uuid4())
        scope["gateway.request_id"] = request_id
        header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        await self.control(scope, receive, send_with_id)  # type: ignore[arg-type]


async def _not_ready(send: Any) -> None:
    request_id = str(uuid.uuid4())
    body = error_body(ServiceUnavailable("the gateway is starting or stopping", code="not_ready"), request_id)
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [(b"content-type", b"application/json"), (b"x-request-id", request_id.encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def create_app(settings: Settings | None = None) -> GatewayApp:
    """Build the gateway from settings (default: from ``$GATEWAY_CONFIG`` and ``GATEWAY_*``)."""
    settings = settings or load_settings()
    configure_logging(settings.log_level)
    return GatewayApp(Runtime(settings))
