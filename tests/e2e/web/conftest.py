"""A gateway with its web pages on, signing people in at the loopback OIDC issuer, and a browser-like
HTTP client that signs in through the real authorization-code flow (PKCE) and posts forms with the
session's CSRF token. Browser tests (Chromium, Playwright) build on the same gateway."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest

from gateway.demo.upstream import DemoUpstream
from tests.e2e.conftest import GatewayProcess, free_port, gateway_config
from tests.oidc_issuer import TestIssuer

WEB_CLIENT = "gateway-web"
OPERATOR_ROLE = "gateway-operator"
REGULATOR_PREFIX = "gateway-regulator:"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_COOKIE = re.compile(r"^__Host-gateway-session=([^;]*)")


@pytest.fixture(scope="session")
def web_gateway(
    upstream: tuple[DemoUpstream, int],
    oidc_issuer: TestIssuer,
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[GatewayProcess]:
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    oidc_issuer.register_client(WEB_CLIENT, public + "/web/callback")
    folder = tmp_path_factory.mktemp("web")
    config = folder / "gateway.toml"
    base = gateway_config(upstream[1], free_port(), oidc_issuer.issuer)
    web = f"""
web_client_id = "{WEB_CLIENT}"
web_public_url = "{public}"
"""
    # Top-level keys must come before the first [[table]] of the base config.
    head, _, tables = base.partition("\n[[")
    config.write_text(head + web + "\n[[" + tables)
    gw = GatewayProcess(config, database_url, folder / "state", port=port).start()
    yield gw
    gw.stop()


class WebClient:
    """A person's browser, minus the rendering: follows the sign-in redirects by hand, keeps the
    session cookie (``Secure`` cookies are not sent over http by httpx's jar, so it sends it
    itself), and posts forms with the CSRF token of the page it last saw."""

    def __init__(self, gateway: GatewayProcess) -> None:
        self.base = gateway.url
        self.http = httpx.Client(base_url=gateway.url, follow_redirects=False, timeout=30)
        self.session: str | None = None
        self.csrf: str | None = None

    def close(self) -> None:
        self.http.close()

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = dict(extra or {})
        if self.session is not None:
            headers["cookie"] = f"__Host-gateway-session={self.session}"
        return headers

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        response = self.http.get(path, headers=self._headers(kwargs.pop("headers", None)), **kwargs)
        if (found := _CSRF.search(response.text)) is not None:
            self.csrf = found.group(1)
        return response

    def post(
        self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True, **kwargs: Any
    ) -> httpx.Response:
        form = dict(data or {})
        if csrf:
            if self.csrf is None:
                self.get("/web/")
            form.setdefault("csrf", self.csrf)
        headers = self._headers({"origin": self.base, **kwargs.pop("headers", {})})
        response = self.http.post(path, data=form, headers=headers, **kwargs)
        if (found := _CSRF.search(response.text)) is not None:
            self.csrf = found.group(1)
        return response

    def sign_in(
        self, issuer: TestIssuer, username: str, *, next_page: str | None = None, **claims: Any
    ) -> httpx.Response:
        """Through the real flow: the gateway's redirect, the provider's form, the callback."""
        issuer.add_user(username, **claims)
        start = self.http.get("/web/login", params={"next": next_page} if next_page else None)
        assert start.status_code == 303, start.text
        login_page = httpx.get(start.headers["location"], timeout=10)
        assert login_page.status_code == 200, login_page.text
        back = httpx.post(start.headers["location"], data={"username": username}, timeout=10)
        assert back.status_code == 302, back.text
        callback = back.headers["location"]
        assert callback.startswith(self.base + "/web/callback")
        done = self.http.get(callback[len(self.base) :])
        assert done.status_code == 303, done.text
        cookie = next(
            (m.group(1) for v in done.headers.get_list("set-cookie") if (m := _COOKIE.match(v))), None
        )
        assert cookie, done.headers
        self.session = cookie
        self.csrf = None
        return done


@pytest.fixture
def browser_client(web_gateway: GatewayProcess) -> Iterator[WebClient]:
    client = WebClient(web_gateway)
    yield client
    client.close()


def new_subject(prefix: str = "person") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def absolute(base: str, location: str) -> str:
    return urljoin(base + "/", location)


__all__ = ["WebClient", "absolute", "new_subject"]
