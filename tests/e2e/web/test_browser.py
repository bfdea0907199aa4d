"""The web pages in a real browser: headless Chromium (Debian's) driven by Playwright, signing in at
the loopback OIDC issuer. Screenshots of each main page are kept in ``.artifacts/screenshots``
(``GATEWAY_SCREENSHOTS`` moves them); the README links copies of them."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import GatewayProcess
from tests.e2e.web.conftest import Visit, new_subject
from tests.oidc_issuer import TestIssuer


async def test_sign_in_and_out_in_a_browser(
    chromium: Any, web_gateway: GatewayProcess, oidc_issuer: TestIssuer
) -> None:
    visit = await Visit.open(chromium, web_gateway.url)
    try:
        page = visit.page
        await page.goto("/web/")
        await visit.shot("start")
        await visit.sign_in(oidc_issuer, new_subject())
        cookie = next(c for c in await visit.context.cookies() if c["name"] == "__Host-gateway-session")
        assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Lax"
        assert await page.get_by_role("button", name="Sign out").is_visible()
        # Keyboard: the first Tab reaches the skip link.
        await page.keyboard.press("Tab")
        assert await page.evaluate("document.activeElement.textContent") == "Skip to content"
        await page.get_by_role("button", name="Sign out").click()
        await page.wait_for_url("**/web/")
        assert await page.get_by_role("link", name="Sign in").is_visible()
        assert not [c for c in await visit.context.cookies() if c["name"] == "__Host-gateway-session"]
        assert visit.errors == []  # no CSP violation, no failed script or style
    finally:
        await visit.close()
