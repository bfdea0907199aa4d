"""What the APIs share: the runtime, strict body decoding, the client's address."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from litestar import Request

from ..errors import BadRequest, ServiceUnavailable
from ..kyc.service import KycService
from ..runtime import Runtime

T = TypeVar("T")
AnyRequest = Request[Any, Any, Any]
MAX_BODY = 1 << 20  # KYC bodies are small; a list upload has its own limit


def runtime_of(request: AnyRequest) -> Runtime:
    runtime: Runtime = request.app.state["runtime"]
    return runtime


def kyc_of(request: AnyRequest) -> tuple[Runtime, KycService]:
    runtime = runtime_of(request)
    if runtime.kyc is None or runtime.pool is None:
        raise ServiceUnavailable("the gateway is starting or stopping", code="not_ready")
    return runtime, runtime.kyc


async def decode_body(request: AnyRequest, type_: type[T], limit: int = MAX_BODY) -> T:
    """The JSON body as `type_`, or a 400 naming the field that is wrong."""
    body = await request.body()
    if len(body) > limit:
        raise BadRequest(f"the body exceeds {limit} bytes", code="request_too_large", status=413)
    try:
        return msgspec.json.decode(body, type=type_)
    except msgspec.ValidationError as exc:
        raise BadRequest(f"invalid body: {exc}", code="invalid_body") from None
    except msgspec.DecodeError:
        raise BadRequest("the body is not valid JSON", code="invalid_body") from None


def client_ip(request: AnyRequest) -> str | None:
    # The socket peer; forwarded headers are honoured only with trusted proxies (policy issue).
    return request.client.host if request.client is not None else None


def bearer(request: AnyRequest) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
