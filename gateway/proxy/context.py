"""What one request carries from stage to stage."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..identity import Principal
    from ..kyc.standing import Standing
    from ..policy.model import ModelPrice
    from ..quota.admission import Admission
    from .adapters import RequestHead
    from .routes import Route
    from .upstreams import Upstream


class RequestContext:
    """Mutable per-request state. Stages fill it in; settlement reads it, whatever happened."""

    __slots__ = (
        "admission",
        "body",
        "bytes_in",
        "bytes_out",
        "client_ip",
        "completion_tokens",
        "disconnected",
        "error_code",
        "head",
        "headers",
        "model",
        "occurred_at",
        "origin_country",
        "policy_hash",
        "price",
        "principal",
        "prompt_tokens",
        "query",
        "raw_headers",
        "receive",
        "request_id",
        "request_uuid",
        "response_started",
        "route",
        "settled",
        "standing",
        "started",
        "status",
        "stream",
        "upstream",
        "upstream_status",
        "usage_complete",
        "wants_usage_chunk",
    )

    def __init__(self, scope: dict[str, Any], receive: Any) -> None:
        self.started = time.perf_counter()
        self.occurred_at = time.time()
        self.request_uuid = uuid.uuid4()
        self.request_id = str(self.request_uuid)
        self.receive = receive
        self.raw_headers: list[tuple[bytes, bytes]] = scope["headers"]
        self.headers: dict[bytes, bytes] = dict(self.raw_headers)
        self.query: bytes = scope.get("query_string", b"")
        client = scope.get("client")
        self.client_ip: str | None = client[0] if client else None
        self.origin_country: str | None = None
        self.policy_hash: str | None = None
        self.route: Route | None = None
        self.principal: Principal | None = None
        self.standing: Standing | None = None
        """The customer's standing as ``KnowCustomer`` checked it (quota holds the caller to it)."""
        self.body = b""
        self.head: RequestHead | None = None
        self.model: str | None = None
        self.stream = False
        self.wants_usage_chunk = True
        self.upstream: Upstream | None = None
        self.upstream_status: int | None = None
        """The upstream's answer, once it gave one (None: never reached, or it failed)."""
        self.admission: Admission | None = None
        """The quota reservation, settled with the actual usage whatever happens."""
        self.price: ModelPrice | None = None
        """The model's price in the policy's price table, if it has one (for the spend dimension)."""
        self.status = 0
        self.error_code: str | None = None
        self.prompt_tokens: int | None = None
        self.completion_tokens: int | None = None
        self.usage_complete = False
        self.bytes_in = 0
        self.bytes_out = 0
        self.response_started = False
        self.settled = False
        self.disconnected = False

    def header(self, name: bytes) -> str | None:
        value = self.headers.get(name)
        return value.decode("latin-1") if value is not None else None
