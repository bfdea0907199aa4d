"""Errors as the Kubernetes ``Status`` objects kubectl reads, and the cluster's own refusals read back.

The gateway's code is in ``details.causes[0].reason`` and, since kubectl prints the message only, in
the message too, with the request id.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ...errors import GatewayError, UpstreamUnavailable


class ClusterRefusal(GatewayError):
    """The cluster refused a request about the customer's own Job: its status, reason and words."""

    type = "invalid_request_error"

    def __init__(self, message: str, *, status: int, code: str, reason: str | None) -> None:
        super().__init__(message, code=code, status=status)
        self.reason = reason


_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    502: "ServiceUnavailable",
    503: "ServiceUnavailable",
    504: "Timeout",
}


class _Cause(msgspec.Struct):
    reason: str
    message: str


class _Details(msgspec.Struct):
    causes: list[_Cause]


class _Status(msgspec.Struct, rename="camel"):
    kind: str
    api_version: str
    metadata: dict[str, Any]
    status: str
    message: str
    reason: str
    code: int
    details: _Details


_encode = msgspec.json.Encoder().encode


def status_reason(err: GatewayError) -> str:
    """The Kubernetes ``reason`` kubectl prints (``Error from server (NotFound): ...``)."""
    reason = getattr(err, "reason", None)
    if isinstance(reason, str) and reason:
        return reason
    return _REASONS.get(err.status) or ("BadRequest" if err.status < 500 else "InternalError")


def status_body(err: GatewayError, request_id: str) -> bytes:
    """A gateway error as the ``Status`` object an API server answers with, for kubectl."""
    return _encode(
        _Status(
            kind="Status",
            api_version="v1",
            metadata={},
            status="Failure",
            message=f"{err.message} ({err.code}; request id {request_id})",
            reason=status_reason(err),
            code=err.status,
            details=_Details([_Cause(err.code, err.message)]),
        )
    )


class _StatusReply(msgspec.Struct):
    message: str | None = None
    reason: str | None = None


def cluster_failure(status: int, body: bytes, what: str, codes: dict[int, str], default: str) -> GatewayError:
    """The cluster said no. Its client errors about the customer's Job pass on with their status and
    reason (a 409 AlreadyExists stays one); refusing the gateway's own credential, or failing, is a 502.
    """
    try:
        reply = msgspec.json.decode(body, type=_StatusReply)
        message, reason = reply.message, reply.reason
    except (msgspec.DecodeError, msgspec.ValidationError):
        message, reason = None, None
    detail = message or body[:200].decode("utf-8", "replace").strip() or f"HTTP {status}"
    if status in (401, 403, 407) or not 400 <= status < 500:
        return UpstreamUnavailable(
            f"the cluster could not {what} (HTTP {status}): {detail}", code="cluster_error"
        )
    return ClusterRefusal(detail, status=status, code=codes.get(status, default), reason=reason)
