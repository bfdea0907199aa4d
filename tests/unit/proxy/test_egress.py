"""Which egress proxy a call goes through, from the usual environment variables."""

import pytest

from gateway.proxy.egress import EgressProxy, bypassed, proxy_for


def test_each_scheme_takes_its_own_variable_lower_case_first_then_all_proxy() -> None:
    env = {"HTTPS_PROXY": "http://upper:3128", "https_proxy": "http://lower:3128", "HTTP_PROXY": "plain:8080"}
    assert proxy_for("https://api.example.com/v1", env) == EgressProxy("lower", 3128, None)
    assert proxy_for("http://10.0.0.5:9000/v1", env) == EgressProxy("plain", 8080, None)
    assert proxy_for("https://api.example.com", {"ALL_PROXY": "http://all:1"}) == EgressProxy("all", 1, None)
    assert proxy_for("https://api.example.com", {}) is None


def test_credentials_become_basic_proxy_authorization() -> None:
    found = proxy_for("https://api.example.com", {"HTTPS_PROXY": "http://us%40r:p%3Ass@proxy:3128"})
    assert found == EgressProxy("proxy", 3128, b"Basic dXNAcjpwOnNz")  # base64 of "us@r:p:ss"


def test_no_proxy_matches_hosts_their_subdomains_addresses_and_blocks() -> None:
    assert bypassed("api.example.com", "example.com")
    assert bypassed("api.example.com", " .example.com ,other")
    assert bypassed("example.com", "example.com:443")
    assert not bypassed("badexample.com", "example.com")
    assert bypassed("10.1.2.3", "10.0.0.0/8")
    assert bypassed("::1", "::1")
    assert not bypassed("11.1.2.3", "10.0.0.0/8,example.com")
    assert bypassed("anything", "*")
    env = {"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "internal.example"}
    assert proxy_for("https://llm.internal.example/v1", env) is None
    assert proxy_for("https://api.example.com/v1", env) == EgressProxy("proxy", 3128, None)


def test_a_proxy_this_client_cannot_speak_to_is_refused_not_bypassed() -> None:
    with pytest.raises(ValueError, match="only http:// proxies") as refused:
        proxy_for("https://api.example.com", {"HTTPS_PROXY": "https://user:secret@proxy:443"})
    assert "secret" not in str(refused.value)
