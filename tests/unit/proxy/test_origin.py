"""The client's address behind trusted proxies, and its country."""

from __future__ import annotations

import pytest

from gateway.proxy.origin import OriginResolver, country_of, parse_networks

TRUSTED = OriginResolver(["127.0.0.1/32", "10.0.0.0/8", "fd00::/8"])


@pytest.mark.parametrize(
    ("peer", "xff", "client"),
    [
        ("127.0.0.1", "77.88.8.8", "77.88.8.8"),  # one trusted proxy
        ("127.0.0.1", "8.8.8.8, 10.1.2.3", "8.8.8.8"),  # two of ours in a row
        ("127.0.0.1", "1.1.1.1, 8.8.8.8, 10.1.2.3", "8.8.8.8"),  # the leftmost is the client's claim: ignored
        ("203.0.113.9", "77.88.8.8", "203.0.113.9"),  # an untrusted peer's header is not believed
        ("127.0.0.1", None, "127.0.0.1"),
        ("127.0.0.1", "not-an-ip", None),  # garbage from behind our proxy: unknown, not trusted
        ("fd00::1", "2a02:6b8::1", "2a02:6b8::1"),
        ("127.0.0.1", "10.0.0.1, 10.0.0.2", "10.0.0.1"),  # only our proxies: as far back as vouched for
    ],
)
def test_forwarded_for_is_believed_only_from_trusted_proxies(peer, xff, client) -> None:
    assert TRUSTED.client_ip(peer, xff) == client


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    assert OriginResolver().client_ip("127.0.0.1", "77.88.8.8") == "127.0.0.1"


def test_countries_from_the_offline_database() -> None:
    assert country_of("8.8.8.8") == "US"
    assert country_of("77.88.8.8") == "RU"
    assert country_of("2a02:6b8::1") == "RU"
    for unknown in ("127.0.0.1", "10.1.2.3", "::1", None, "garbage"):
        assert country_of(unknown) is None


def test_bad_networks_are_named() -> None:
    with pytest.raises(ValueError, match=r"'10\.0\.0\.0/33' is not an IP network"):
        parse_networks(["10.0.0.0/33"])
