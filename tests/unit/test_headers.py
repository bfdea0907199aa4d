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
        "content-type": "application/json",
        "anthropic-version": "2023-06-01",
        "user-agent": "OpenAI/Python",
    }


def test_upstream_session_account_and_limits_never_reach_caller() -> None:
    items = [
        ("content-type", "application/json"), ("set-cookie", "__cf=1"), ("openai-organization", "org-up"),
        ("x-ratelimit-remaining-requests", "10"), ("anthropic-ratelimit-tokens-limit", "1"),
        ("x-request-id", "req_up"), ("connection", "close"), ("content-length", "3"), ("openai-processing-ms", "12"),
    ]  # fmt: skip
    out, upstream_id, content_type = inbound_response_headers(items)
    assert dict(out) == {b"content-type": b"application/json", b"openai-processing-ms": b"12"}
    assert upstream_id == "req_up"
    assert content_type == "application/json"
