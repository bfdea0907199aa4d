"""A gateway with its web pages on, signing people in at the loopback OIDC issuer, and a browser-like
HTTP client that signs in through the real authorization-code flow (PKCE) and posts forms with the
session's CSRF token. Browser tests (Chromium, Playwright) build on the same gateway."""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest
import pytest_asyncio

from gateway.demo.upstream import DemoUpstream
from tests.e2e.conftest import GatewayProcess, free_port, gateway_config, with_settings
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
    config.write_text(with_settings(base, f'web_client_id = "{WEB_CLIENT}"\nweb_public_url = "{public}"'))
    gw = GatewayProcess(config, database_url, folder / "state", port=port).start()
    yield gw
    gw.stop()


class WebClient:
    """A person's browser, minus the rendering: follows the sign-in redirects by hand, keeps the
    session cookie (``Secure`` cookies are not sent over http by httpx's jar, so it sends it
    itself), and posts forms with the CSRF token of the page it last saw."""

    def __init__(self, gateway: GatewayProcess | str) -> None:
        self.base = gateway if isinstance(gateway, str) else gateway.url
        self.http = httpx.Client(base_url=self.base, follow_redirects=False, timeout=30)
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


# GATEWAY_TEST_CHROMIUM names another Chromium (or, naming none, shows how the suite runs without one).
CHROMIUM = os.environ.get("GATEWAY_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# As root in a container: no sandbox; and no background traffic to Google, which this machine's
# closed network refuses (Chromium would log the refusals and retry).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(
    os.environ.get("GATEWAY_SCREENSHOTS", Path(__file__).resolve().parents[3] / ".artifacts" / "screenshots")
)


@pytest_asyncio.fixture(scope="session")
async def chromium() -> AsyncIterator[Any]:
    """Debian's chromium driven by Playwright (``executable_path``; Playwright's own browsers are
    never downloaded). Where it is not installed the browser tests are skipped, saying so.
    Playwright's async API, on the tests' one event loop: its sync API would hold a loop running
    in the main thread for the whole session, and the fixtures' own loops could not run."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(
            f"no Chromium at {CHROMIUM}: the browser tests need Debian's chromium package "
            "(`make test` installs it where apt can)"
        )
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


class Visit:
    """One person's browser tab: records console errors (a CSP violation is one) and takes screenshots."""

    def __init__(self, context: Any, page: Any, base: str) -> None:
        self.context = context
        self.page = page
        self.errors: list[str] = []

        def console(message: Any) -> None:
            # The gateway's pages only (the test issuer's sign-in page is not ours), and not the
            # browser's note on a page answered 4xx: a form re-shown with its errors is answered 400.
            if message.type != "error" or not str(message.location.get("url", "")).startswith(base):
                return
            if not message.text.startswith("Failed to load resource"):
                self.errors.append(f"{message.text} ({message.location.get('url')})")

        def response(answer: Any) -> None:
            # A stylesheet, image or script of ours that fails to load is a broken page.
            if (
                answer.status >= 400
                and answer.request.resource_type != "document"
                and answer.url.startswith(base)
            ):
                self.errors.append(f"{answer.status} for {answer.url}")

        page.on("console", console)
        page.on("response", response)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    @classmethod
    async def open(cls, browser: Any, base: str, *, phone: bool = False) -> Visit:
        size = {"width": 390, "height": 844} if phone else {"width": 1280, "height": 900}
        context = await browser.new_context(viewport=size, base_url=base, is_mobile=phone, has_touch=phone)
        return cls(context, await context.new_page(), base)

    async def sign_in(self, issuer: TestIssuer, username: str, **claims: Any) -> None:
        issuer.add_user(username, **claims)
        await self.page.goto("/web/")
        await self.page.get_by_role("link", name="Sign in").click()
        await self.page.get_by_label("Username").fill(username)
        await self.page.get_by_role("button", name="Sign in").click()
        await self.page.wait_for_url("**/web/**")

    async def shot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        return path

    async def close(self) -> None:
        await self.context.close()


def new_subject(prefix: str = "person") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def absolute(base: str, location: str) -> str:
    return urljoin(base + "/", location)


__all__ = ["CHROMIUM", "SCREENSHOTS", "Visit", "WebClient", "absolute", "new_subject"]
