"""Where a request comes from: the client's address and its country.

``X-Forwarded-For`` is believed only as far as it was written by proxies we trust:
walking it from the right, each hop appended by a trusted proxy is skipped, and the
first address not in a trusted network is the client. A header from anyone else is
ignored (a client can write whatever it likes into it). The country comes from an
offline IP-to-country database (``iptocc``); private, loopback and unassigned
addresses have none, and policy decides what an unknown origin may do.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache

import iptocc

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(cidrs: Sequence[str]) -> tuple[Network, ...]:
    """CIDRs (or single addresses) as networks; ValueError names the bad one."""
    out = []
    for cidr in cidrs:
        try:
            out.append(ipaddress.ip_network(cidr.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{cidr!r} is not an IP network (CIDR)") from None
    return tuple(out)


class OriginResolver:
    def __init__(self, trusted_proxies: Sequence[str] = ()) -> None:
        self.trusted = parse_networks(trusted_proxies)

    def client_ip(self, peer: str | None, forwarded_for: str | None) -> str | None:
        """The client's address: the peer, or, behind trusted proxies, what they say it was."""
        if peer is None or not self.trusted or not self._trusted(peer):
            return peer
        if not forwarded_for:
            return peer
        hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
        for hop in reversed(hops):
            if not self._trusted(hop):
                return hop if _address(hop) is not None else None
        # Every hop is one of ours: the leftmost is as far back as anyone vouches for.
        return hops[0] if hops else peer

    def _trusted(self, ip: str) -> bool:
        address = _address(ip)
        return address is not None and any(address in net for net in self.trusted)


@lru_cache(maxsize=65536)
def _address(ip: str) -> Address | None:
    try:
        return ipaddress.ip_address(ip)
    except ValueError:
        return None


@lru_cache(maxsize=65536)
def country_of(ip: str | None) -> str | None:
    """ISO 3166-1 alpha-2 country of a public address, or None (private, unassigned, malformed)."""
    if ip is None or _address(ip) is None:
        return None
    code: str | None = iptocc.country_code(ip)
    return code
