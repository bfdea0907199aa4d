"""Which egress proxy, if any, a call to an upstream goes through: the usual environment variables.

``HTTPS_PROXY`` for ``https://`` upstreams, ``HTTP_PROXY`` for ``http://`` ones (lower-case names
too, which win, as curl reads them), ``ALL_PROXY`` for either, and ``NO_PROXY``: a comma-separated
list of hosts that go direct, each matching itself and its subdomains (``example.com`` and
``.example.com`` both match ``api.example.com``), IP addresses and CIDR blocks, or ``*`` for all.
Only ``http://`` proxies are spoken to (the tunnel to an ``https://`` upstream is TLS end to end,
through ``CONNECT``); credentials in the proxy's URL become a ``Proxy-Authorization: Basic`` header.
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True)
class EgressProxy:
    host: str
    port: int
    authorization: bytes | None
    """The ``Proxy-Authorization`` value, from the URL's user and password."""


def _env(environ: Mapping[str, str], name: str) -> str:
    return environ.get(name.lower()) or environ.get(name.upper()) or ""


def bypassed(host: str, no_proxy: str) -> bool:
    """Whether ``NO_PROXY`` sends calls to ``host`` direct."""
    host = host.lower().strip("[]")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        if address is not None:
            try:
                if address in ipaddress.ip_network(entry.strip("[]"), strict=False):
                    return True
            except ValueError:
                pass
            continue
        name = entry.lstrip(".").rsplit(":", 1)[0] if entry.count(":") == 1 else entry.lstrip(".")
        if host == name or host.endswith("." + name):
            return True
    return False


def proxy_for(url: str, environ: Mapping[str, str]) -> EgressProxy | None:
    """The proxy a call to ``url`` goes through, or None (direct). A proxy URL this client cannot
    speak to is refused (``ValueError``): calls must not quietly bypass a proxy that was asked for."""
    parts = urlsplit(url)
    chosen = _env(environ, f"{parts.scheme}_proxy") or _env(environ, "all_proxy")
    if not chosen or bypassed(parts.hostname or "", _env(environ, "no_proxy")):
        return None
    proxy = urlsplit(chosen if "://" in chosen else "http://" + chosen)
    if proxy.scheme != "http" or not proxy.hostname:
        where = f"{proxy.scheme}://{proxy.hostname}"  # never the credentials
        raise ValueError(f"egress proxy {where}: only http:// proxies are supported")
    authorization = None
    if proxy.username is not None:
        pair = f"{unquote(proxy.username)}:{unquote(proxy.password or '')}".encode()
        authorization = b"Basic " + base64.b64encode(pair)
    return EgressProxy(proxy.hostname, proxy.port or 80, authorization)
