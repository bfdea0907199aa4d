"""Which headers cross the gateway: the generic rules and every provider's own names."""

from gateway.proxy.adapters import AnthropicAdapter, OpenAIAdapter
from gateway.proxy.headers import inbound_response_headers, outbound_request_headers


def test_caller_credentials_and_hop_by_hop_never_go_upstream() -> None:
    raw = [
        (b"host", b"gw"), (b"authorization", b"Bearer gk_x"), (b"x-api-key", b"gk_x"), (b"cookie", b"s=1"),
        (b"connection", b"keep-alive, x-hop"), (b"x-hop", b"1"), (b"transfer-encoding", b"chunked"),
        (b"content-length", b"5"), (b"content-type", b"application/json"), (b"anthropic-version", b"2023-06-01"),
        (b"openai-organization", b"org-caller"), (b"x-forwarded-for", b"1.2.3.4"), (b"user-agent", b"OpenAI/Python"),
    ]  # fmt: skip
    out = dict(outbound_request_headers(raw, b"keep-alive, x-hop"))
    assert out == {
        b"content-type": b"application/json",
        b"anthropic-version": b"2023-06-01",
        b"user-agent": b"OpenAI/Python",
    }


def test_upstream_session_account_and_limits_never_reach_caller() -> None:
    items = [
        (b"content-type", b"application/json"), (b"set-cookie", b"__cf=1"), (b"openai-organization", b"org-up"),
        (b"x-ratelimit-remaining-requests", b"10"), (b"anthropic-ratelimit-tokens-limit", b"1"),
        (b"x-request-id", b"req_up"), (b"connection", b"close"), (b"content-length", b"3"), (b"openai-processing-ms", b"12"),
    ]  # fmt: skip
    out, upstream_id, content_type = inbound_response_headers(items)
    assert dict(out) == {b"content-type": b"application/json", b"openai-processing-ms": b"12"}
    assert upstream_id == "req_up"
    assert content_type == b"application/json"


# Today's lists, written out: the union of the adapters' declarations must give exactly these.
DROPPED_REQUEST = [
    "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te",
    "trailer", "transfer-encoding", "upgrade", "host", "content-length", "authorization", "x-api-key",
    "cookie", "accept-encoding", "forwarded", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto",
    "x-real-ip", "openai-organization", "openai-project", "x-request-id",
]  # fmt: skip
DROPPED_RESPONSE = [
    "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te",
    "trailer", "transfer-encoding", "upgrade", "content-length", "set-cookie", "openai-organization",
    "openai-project", "anthropic-organization-id", "server", "date", "x-request-id", "request-id",
    "x-ratelimit-limit-tokens", "anthropic-ratelimit-requests-remaining",
]  # fmt: skip
PASSED = ["content-type", "anthropic-version", "anthropic-beta", "openai-beta", "user-agent", "retry-after"]


def test_exactly_todays_request_headers_are_dropped() -> None:
    raw = [(n.encode(), b"v") for n in [*DROPPED_REQUEST, *PASSED]]
    assert [k.decode() for k, _ in outbound_request_headers(raw, None)] == PASSED
    # anthropic-organization-id is only ever an answer's: a caller's passes, as it always did.
    assert outbound_request_headers([(b"anthropic-organization-id", b"o")], None) == [
        (b"anthropic-organization-id", b"o")
    ]


def test_exactly_todays_response_headers_are_dropped() -> None:
    out, _, _ = inbound_response_headers([(n.encode(), b"v") for n in [*DROPPED_RESPONSE, *PASSED]])
    assert [k.decode() for k, _ in out] == PASSED


def test_each_provider_declares_its_own_names() -> None:
    openai, anthropic = OpenAIAdapter.provider_headers, AnthropicAdapter.provider_headers
    assert openai.caller_account == {b"openai-organization", b"openai-project"}
    assert openai.upstream_account == {"openai-organization", "openai-project"}
    assert anthropic.upstream_account == {"anthropic-organization-id"}
    assert anthropic.rate_limit_prefixes == ("anthropic-ratelimit-",)
    assert anthropic.request_id == {"request-id"}


def test_anthropics_request_id_is_the_upstream_id_and_the_last_id_header_wins() -> None:
    _, upstream_id, _ = inbound_response_headers([(b"request-id", b"req_a")])
    assert upstream_id == "req_a"
    _, upstream_id, _ = inbound_response_headers([(b"request-id", b"req_a"), (b"x-request-id", b"req_b")])
    assert upstream_id == "req_b"
