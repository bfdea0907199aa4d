"""One error hierarchy, mapped to HTTP in one place (:func:`error_body`).

Every error the gateway answers with has the OpenAI-compatible shape
``{"error": {"type", "code", "message", "request_id"}}``, so the `openai` and
`anthropic` SDKs raise their own typed exceptions for it.
"""

from __future__ import annotations

import msgspec


class GatewayError(Exception):
    """An error with a machine-readable ``code`` and the HTTP ``status`` it maps to."""

    status: int = 500
    type: str = "api_error"
    code: str = "internal_error"
    headers: tuple[tuple[bytes, bytes], ...] = ()
    """Extra response headers (lower-case names, ASGI style), e.g. ``retry-after``."""

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status


class BadRequest(GatewayError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_request"


class Unauthorized(GatewayError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class Forbidden(GatewayError):
    status = 403
    type = "permission_error"
    code = "forbidden"


class NotFound(GatewayError):
    status = 404
    type = "not_found_error"
    code = "not_found"


class MethodNotAllowed(GatewayError):
    status = 405
    type = "invalid_request_error"
    code = "method_not_allowed"


class PayloadTooLarge(GatewayError):
    status = 413
    type = "invalid_request_error"
    code = "request_too_large"


class RequestHeadersTooLarge(GatewayError):
    status = 431
    type = "invalid_request_error"
    code = "request_headers_too_large"


class UnprocessableEntity(GatewayError):
    status = 422
    type = "invalid_request_error"
    code = "unprocessable"


class TooManyRequests(GatewayError):
    """A quota or rate limit refused the request; the headers say which and when to retry."""

    status = 429
    type = "rate_limit_error"
    code = "rate_limited"

    def __init__(self, message: str, *, code: str, headers: list[tuple[bytes, bytes]]) -> None:
        super().__init__(message, code=code)
        self.headers = tuple(headers)


class UpstreamUnavailable(GatewayError):
    status = 502
    type = "api_error"
    code = "upstream_unavailable"


class ServiceUnavailable(GatewayError):
    status = 503
    type = "api_error"
    code = "service_unavailable"


class UpstreamTimeout(GatewayError):
    status = 504
    type = "timeout_error"
    code = "upstream_timeout"


class NotFoundInStore(GatewayError):
    """A lookup by id or name found nothing (CLI and admin API)."""

    status = 404
    type = "not_found_error"
    code = "not_found"


class Conflict(GatewayError):
    status = 409
    type = "invalid_request_error"
    code = "conflict"


class ErrorDetail(msgspec.Struct):
    type: str
    code: str
    message: str
    request_id: str


class ErrorBody(msgspec.Struct):
    """Every error response's body (also the OpenAPI document's ``ErrorBody`` schema)."""

    error: ErrorDetail


_encode = msgspec.json.Encoder().encode


def error_body(err: GatewayError, request_id: str) -> bytes:
    return _encode(ErrorBody(ErrorDetail(err.type, err.code, err.message, request_id)))
