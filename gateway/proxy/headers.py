"""Which headers cross the gateway, in each direction.

The caller's credentials never reach the upstream and the upstream's never reach
the caller; hop-by-hop headers (RFC 9110 §7.6.1) stop here.
"""

from __future__ import annotations

from .adapters import ADAPTERS

HOP_BY_HOP = frozenset(
    {
        b"connection", b"keep-alive", b"proxy-connection", b"proxy-authenticate",
        b"proxy-authorization", b"te", b"trailer", b"transfer-encoding", b"upgrade",
    }
)  # fmt: skip

# Each provider's own names come from its adapter. Every provider's are dropped whatever the
# upstream's kind (an account header is never ours to pass on), so the sets below are the union
# of all adapters' lists, computed once here.
_PROVIDERS = [adapter.provider_headers for adapter in ADAPTERS.values()]

# Request headers the upstream must not see: ours to consume, the caller's
# credentials and accounts, or facts about the caller the upstream need not know.
_DROP_REQUEST = HOP_BY_HOP.union(
    {
        b"host", b"content-length", b"authorization", b"x-api-key", b"cookie", b"accept-encoding",
        b"forwarded", b"x-forwarded-for", b"x-forwarded-host", b"x-forwarded-proto", b"x-real-ip",
        b"x-request-id",
    },
    *(p.caller_account for p in _PROVIDERS),
)  # fmt: skip

# The upstream's id for the request, passed on as x-upstream-request-id.
_UPSTREAM_ID = frozenset({b"x-request-id"}).union(*({h.encode() for h in p.request_id} for p in _PROVIDERS))

# Response headers the caller must not see: the upstream's session and account,
# its own rate limits (not the caller's), and what the server in front sets itself.
_DROP_RESPONSE_EXACT = HOP_BY_HOP.union(
    {b"content-length", b"set-cookie", b"server", b"date"},
    _UPSTREAM_ID,
    *({h.encode() for h in p.upstream_account} for p in _PROVIDERS),
)
_DROP_RESPONSE_PREFIXES = tuple(
    prefix.encode() for prefix in ("x-ratelimit-", *(x for p in _PROVIDERS for x in p.rate_limit_prefixes))
)


def _connection_listed(value: bytes | None) -> frozenset[bytes]:
    if not value:
        return frozenset()
    return frozenset(v.strip().lower() for v in value.split(b","))


def outbound_request_headers(
    raw: list[tuple[bytes, bytes]], connection: bytes | None
) -> list[tuple[bytes, bytes]]:
    """The caller's headers the upstream may see, as they came (names lower-cased by the server)."""
    if connection:
        extra = _connection_listed(connection)
        return [(k, v) for k, v in raw if k not in _DROP_REQUEST and k not in extra]
    return [(k, v) for k, v in raw if k not in _DROP_REQUEST]


def inbound_response_headers(
    items: list[tuple[bytes, bytes]],
) -> tuple[list[tuple[bytes, bytes]], str | None, bytes]:
    """Filtered response headers (names lower-case), the upstream's request id, and the content type."""
    out: list[tuple[bytes, bytes]] = []
    upstream_id: str | None = None
    content_type = b""
    for name, value in items:
        if name == b"content-type":
            content_type = value
        elif name in _UPSTREAM_ID:
            upstream_id = value.decode("latin-1")
        if name in _DROP_RESPONSE_EXACT or name.startswith(_DROP_RESPONSE_PREFIXES):
            continue
        out.append((name, value))
    return out, upstream_id, content_type
