"""The configured upstreams: their request targets and credentials as the wire will carry them."""

import pytest

from gateway.proxy.upstreams import Upstream
from gateway.settings import UpstreamSettings


def settings(kind: str, base_url: str) -> UpstreamSettings:
    return UpstreamSettings(
        name="up", kind=kind, base_url=base_url, models=["m"], region="US", api_key_env="UP_KEY"
    )  # type: ignore[arg-type]


def test_the_target_is_the_upstream_path_and_query_of_each_kind() -> None:
    openai = Upstream(settings("openai", "https://api.example.com/v1/"), {"UP_KEY": "sk"})
    assert openai.target("/v1/chat/completions", b"") == b"/v1/chat/completions"
    assert openai.target("/v1/responses", b"a=1") == b"/v1/responses?a=1"
    assert openai.auth_headers == [(b"authorization", b"Bearer sk")]
    prefixed = Upstream(settings("openai", "http://10.0.0.5:8000/tenant/v1"), {})
    assert prefixed.target("/v1/chat/completions", b"") == b"/tenant/v1/chat/completions"
    assert prefixed.pool.host_header == b"10.0.0.5:8000"
    anthropic = Upstream(settings("anthropic", "https://api.anthropic.example"), {"UP_KEY": "k"})
    assert anthropic.target("/v1/messages", b"") == b"/v1/messages"
    assert anthropic.auth_headers == [(b"x-api-key", b"k")]


@pytest.mark.parametrize("bad", ["sk\r\nx-injected: 1", "sk\nx", "sk\0"])
def test_a_key_with_a_line_break_is_refused_at_start(bad: str) -> None:
    with pytest.raises(ValueError, match="holds a line break"):
        Upstream(settings("openai", "https://api.example.com/v1"), {"UP_KEY": bad})
