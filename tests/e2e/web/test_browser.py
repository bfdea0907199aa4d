"""The web pages in a real browser: headless Chromium (Debian's) driven by Playwright, signing in at
the loopback OIDC issuer. Screenshots of each main page are kept in ``.artifacts/screenshots``
(``GATEWAY_SCREENSHOTS`` moves them); the README links copies of them."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import openai

from gateway.audit.jws import verify_detached
from tests.e2e.conftest import GatewayProcess
from tests.e2e.test_cli import gateway_cli
from tests.e2e.web.conftest import Visit, new_subject
from tests.e2e.web.test_regulator_portal import issue
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
        await navigate(page, page.get_by_role("button", name="Sign out"))
        await page.wait_for_url("**/web/")
        assert await page.get_by_role("link", name="Sign in").is_visible()
        assert not [c for c in await visit.context.cookies() if c["name"] == "__Host-gateway-session"]
        assert visit.errors == []  # no CSP violation, no failed script or style
    finally:
        await visit.close()


# --- the whole journey -------------------------------------------------------------------------------

UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
    .filter(e => !e.labels || e.labels.length === 0).map(e => e.name || e.id)"""
# Against the viewport asked for: a phone's layout viewport widens to fit what overflows it.
WIDE = """(width) => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > width + 1)
    .slice(0, 8).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"""
OVERFLOWS = "(width) => document.documentElement.scrollWidth > width + 1"


async def settled(visit: Visit) -> None:
    """Every page the journey sees: all fields labelled, nothing wider than the screen, no CSP
    violation or failed load so far."""
    page = visit.page
    assert await page.evaluate(UNLABELLED) == [], page.url
    width = page.viewport_size["width"]
    assert not await page.evaluate(OVERFLOWS, width), (page.url, await page.evaluate(WIDE, width))
    assert visit.errors == [], visit.errors


async def fill(page: Any, values: dict[str, str]) -> None:
    for name, value in values.items():
        field = page.locator(f"#f-{name}")
        if await field.evaluate("e => e.tagName") == "SELECT":
            await field.select_option(value)
        else:
            await field.fill(value)


async def navigate(page: Any, target: Any) -> None:
    """Click a button or link and wait for the page it loads: a form answered by a redirect back to
    the same URL (or re-shown with its errors) would satisfy a wait on the URL before it loaded."""
    async with page.expect_navigation():
        await target.click()


async def until(check: Any, what: str, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


async def test_onboarding_approval_key_call_usage_and_a_verified_report_in_a_browser(
    chromium: Any, web_gateway: GatewayProcess, oidc_issuer: TestIssuer, database_url: str
) -> None:
    customer = await Visit.open(chromium, web_gateway.url)
    operator = await Visit.open(chromium, web_gateway.url)
    regulator = await Visit.open(chromium, web_gateway.url)
    phone = await Visit.open(chromium, web_gateway.url, phone=True)
    try:
        # 1. The customer applies, step by step.
        subject = new_subject("journey")
        name = f"Journey Labs {uuid.uuid4().hex[:6]}"
        await customer.sign_in(oidc_issuer, subject)
        page = customer.page
        await page.goto("/web/apply")
        await customer.shot("apply-1-applicant")
        await fill(page, {"kind": "organisation", "name": name, "country": "DE"})
        await navigate(page, page.get_by_role("button", name="Start the application"))
        await page.wait_for_url("**/web/apply/details")
        await fill(
            page,
            {
                "legal_name": name + " GmbH",
                "incorporation_date": "2019-04-01",
                "incorporation_country": "DE",
                "headquarters_country": "DE",
                "email": "compliance@journey.example",
                "phone": "+49 30 1234567",
                "business_purpose": "Evaluating language models for customer support",
            },
        )
        await customer.shot("apply-2-details")
        await navigate(page, page.get_by_role("button", name="Save and continue"))
        await page.wait_for_url("**/web/apply/addresses")
        await fill(
            page, {"line1": "Unter den Linden 1", "city": "Berlin", "postal_code": "10117", "country": "DE"}
        )
        await navigate(page, page.get_by_role("button", name="Add the address"))
        await page.wait_for_url("**/web/apply/addresses")
        await settled(customer)
        await page.goto("/web/apply/owners")
        # A percentage over 100 is shown beside its field, and no owner is saved.
        owner = {"name": "Hedy Lamarr", "kind": "person", "country": "AT", "percent": "150"}
        await fill(page, owner)
        await navigate(page, page.get_by_role("button", name="Add the owner"))
        message = page.locator('[data-error-for="percent"]')
        assert "at most 100" in await message.inner_text()
        assert await page.locator("#f-percent").get_attribute("aria-invalid") == "true"
        await customer.shot("apply-4-owners-error")
        assert await owners_of(database_url, subject) == []
        await fill(page, {**owner, "percent": "60", "birth_date": "1914-11-09", "nationality": "AT"})
        await navigate(page, page.get_by_role("button", name="Add the owner"))
        await page.wait_for_url("**/web/apply/owners")
        await fill(
            page, {"name": "Journey Holding AG", "kind": "organisation", "country": "CH", "percent": "40"}
        )
        await navigate(page, page.get_by_role("button", name="Add the owner"))
        await page.wait_for_url("**/web/apply/owners")
        await customer.shot("apply-4-owners")
        assert sorted(await owners_of(database_url, subject)) == [40.0, 60.0]
        await page.goto("/web/apply/verification")
        await customer.shot("apply-5-verification")
        await page.goto("/web/apply/review")
        await customer.shot("apply-6-review")
        await settled(customer)
        await navigate(page, page.get_by_role("button", name="Submit the application"))
        await page.wait_for_url("**/web/apply**")
        assert await status_of(database_url, subject) == "in_review"
        await customer.shot("apply-status-in-review")

        # 2. An operator reviews it: facts, the ownership graph, a decision that needs a reason.
        await operator.sign_in(oidc_issuer, new_subject("operator"), roles=["gateway-operator"])
        op = operator.page
        await op.goto("/web/console/queue")
        await operator.shot("console-queue")
        await navigate(op, op.get_by_role("link", name=name))
        await op.wait_for_url("**/web/console/customers/**")
        graph = op.locator("svg.graph")
        assert await graph.count() == 1
        assert "Hedy Lamarr" in await graph.inner_html() and "60" in await graph.inner_html()
        await operator.shot("console-customer")
        await navigate(op, op.get_by_role("button", name="Approve"))
        assert await op.locator('[data-error-for="reason"]').count() == 1
        assert await status_of(database_url, subject) == "in_review"
        await op.locator("#f-reason").fill("Documents and owners checked; no screening hits.")
        await navigate(op, op.get_by_role("button", name="Approve"))
        await until(lambda: is_status(database_url, subject, "verified"), "the approval")
        await settled(operator)

        # 3. The customer, now verified, creates a key; its secret is shown once.
        await page.goto("/web/apply")
        assert await page.locator("[data-status]").first.get_attribute("data-status") == "verified"
        await page.goto("/web/account")
        await fill(page, {"project": "research", "key_name": "laptop"})
        await navigate(page, page.get_by_role("button", name="Create the key"))
        secret = await page.locator("[data-secret]").input_value()
        assert secret.startswith("gk_")
        await customer.shot("account-key-created")
        await page.goto("/web/account")
        assert secret not in await page.content()

        # 4. A real call through the gateway with that key (the openai SDK).
        client = openai.AsyncOpenAI(base_url=web_gateway.url + "/v1", api_key=secret, max_retries=0)
        try:
            await until(lambda: key_works(client), "the new key to reach the gateway")
            reply = await client.chat.completions.create(
                model="gpt-test", messages=[{"role": "user", "content": "hello from the journey"}]
            )
            assert reply.usage is not None and reply.usage.total_tokens > 0
        finally:
            await client.close()

        # 5. The usage appears on the customer's chart (the model lists above are calls too).
        today = dt.datetime.now(dt.UTC).date().isoformat()
        tokens = page.locator(f'#chart-tokens rect.bar[data-day="{today}"]')

        async def charted() -> bool:
            await page.goto("/web/account")
            return float(await tokens.get_attribute("data-value") or 0) >= reply.usage.total_tokens  # type: ignore[union-attr]

        await until(charted, "the call's tokens on the chart")
        requests = page.locator(f'#chart-requests rect.bar[data-day="{today}"]')
        assert float(await requests.get_attribute("data-value") or 0) >= 2  # a model list and the chat
        await customer.shot("account")
        await settled(customer)

        # The same pages on a phone: usable, nothing wider than the screen.
        await phone.sign_in(oidc_issuer, subject)
        for path, shot in (("/web/account", "phone-account"), ("/web/apply", "phone-application")):
            await phone.page.goto(path)
            await settled(phone)
            await phone.shot(shot)

        # 6. The operator sees the call in live usage, and the console's other pages.
        for path, shot in (
            ("/web/console", "console-dashboard"),
            ("/web/console/usage", "console-usage"),
            ("/web/console/flags", "console-flags"),
            ("/web/console/audit", "console-audit"),
        ):
            await op.goto(path)
            await settled(operator)
            await operator.shot(shot)
        await op.goto("/web/console/usage")
        assert name in await op.content()
        await op.goto("/web/console/audit")
        await navigate(op, op.get_by_role("button", name="Verify the log"))
        assert "Verified" in await op.locator("main").inner_text()
        await operator.shot("console-audit-verified")

        # 7. A regulator downloads the EU usage report and sees it verified.
        report = await asyncio.to_thread(issue, web_gateway, "EU")
        checkpoint = await asyncio.to_thread(gateway_cli, web_gateway, "audit", "checkpoint")
        assert checkpoint.returncode == 0, checkpoint.stderr
        await regulator.sign_in(oidc_issuer, new_subject("eu-regulator"), roles=["gateway-regulator:EU"])
        rp = regulator.page
        await rp.goto("/web/regulator")
        await regulator.shot("regulator-reports")
        await navigate(rp, rp.locator(f'a[href="/web/regulator/reports/{report["id"]}"]').first)
        inclusion = rp.locator('[data-check="inclusion"]')

        async def proven() -> bool:
            await rp.reload()
            return await inclusion.get_attribute("data-state") == "verified"

        await until(proven, "the report's inclusion proof")
        assert await rp.locator('[data-check="signature"]').get_attribute("data-ok") == "true"
        assert await rp.locator('[data-check="digest"]').get_attribute("data-ok") == "true"
        await regulator.shot("regulator-report")
        async with rp.expect_download() as downloading:
            await rp.get_by_role("link", name="JSON", exact=True).click()
        body = Path(await (await downloading.value).path()).read_bytes()
        async with rp.expect_download() as downloading:
            await rp.get_by_role("link", name="Signature", exact=True).click()
        signature = Path(await (await downloading.value).path()).read_text().strip()
        # Checked here again, independently of the page: the digest, and the signature against the
        # provider's published keys.
        assert hashlib.sha256(body).hexdigest() == report["sha256"]
        jwks = httpx.get(web_gateway.url + "/regulator/v1/jwks.json", timeout=10).json()
        assert verify_detached(body, signature, jwks) == jwks["keys"][0]["kid"]
        await settled(regulator)

        # The staff pages on a phone too.
        staff = await Visit.open(chromium, web_gateway.url, phone=True)
        try:
            await staff.sign_in(
                oidc_issuer, new_subject("staff"), roles=["gateway-operator", "gateway-regulator:EU"]
            )
            for path, shot in (
                ("/web/console/queue", "phone-console-queue"),
                (
                    f"/web/console/customers/{await customer_id_of(database_url, subject)}",
                    "phone-console-customer",
                ),
                (f"/web/regulator/reports/{report['id']}", "phone-regulator-report"),
            ):
                await staff.page.goto(path)
                await settled(staff)
                await staff.shot(shot)
        finally:
            await staff.close()
    finally:
        for visit in (customer, operator, regulator, phone):
            await visit.close()


async def _fetch(database_url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def owners_of(database_url: str, subject: str) -> list[float]:
    rows = await _fetch(
        database_url,
        "select e.percent from ownership_edges e join customers c on c.id = e.customer_id where c.oidc_subject = $1",
        subject,
    )
    return [float(r["percent"]) for r in rows]


async def status_of(database_url: str, subject: str) -> str:
    rows = await _fetch(database_url, "select kyc_status from customers where oidc_subject = $1", subject)
    return str(rows[0]["kyc_status"])


async def customer_id_of(database_url: str, subject: str) -> str:
    rows = await _fetch(database_url, "select id from customers where oidc_subject = $1", subject)
    return str(rows[0]["id"])


async def is_status(database_url: str, subject: str, status: str) -> bool:
    return await status_of(database_url, subject) == status


async def key_works(client: openai.AsyncOpenAI) -> bool:
    try:
        await client.models.list()
    except openai.AuthenticationError:
        return False
    return True
