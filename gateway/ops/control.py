"""The control plane as a Litestar app: health, readiness, metrics, and the admin,
onboarding and webhook APIs. Every error answers in the gateway's one error shape.

Its lifespan starts and stops the runtime's services; handlers reach them through
:func:`gateway.api.common.services_of` (503 ``not_ready`` while there are none)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from litestar import Litestar, Request, Response, get
from litestar.datastructures import State
from litestar.exceptions import HTTPException, InternalServerException

from ..api import admin_routes, detect_routes, onboarding_routes, regulator_routes, webhook_routes
from ..api.common import MAX_BODY
from ..api.openapi import ReadinessBody, openapi_config, ops_api
from ..bodies import IncompleteBody
from ..db.migrate import is_current
from ..errors import GatewayError, error_body
from ..runtime import Runtime
from ..web import close_web, web_routes
from ..web.common import error_page

_log = structlog.get_logger("gateway")
_TYPES = {
    400: "invalid_request_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
}
_CODES = {404: "route_not_found", 405: "method_not_allowed", 413: "request_too_large", 500: "internal_error"}


def _request_id(request: Request[Any, Any, Any]) -> str:
    return str(request.scope.get("gateway.request_id", ""))


def create_control_app(runtime: Runtime) -> Litestar:
    @get("/healthz", sync_to_thread=False, **ops_api())
    def healthz() -> dict[str, str]:
        """Alive: the process answers."""
        return {"status": "ok"}

    @get("/readyz", **ops_api(), responses={503: ReadinessBody})
    async def readyz() -> Response[dict[str, Any]]:
        """Ready: database reachable, migrations current, key cache fresh, usage events recordable."""
        checks: dict[str, str] = {}
        services = runtime.services
        if services is None:
            checks["database"] = "not started"
        else:
            try:
                async with asyncio.timeout(2):
                    async with services.pool.acquire() as conn:
                        checks["database"] = "ok"
                        checks["migrations"] = "ok" if await is_current(conn) else "pending or changed"
            except Exception as exc:
                checks["database"] = f"unreachable: {type(exc).__name__}"
        checks["api_keys"] = "ok" if services is not None and services.keys.fresh else "stale"
        checks["kyc_standing"] = "ok" if services is not None and services.standings.fresh else "stale"
        if services is not None:
            checks["usage_ledger"] = (
                "ok" if services.ledger.accepting else "refusing calls: events cannot be kept"
            )
        ready = all(v == "ok" for v in checks.values()) and "migrations" in checks
        body: dict[str, Any] = {"status": "ready" if ready else "not ready", "checks": checks}
        if services is not None:
            # A broken policy edit does not take the gateway out of service: the last good
            # policy stays in force, and this says so.
            body["policy"] = {"hash": services.policies.policy.hash, "error": services.policies.error}
            # A failing spool disk, while the database takes events, does not stop the gateway
            # (only a kill could lose the last moments' events): this says so.
            body["ledger"] = services.ledger.health()
        return Response(body, status_code=200 if ready else 503)

    @get("/metrics", media_type="text/plain; version=0.0.4; charset=utf-8", sync_to_thread=False, **ops_api())
    def metrics() -> bytes:
        return runtime.metrics.render()

    def on_http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
        if isinstance(exc, InternalServerException) and "disconnected" in str(exc.detail):
            # Litestar's "client disconnected prematurely" while reading the body: the body ended
            # early (granian reports a broken chunked encoding that way, the client still there).
            return on_gateway_error(request, IncompleteBody())
        message = str(exc.detail)
        if exc.status_code == 413:  # Litestar's own body limit (request_max_body_size)
            limit = request.route_handler.resolve_request_max_body_size()
            message = f"the request body exceeds the limit of {limit} bytes"
        err = GatewayError(
            message, code=_CODES.get(exc.status_code, "invalid_request"), status=exc.status_code
        )
        err.type = _TYPES.get(exc.status_code, "api_error")
        if request.url.path.startswith("/web/"):  # a person's browser: the error as a page
            return error_page(request, err)
        return Response(
            error_body(err, _request_id(request)), status_code=exc.status_code, media_type="application/json"
        )

    def on_gateway_error(request: Request[Any, Any, Any], exc: GatewayError) -> Response[bytes]:
        return Response(
            error_body(exc, _request_id(request)), status_code=exc.status, media_type="application/json"
        )

    def on_error(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
        _log.error("unhandled_error", path=request.url.path, error=type(exc).__name__)
        err = GatewayError("internal error")
        return Response(error_body(err, _request_id(request)), status_code=500, media_type="application/json")

    @asynccontextmanager
    async def lifespan(_app: Litestar) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    return Litestar(
        route_handlers=[
            healthz,
            readyz,
            metrics,
            *admin_routes,
            *detect_routes,
            *onboarding_routes,
            *webhook_routes,
            *regulator_routes,
            *web_routes,
        ],
        lifespan=[lifespan],
        on_shutdown=[close_web],
        state=State({"runtime": runtime}),
        exception_handlers={
            HTTPException: on_http_error,
            GatewayError: on_gateway_error,
            Exception: on_error,
        },
        openapi_config=openapi_config(),
        # Bodies are small JSON (a list upload raises its own limit): refuse a larger one before
        # reading it, rather than Litestar's default of 10 MB.
        request_max_body_size=MAX_BODY,
        # Litestar's default would put its own text handler on the root logger, over the JSON
        # one of gateway.logs: every stdlib logger's lines would be text again.
        logging_config=None,
    )
