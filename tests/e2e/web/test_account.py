"""The customer's account in the browser (``/web/account``), over HTTP against the real gateway: a
verified customer (applied through the pages, approved through the admin API) creates a key whose
secret is shown once, uses it through the gateway, sees the call on its usage chart, and revokes
it; another customer can neither see nor revoke it."""

from __future__ import annotations

import datetime as dt
import html
import re
import time
import uuid

import httpx

from tests.e2e.conftest import ADMIN_TOKEN, GatewayProcess
from tests.e2e.web.conftest import WebClient, new_subject
from tests.e2e.web.test_apply import ADDRESS, PERSON_DETAILS, application, query, start
from tests.oidc_issuer import TestIssuer

_SECRET = re.compile(r'value="(gk_[0-9a-f]{16}_[0-9a-f]{48})"')


def verified(client: WebClient, issuer: TestIssuer, gw: GatewayProcess, database_url: str) -> uuid.UUID:
    """A person who applied through the pages as an individual and was approved by an operator."""
    subject, _ = start(client, issuer, "individual", country="US")
    assert client.post("/web/apply/details", {**PERSON_DETAILS, "residence_country": "US"}).status_code == 303
    assert (
        client.post("/web/apply/addresses", {**ADDRESS, "country": "US", "city": "Boston"}).status_code == 303
    )
    assert client.post("/web/apply/submit").status_code == 303
    cid: uuid.UUID = application(database_url, subject)["id"]
    approved = httpx.post(
        f"{gw.url}/admin/v1/customers/{cid}/kyc/approve",
        headers={"authorization": f"Bearer {ADMIN_TOKEN}"},
        json={"reason": "documents checked"},
        timeout=10,
    )
    assert approved.status_code == 200, approved.text
    return cid


def create_key(client: WebClient, project: str = "research", name: str = "laptop") -> tuple[str, str]:
    shown = client.post("/web/account/keys", {"project": project, "key_name": name})
    assert shown.status_code == 201, shown.text[:800]
    secret = _SECRET.search(shown.text)
    assert secret is not None
    assert "shown on this page only" in shown.text
    key_id = re.search(r"data-key-id>([0-9a-f]{16})<", shown.text)
    assert key_id is not None
    return key_id.group(1), secret.group(1)


def models(gw: GatewayProcess, key: str) -> int:
    return httpx.get(
        gw.url + "/v1/models", headers={"authorization": f"Bearer {key}"}, timeout=10
    ).status_code


def wait_for(check, what: str, timeout: float = 10.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not within {timeout}s"
        time.sleep(0.05)


def bar(page: httpx.Response, chart: str, day: str) -> float:
    """The value the chart's bar for ``day`` carries."""
    svg = page.text.split(f'id="{chart}"', 1)[1].split("</svg>", 1)[0]
    found = re.search(rf'data-day="{day}" data-value="([0-9.]+)"', svg)
    assert found is not None, f"no bar for {day} in {chart}"
    return float(found.group(1))


def test_without_a_verified_customer_the_account_page_says_so(
    browser_client: WebClient, oidc_issuer: TestIssuer
) -> None:
    c = browser_client
    c.sign_in(oidc_issuer, new_subject("nobody"))
    page = c.get("/web/account")
    assert page.status_code == 200 and 'data-account="not-verified"' in page.text
    assert 'href="/web/apply"' in page.text and "data-keys" not in page.text
    refused = c.post("/web/account/keys", {"project": "p", "key_name": ""})
    assert refused.status_code == 403 and "kyc_not_verified" in refused.text

    start(c, oidc_issuer, "individual")  # a draft is not verified either
    page = c.get("/web/account")
    assert 'data-account="not-verified"' in page.text and "Not submitted yet" in page.text


def test_a_verified_customer_creates_a_key_seen_once_uses_it_and_revokes_it(
    browser_client: WebClient, oidc_issuer: TestIssuer, web_gateway: GatewayProcess, database_url: str
) -> None:
    c = browser_client
    cid = verified(c, oidc_issuer, web_gateway, database_url)
    page = c.get("/web/account")
    assert page.status_code == 200 and "data-keys" not in page.text and "no API key yet" in page.text
    assert (
        "data-tier" in page.text and 'id="chart-requests"' in page.text and 'id="chart-tokens"' in page.text
    )

    key_id, secret = create_key(c)
    # Never again: the account page lists the key, not its secret.
    listed = c.get("/web/account")
    assert f'data-key="{key_id}"' in listed.text and secret not in listed.text
    assert secret[20:] not in listed.text
    row = re.search(rf'<tr data-key="{key_id}" data-revoked="no">(.*?)</tr>', listed.text, re.S)
    assert row is not None and "research" in row.group(1) and "laptop" in row.group(1)
    assert 'data-project="research"' in listed.text
    stored = query(database_url, "select customer_id, name from api_keys where id = $1", key_id)
    assert stored[0]["customer_id"] == cid and stored[0]["name"] == "laptop"
    audited = query(database_url, "select entry from audit_entries where subject = $1", f"key:{key_id}")
    assert len(audited) == 1 and b"customer:" in bytes(audited[0]["entry"])

    # The key cache picks the key up within a few seconds; then the gateway serves it.
    wait_for(lambda: models(web_gateway, secret) == 200, "the new key works")

    revoked = c.post(f"/web/account/keys/{key_id}/revoke")
    assert revoked.status_code == 303
    assert query(database_url, "select revoked_at from api_keys where id = $1", key_id)[0][0] is not None
    assert f'<tr data-key="{key_id}" data-revoked="yes">' in c.get("/web/account").text
    wait_for(lambda: models(web_gateway, secret) == 401, "the revoked key is refused")
    kinds = [
        r[0]
        for r in query(database_url, "select kind from audit_entries where subject = $1", f"key:{key_id}")
    ]
    assert sorted(kinds) == ["key.created", "key.revoked"]


def test_bad_key_input_is_shown_beside_its_field_and_creates_nothing(
    browser_client: WebClient, oidc_issuer: TestIssuer, web_gateway: GatewayProcess, database_url: str
) -> None:
    c = browser_client
    cid = verified(c, oidc_issuer, web_gateway, database_url)
    for form, field, says in (
        ({"project": "", "key_name": "x"}, "project", "Enter the project name"),
        ({"project": "p" * 201, "key_name": ""}, "project", "at most 200 characters"),
        ({"project": "ok", "key_name": "k" * 201}, "key_name", "at most 200 characters"),
        ({"project": "tab\there", "key_name": ""}, "project", "plain text"),
    ):
        page = c.post("/web/account/keys", form)
        assert page.status_code == 400
        errors = dict(re.findall(r'data-error-for="([^"]+)">([^<]*)</p>', page.text))
        assert says in html.unescape(errors.get(field, "")), errors
        assert "gk_" not in page.text
    assert query(database_url, "select count(*) from api_keys where customer_id = $1", cid)[0][0] == 0
    assert query(database_url, "select count(*) from projects where customer_id = $1", cid)[0][0] == 0


def test_another_customer_can_neither_see_nor_revoke_my_key(
    web_gateway: GatewayProcess, oidc_issuer: TestIssuer, database_url: str
) -> None:
    alice, bob, stranger = WebClient(web_gateway), WebClient(web_gateway), WebClient(web_gateway)
    try:
        verified(alice, oidc_issuer, web_gateway, database_url)
        key_id, secret = create_key(alice, project="alice-secret-project")
        verified(bob, oidc_issuer, web_gateway, database_url)
        bobs_page = bob.get("/web/account")
        assert key_id not in bobs_page.text and "alice-secret-project" not in bobs_page.text
        for client in (bob, stranger):
            if client is stranger:
                stranger.sign_in(oidc_issuer, new_subject("stranger"))
            taken = client.post(f"/web/account/keys/{key_id}/revoke")
            assert taken.status_code == 404 and "key_not_found" in taken.text
            # Exactly as a key that does not exist.
            none = client.post("/web/account/keys/0123456789abcdef/revoke")
            assert none.status_code == 404 and "key_not_found" in none.text
        assert query(database_url, "select revoked_at from api_keys where id = $1", key_id)[0][0] is None
        kinds = [
            r[0]
            for r in query(database_url, "select kind from audit_entries where subject = $1", f"key:{key_id}")
        ]
        assert kinds == ["key.created"]
        wait_for(lambda: models(web_gateway, secret) == 200, "alice's key still works")
    finally:
        for client in (alice, bob, stranger):
            client.close()


def test_a_call_through_the_gateway_appears_on_the_usage_chart(
    browser_client: WebClient, oidc_issuer: TestIssuer, web_gateway: GatewayProcess, database_url: str
) -> None:
    c = browser_client
    verified(c, oidc_issuer, web_gateway, database_url)
    _, secret = create_key(c, project="charts")
    today = dt.datetime.now(dt.UTC).date().isoformat()
    before = c.get("/web/account")
    assert bar(before, "chart-requests", today) == 0 and "No usage yet" in before.text

    headers = {"authorization": f"Bearer {secret}"}
    body = {"model": "gpt-test", "messages": [{"role": "user", "content": "hello from the chart test"}]}

    def call() -> bool:
        answer = httpx.post(web_gateway.url + "/v1/chat/completions", headers=headers, json=body, timeout=10)
        return answer.status_code == 200

    wait_for(call, "a call through the gateway")

    def charted() -> httpx.Response | None:
        page = c.get("/web/account")
        return page if bar(page, "chart-requests", today) >= 1 else None

    page = wait_for(charted, "the call on the chart")
    assert bar(page, "chart-tokens", today) > 0
    yesterday = (dt.date.fromisoformat(today) - dt.timedelta(days=1)).isoformat()
    assert bar(page, "chart-requests", yesterday) == 0
    bars = re.findall(
        r'<rect class="bar"', page.text.split('id="chart-requests"', 1)[1].split("</svg>", 1)[0]
    )
    assert len(bars) == 30
    # The table underneath carries the same number as the bar.
    row = re.search(rf'<tr data-day="{today}">.*?data-requests="(\d+)"', page.text, re.S)
    assert row is not None and float(row.group(1)) == bar(page, "chart-requests", today)
    assert "<title" in page.text and "<desc" in page.text
