"""Signing in to the web pages through the loopback OIDC issuer: authorization code with PKCE, the
session cookie's attributes, CSRF, the security headers, roles from claims, signing out."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx

from tests.e2e.conftest import GatewayProcess
from tests.e2e.web.conftest import OPERATOR_ROLE, REGULATOR_PREFIX, WebClient, new_subject
from tests.oidc_issuer import TestIssuer


def test_the_start_page_offers_sign_in_with_the_security_headers(browser_client: WebClient) -> None:
    page = browser_client.get("/web/")
    assert page.status_code == 200
    assert 'href="/web/login"' in page.text
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "form-action 'self'" in csp
    assert "'unsafe-inline'" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"] == "no-store"


def test_sign_in_uses_pkce_s256_state_and_nonce(browser_client: WebClient, oidc_issuer: TestIssuer) -> None:
    start = browser_client.http.get("/web/login")
    assert start.status_code == 303
    query = parse_qs(urlsplit(start.headers["location"]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert query["client_id"] == ["gateway-web"] and query["response_type"] == ["code"]
    assert query["state"][0] and query["nonce"][0]
    assert "openid" in query["scope"][0].split()

    done = browser_client.sign_in(oidc_issuer, new_subject())
    exchange = oidc_issuer.token_requests[-1]
    # The verifier sent at the exchange is the one the challenge was made from.
    verifier = exchange["code_verifier"]
    assert 43 <= len(verifier) <= 128
    assert exchange["grant_type"] == "authorization_code"
    assert "client_secret" not in exchange  # a public client: PKCE is its proof
    cookie = next(v for v in done.headers.get_list("set-cookie") if v.startswith("__Host-gateway-session="))
    attributes = {a.strip().lower() for a in cookie.split(";")[1:]}
    assert {"secure", "httponly", "samesite=lax", "path=/"} <= attributes
    assert done.headers["location"] == "/web/"
    home = browser_client.get("/web/")
    assert "Sign out" in home.text


def test_a_state_is_good_once(browser_client: WebClient, oidc_issuer: TestIssuer) -> None:
    oidc_issuer.add_user("replayer")
    start = browser_client.http.get("/web/login")
    back = httpx.post(start.headers["location"], data={"username": "replayer"}, timeout=10)
    callback = back.headers["location"][len(browser_client.base) :]
    assert browser_client.http.get(callback).status_code == 303
    again = browser_client.http.get(callback)
    assert again.status_code == 400
    assert "sign_in_expired" in again.text
    assert again.headers["content-type"].startswith("text/html")


def test_an_unknown_state_is_refused_without_calling_the_provider(
    browser_client: WebClient, oidc_issuer: TestIssuer
) -> None:
    before = len(oidc_issuer.token_requests)
    answer = browser_client.http.get("/web/callback", params={"state": "forged", "code": "x"})
    assert answer.status_code == 400 and "sign_in_expired" in answer.text
    assert len(oidc_issuer.token_requests) == before


def test_a_wrong_verifier_is_refused_by_the_provider(
    oidc_issuer: TestIssuer, web_gateway: GatewayProcess
) -> None:
    # The issuer checks S256(verifier) == challenge, as a real one does: prove it refuses a mismatch,
    # so that the sign-in tests above show the gateway sent the matching verifier.
    oidc_issuer.add_user("pkce-check")
    verifier = "a" * 64
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    params = {
        "client_id": "gateway-web",
        "redirect_uri": web_gateway.url + "/web/callback",
        "response_type": "code",
        "scope": "openid",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": "s",
    }
    auth = oidc_issuer.issuer + "/protocol/openid-connect/auth"
    back = httpx.post(auth, params=params, data={"username": "pkce-check"}, timeout=10)
    code = parse_qs(urlsplit(back.headers["location"]).query)["code"][0]
    token = oidc_issuer.issuer + "/protocol/openid-connect/token"
    form = {"grant_type": "authorization_code", "code": code, "client_id": "gateway-web"}
    wrong = httpx.post(
        token, data={**form, "redirect_uri": params["redirect_uri"], "code_verifier": "b" * 64}
    )
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"


def test_next_page_is_kept_and_an_outside_one_is_not(
    browser_client: WebClient, oidc_issuer: TestIssuer
) -> None:
    done = browser_client.sign_in(oidc_issuer, new_subject(), next_page="/web/account")
    assert done.headers["location"] == "/web/account"
    for outside in ("//evil.example/web", "https://evil.example/web", "/web\\@evil.example", "/admin/v1"):
        other = WebClient(browser_client.base)
        try:
            done = other.sign_in(oidc_issuer, new_subject(), next_page=outside)
            assert done.headers["location"] == "/web/", outside
        finally:
            other.close()


def test_a_page_that_needs_a_session_sends_the_browser_to_sign_in(browser_client: WebClient) -> None:
    answer = browser_client.get("/web/account?tab=keys")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/web/login?next=/web/account%3Ftab%3Dkeys"


def test_forms_need_the_session_token_and_our_origin(
    browser_client: WebClient, oidc_issuer: TestIssuer
) -> None:
    browser_client.sign_in(oidc_issuer, new_subject())
    browser_client.get("/web/")
    no_token = browser_client.post("/web/logout", {"csrf": "wrong"})
    assert no_token.status_code == 403 and "csrf_failed" in no_token.text
    other_site = browser_client.post("/web/logout", headers={"origin": "https://evil.example"})
    assert other_site.status_code == 403 and "csrf_failed" in other_site.text
    assert "Sign out" in browser_client.get("/web/").text  # still signed in
    out = browser_client.post("/web/logout")
    assert out.status_code == 303
    assert "max-age=0" in out.headers["set-cookie"].lower()
    assert "Sign out" not in browser_client.get("/web/").text  # the session is gone server-side


def test_roles_come_from_the_id_token(browser_client: WebClient, oidc_issuer: TestIssuer) -> None:
    browser_client.sign_in(oidc_issuer, new_subject("op"), roles=[OPERATOR_ROLE, REGULATOR_PREFIX + "eu"])
    home = browser_client.get("/web/").text
    assert 'href="/web/console"' in home and 'href="/web/regulator"' in home
    assert "regulator: EU" in home
    plain = WebClient(browser_client.base)
    try:
        plain.sign_in(oidc_issuer, new_subject(), roles=["something-else"])
        home = plain.get("/web/").text
        assert 'href="/web/console"' not in home and 'href="/web/regulator"' not in home
    finally:
        plain.close()


def _callback_after_provider(client: WebClient, issuer: TestIssuer, username: str) -> httpx.Response:
    issuer.add_user(username)
    start = client.http.get("/web/login")
    back = httpx.post(start.headers["location"], data={"username": username}, timeout=10)
    return client.http.get(back.headers["location"][len(client.base) :])


def test_an_id_token_for_another_sign_in_or_client_opens_no_session(
    browser_client: WebClient, oidc_issuer: TestIssuer
) -> None:
    cases = {"nonce": "someone-elses-nonce", "aud": "another-client", "iss": "https://impostor.example"}
    for claim, value in cases.items():
        oidc_issuer.id_token_tamper = {claim: value}
        try:
            answer = _callback_after_provider(browser_client, oidc_issuer, new_subject())
        finally:
            oidc_issuer.id_token_tamper = {}
        assert answer.status_code == 401, (claim, answer.text)
        assert "sign_in_failed" in answer.text
        assert not any(v.startswith("__Host-gateway-session=") for v in answer.headers.get_list("set-cookie"))
    oidc_issuer.id_token_tamper = {"nonce": None}
    try:
        answer = _callback_after_provider(browser_client, oidc_issuer, new_subject())
    finally:
        oidc_issuer.id_token_tamper = {}
    assert answer.status_code == 401 and "nonce" in answer.text


def test_the_provider_refusing_is_shown_plainly(browser_client: WebClient) -> None:
    start = browser_client.http.get("/web/login")
    state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
    answer = browser_client.http.get(
        "/web/callback",
        params={"state": state, "error": "access_denied", "error_description": "user cancelled"},
    )
    assert answer.status_code == 401
    assert "access_denied user cancelled" in answer.text and "<script" not in answer.text


async def test_an_expired_session_signs_in_again(
    browser_client: WebClient, oidc_issuer: TestIssuer, database_url: str
) -> None:
    browser_client.sign_in(oidc_issuer, new_subject())
    assert "Sign out" in browser_client.get("/web/").text
    digest = hashlib.sha256((browser_client.session or "").encode()).digest()
    conn = await asyncpg.connect(database_url)
    try:
        moved = await conn.execute(
            "update web_sessions set created_at = now() - interval '2 days', expires_at = now() - interval '1 second'"
            " where token_hash = $1",
            digest,
        )
    finally:
        await conn.close()
    assert moved == "UPDATE 1"
    assert "Sign out" not in browser_client.get("/web/").text
    assert browser_client.get("/web/apply").status_code == 303


def test_without_web_client_id_there_are_no_pages(gateway: GatewayProcess) -> None:
    home = httpx.get(gateway.url + "/web/")
    assert home.status_code == 200 and "not enabled" in home.text
    login = httpx.get(gateway.url + "/web/login")
    assert login.status_code == 403 and "web_disabled" in login.text
