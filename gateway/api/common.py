"""What the APIs share: the runtime and its services, strict body decoding, the client's address."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from litestar import Request

from ..bodies import decode_json
from ..errors import BadRequest, PayloadTooLarge
from ..runtime import Runtime, Services

T = TypeVar("T")
AnyRequest = Request[Any, Any, Any]
MAX_BODY = 1 << 20  # KYC bodies are small; a list upload has its own limit


def runtime_of(request: AnyRequest) -> Runtime:
    runtime: Runtime = request.app.state["runtime"]
    return runtime


def services_of(request: AnyRequest) -> Services:
    """The running services (pool, KYC, policy, ...); 503 ``not_ready`` while the gateway starts or stops."""
    return runtime_of(request).running()


async def decode_body(request: AnyRequest, type_: type[T], limit: int = MAX_BODY) -> T:
    """The JSON body as `type_`: 400 ``invalid_body`` naming the field that is wrong, 400
    ``invalid_json`` for a body that is not UTF-8 JSON, 413 ``request_too_large`` past ``limit``."""
    declared = request.route_handler.opt.get("body")
    if getattr(declared, "type_", None) is not type_:
        # The OpenAPI document describes the body from this declaration (gateway/api/openapi.py):
        # a handler decoding anything else would serve a false contract.
        raise TypeError(f"{request.route_handler.handler_name} decodes {type_!r} but declares {declared!r}")
    body = await request.body()
    if len(body) > limit:
        raise PayloadTooLarge(f"the request body exceeds the limit of {limit} bytes")
    return decode_json(body, msgspec.json.Decoder(type_).decode, _invalid_body)


def _invalid_body(exc: msgspec.ValidationError) -> BadRequest:
    return BadRequest(f"invalid body: {exc}", code="invalid_body")


def client_ip(request: AnyRequest) -> str | None:
    # The socket peer; forwarded headers are honoured only with trusted proxies (policy issue).
    return request.client.host if request.client is not None else None


def bearer(request: AnyRequest) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
