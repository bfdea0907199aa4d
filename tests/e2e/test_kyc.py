"""Know your customer, end to end: the proxy enforces it, operators decide, customers onboard
with OIDC tokens, providers report by signed webhooks. Real gateway process, real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

import httpx
import pytest

from gateway.kyc.webhooks import sign_generic, sign_persona
from tests.conftest import eventually
from tests.e2e.conftest import ADMIN_TOKEN, GENERIC_SECRET, PERSONA_SECRET, GatewayProcess
from tests.e2e.test_cli import gateway_cli
from tests.oidc_issuer import TestIssuer

FIXTURES = Path(__file__).parents[1] / "fixtures" / "screening"
ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}


def cli_json(gw: GatewayProcess, *args: str) -> dict:
    done = gateway_cli(gw, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def customer_with_key(gw: GatewayProcess, name: str, *args: str) -> tuple[str, dict[str, str]]:
    made = cli_json(gw, "customers", "create", "--name", name, *args)
    key = cli_json(gw, "keys", "create", "--customer", name, "--project", "p")
    return made["id"], {"authorization": f"Bearer {key['key']}"}


def chat(gw: GatewayProcess, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(
        gw.url + "/v1/chat/completions",
        headers=headers,
        json={"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}]},
    )


async def refused_with(gw: GatewayProcess, headers: dict[str, str], code: str) -> None:
    """Within a second, every request is refused with `code` (keys and standings propagate by NOTIFY)."""

    async def check() -> bool:
        r = await asyncio.to_thread(chat, gw, headers)
        return r.status_code == 403 and r.json()["error"]["code"] == code

    await eventually(check, timeout=1.0)


async def accepted(gw: GatewayProcess, headers: dict[str, str]) -> None:
    async def check() -> bool:
        return (await asyncio.to_thread(chat, gw, headers)).status_code == 200

    await eventually(check, timeout=1.0)


async def test_the_proxy_follows_the_customer_through_every_state(gateway: GatewayProcess) -> None:
    cid, auth = customer_with_key(gateway, "states-co", "--kind", "individual", "--country", "US")
    await eventually(lambda: asyncio.to_thread(lambda: chat(gateway, auth).status_code == 403), timeout=5)
    r = chat(gateway, auth)
    err = r.json()["error"]
    assert (r.status_code, err["code"], err["type"]) == (403, "kyc_pending", "permission_error")
    assert err["request_id"] == r.headers["x-request-id"] and "not complete" in err["message"]

    cli_json(gateway, "kyc", "submit", "--customer", cid)
    await refused_with(gateway, auth, "kyc_pending")
    cli_json(gateway, "kyc", "approve", "--customer", cid, "--reason", "documents checked")
    await accepted(gateway, auth)  # within a second of approval
    cli_json(gateway, "kyc", "suspend", "--customer", cid, "--reason", "chargeback")
    await refused_with(gateway, auth, "kyc_suspended")
    cli_json(gateway, "kyc", "reinstate", "--customer", cid, "--reason", "resolved")
    await accepted(gateway, auth)
    cli_json(gateway, "kyc", "reject", "--customer", cid, "--reason", "fraud")
    await refused_with(gateway, auth, "kyc_rejected")

    status = cli_json(gateway, "kyc", "status", "--customer", cid)
    assert status["status"] == "rejected"
    # A refused request never reaches the upstream, and is in the ledger with its code.
    assert gateway_cli(gateway, "kyc", "approve", "--customer", cid, "--reason", "x").returncode == 1


async def test_screening_hit_blocks_review_dismiss_and_approve(gateway: GatewayProcess) -> None:
    cid, auth = customer_with_key(gateway, "Ivan Sydorenko", "--kind", "individual", "--country", "FI")
    cli_json(gateway, "kyc", "submit", "--customer", cid)
    cli_json(gateway, "kyc", "approve", "--customer", cid, "--reason", "ok before the list")
    await accepted(gateway, auth)

    loaded = cli_json(gateway, "screening", "load", str(FIXTURES / "sdn.xml"), "--source", "sdn")
    assert loaded["list"]["entries"] == 10 and loaded["rescreened"] >= 1
    await refused_with(gateway, auth, "sanctions_hit")
    status = cli_json(gateway, "kyc", "status", "--customer", cid)
    assert status["status"] == "in_review" and status["sanctions"] == "potential"
    hit = status["screening"]["hits"][0]
    assert (hit["list"], hit["entry"], hit["name"]) == ("sdn", "91001", "Ivan Petrovich Sidorenko")
    assert 0.82 <= hit["score"] <= 1.0

    blocked = gateway_cli(gateway, "kyc", "approve", "--customer", cid, "--reason", "x")
    assert blocked.returncode == 1 and "must be confirmed or dismissed first" in blocked.stderr
    cli_json(gateway, "kyc", "dismiss-hit", str(hit["id"]), "--reason", "different person: DOB 1990")
    await refused_with(gateway, auth, "kyc_pending")
    cli_json(gateway, "kyc", "approve", "--customer", cid, "--reason", "false positive cleared")
    await accepted(gateway, auth)

    # Reloading the list remembers the dismissal for that entry.
    cli_json(gateway, "screening", "load", str(FIXTURES / "sdn.xml"), "--source", "sdn")
    status = cli_json(gateway, "kyc", "status", "--customer", cid)
    assert status["status"] == "verified" and status["screening"]["hits"] == []
    assert [h["entry"] for h in status["screening"]["dismissed"]] == ["91001"]
    await accepted(gateway, auth)


async def test_fifty_percent_rule_through_owners(gateway: GatewayProcess) -> None:
    cli_json(gateway, "screening", "load", str(FIXTURES / "csl.csv"), "--source", "csl")
    cid, auth = customer_with_key(gateway, "harbour-co", "--kind", "organisation", "--country", "NL")
    holding = cli_json(
        gateway,
        "owners",
        "add",
        "--customer",
        cid,
        "--name",
        "Harbour Holdings BV",
        "--kind",
        "organisation",
        "--country",
        "NL",
        "--percent",
        "40",
    )["id"]
    cli_json(
        gateway,
        "owners",
        "add",
        "--customer",
        cid,
        "--of",
        holding,
        "--name",
        "Blue Lantern Trading Co Ltd",
        "--kind",
        "organisation",
        "--country",
        "CN",
        "--percent",
        "50",
    )
    cli_json(
        gateway,
        "owners",
        "add",
        "--customer",
        cid,
        "--name",
        "Ivan Petrovich Sidorenko",
        "--kind",
        "person",
        "--country",
        "RU",
        "--percent",
        "30",
    )
    cli_json(
        gateway,
        "owners",
        "add",
        "--customer",
        cid,
        "--name",
        "Clean Owner",
        "--kind",
        "person",
        "--country",
        "NL",
        "--percent",
        "30",
    )
    status = cli_json(gateway, "kyc", "status", "--customer", cid)
    # 30% directly + 50% of 40% through the holding = 50%: treated as listed.
    assert status["listed_ownership_percent"] == pytest.approx(50.0)
    assert status["treated_as_listed"] is True and status["sanctions"] == "potential"
    names = {h["name"] for h in status["screening"]["hits"]}
    assert {"Ivan Petrovich Sidorenko", "Blue Lantern Trading Co., Ltd."} <= names
    for hit in status["screening"]["hits"]:
        cli_json(gateway, "kyc", "confirm-hit", str(hit["id"]), "--reason", "same entity, registry checked")
    status = cli_json(gateway, "kyc", "status", "--customer", cid)
    assert status["sanctions"] == "confirmed" and status["status"] == "rejected"
    await refused_with(gateway, auth, "sanctions_hit")


def admin(gw: GatewayProcess, method: str, path: str, **kw) -> httpx.Response:
    return httpx.request(method, gw.url + path, headers=ADMIN, **kw)


def test_admin_api_needs_the_token_and_serves_the_review(gateway: GatewayProcess) -> None:
    assert httpx.get(gateway.url + "/admin/v1/kyc/queue").json()["error"]["code"] == "missing_token"
    bad = httpx.get(gateway.url + "/admin/v1/kyc/queue", headers={"authorization": "Bearer nope"})
    assert (bad.status_code, bad.json()["error"]["code"]) == (401, "invalid_token")

    made = admin(
        gateway,
        "POST",
        "/admin/v1/customers",
        json={"name": "queue-co", "kind": "individual", "country": "CA"},
    )
    assert made.status_code == 201, made.text
    cid = made.json()["id"]
    assert admin(gateway, "POST", f"/admin/v1/customers/{cid}/kyc/submit").json()["status"] == "in_review"
    queue = admin(gateway, "GET", "/admin/v1/kyc/queue").json()
    assert cid in [item["customer"] for item in queue]
    review = admin(gateway, "GET", f"/admin/v1/customers/{cid}/kyc").json()
    assert review["status"]["status"] == "in_review"
    assert review["transitions"][0]["actor"].startswith("admin:")

    no_reason = admin(gateway, "POST", f"/admin/v1/customers/{cid}/kyc/approve", json={})
    assert (no_reason.status_code, no_reason.json()["error"]["code"]) == (400, "invalid_body")
    assert "reason" in no_reason.json()["error"]["message"]
    wrong = admin(gateway, "POST", f"/admin/v1/customers/{cid}/kyc/promote", json={"reason": "x"})
    assert wrong.json()["error"]["code"] == "unknown_action"
    ok = admin(
        gateway, "POST", f"/admin/v1/customers/{cid}/kyc/request-info", json={"reason": "need address"}
    )
    assert ok.json()["status"] == "pending"
    missing = admin(gateway, "GET", f"/admin/v1/customers/{uuid.uuid4()}/kyc")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "customer_not_found")


# -- onboarding with OIDC -------------------------------------------------------------------


def onboard(gw: GatewayProcess, token: str, method: str, path: str = "", **kw) -> httpx.Response:
    return httpx.request(
        method, gw.url + "/kyc/v1/applications" + path, headers={"authorization": f"Bearer {token}"}, **kw
    )


FACTS = {
    "legal_name": "Nimbus Research GmbH",
    "addresses": [{"line1": "Unter den Linden 1", "city": "Berlin", "country": "DE"}],
    "incorporation_date": "2019-04-01",
    "incorporation_country": "DE",
    "email": "compliance@nimbus.example",
    "phone": "+49 30 1234567",
    "identifiers": [{"type": "vat", "value": "DE136695976"}],
    "payment_methods": [{"method": "card", "card_number": "4242 4242 4242 4242"}],
}


def test_customer_onboards_with_an_oidc_token_and_cannot_touch_others(
    gateway: GatewayProcess, oidc_issuer: TestIssuer
) -> None:
    alice = oidc_issuer.sign(sub=f"alice-{uuid.uuid4().hex[:6]}")
    mallory = oidc_issuer.sign(sub=f"mallory-{uuid.uuid4().hex[:6]}")

    assert onboard(gateway, "not-a-jwt", "GET").json()["error"]["code"] == "invalid_token"
    expired = oidc_issuer.sign(exp=int(time.time()) - 3600)
    r = onboard(gateway, expired, "GET")
    assert r.status_code == 401 and "expired" in r.json()["error"]["message"]
    wrong_aud = oidc_issuer.sign(aud="someone-else")
    assert onboard(gateway, wrong_aud, "GET").status_code == 401

    made = onboard(
        gateway,
        alice,
        "POST",
        json={"name": f"nimbus-{uuid.uuid4().hex[:6]}", "kind": "organisation", "country": "DE"},
    )
    assert made.status_code == 201, made.text
    app_id = made.json()["id"]
    assert made.headers["location"].endswith(app_id)
    again = onboard(gateway, alice, "POST", json={"name": "second", "kind": "individual", "country": "DE"})
    assert (again.status_code, again.json()["error"]["code"]) == (409, "application_exists")

    bad = onboard(gateway, alice, "PATCH", f"/{app_id}/facts", json={"email": "not an email"})
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "invalid_facts")
    unknown = onboard(gateway, alice, "PATCH", f"/{app_id}/facts", json={"favourite_colour": "red"})
    assert unknown.json()["error"]["code"] == "invalid_body"
    facts = onboard(gateway, alice, "PATCH", f"/{app_id}/facts", json=FACTS)
    assert facts.status_code == 200, facts.text
    stored = facts.json()
    assert stored["phone"] == "+49301234567" and "4242424242424242" not in facts.text
    assert stored["payment_methods"][0]["last4"] == "4242"

    incomplete = onboard(gateway, alice, "POST", f"/{app_id}/submit")
    assert (incomplete.status_code, incomplete.json()["error"]["code"]) == (409, "incomplete")
    owner = onboard(
        gateway,
        alice,
        "POST",
        f"/{app_id}/owners",
        json={
            "name": "Hedy Lamarr",
            "kind": "person",
            "country": "AT",
            "percent": 100,
            "birth_date": "1914-11-09",
        },
    )
    assert owner.status_code == 201, owner.text

    # Mallory: every route on Alice's application answers as if it did not exist.
    for method, path, body in [
        ("GET", f"/{app_id}", None),
        ("GET", f"/{app_id}/status", None),
        ("PATCH", f"/{app_id}/facts", {"email": "m@evil.example"}),
        ("POST", f"/{app_id}/owners", {"name": "Mallory", "kind": "person", "percent": 100}),
        ("DELETE", f"/{app_id}/owners/{owner.json()['id']}", None),
        ("POST", f"/{app_id}/submit", None),
    ]:
        r = onboard(gateway, mallory, method, path, json=body)
        assert (r.status_code, r.json()["error"]["code"]) == (404, "application_not_found"), (method, path)
    assert onboard(gateway, mallory, "GET").json() == []

    submitted = onboard(gateway, alice, "POST", f"/{app_id}/submit")
    assert submitted.json() == {"id": app_id, "status": "in_review"}
    locked = onboard(gateway, alice, "PATCH", f"/{app_id}/facts", json={"email": "x@nimbus.example"})
    assert (locked.status_code, locked.json()["error"]["code"]) == (409, "application_locked")
    view = onboard(gateway, alice, "GET", f"/{app_id}").json()
    assert (
        view["facts"]["email"] == "compliance@nimbus.example" and view["owners"][0]["name"] == "Hedy Lamarr"
    )
    assert "screening" not in view  # customers do not see screening results

    review = admin(gateway, "GET", f"/admin/v1/customers/{app_id}/kyc").json()
    assert {a["action"] for a in review["access"]} >= {"create", "update_facts", "add_owner", "submit"}
    assert all(a["ip"] == "127.0.0.1" for a in review["access"])
    # Personal data never reaches the log.
    log = gateway.log()
    # (The card as sent and as digits: "4242" alone can occur in a timestamp.)
    for secret in ("compliance@nimbus.example", "Hedy Lamarr", "4242 4242 4242 4242", "4242424242424242",
                   "Unter den Linden", alice):  # fmt: skip
        assert secret not in log


# -- provider webhooks ---------------------------------------------------------------------------


def persona_event(
    customer: str, name: str, event_id: str, created: str = "2026-11-27T10:00:00.000Z"
) -> bytes:
    status = {"inquiry.approved": "approved", "inquiry.declined": "declined"}[name]
    return json.dumps(
        {
            "data": {
                "type": "event",
                "id": event_id,
                "attributes": {
                    "name": name,
                    "created-at": created,
                    "payload": {
                        "data": {
                            "type": "inquiry",
                            "id": "inq_e2e",
                            "attributes": {"status": status, "reference-id": customer},
                        }
                    },
                },
            }
        }
    ).encode()


def post_webhook(gw: GatewayProcess, provider: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(
        gw.url + f"/kyc/v1/webhooks/{provider}",
        content=body,
        headers={"content-type": "application/json", **headers},
    )


async def test_persona_webhook_verifies_then_revokes(gateway: GatewayProcess) -> None:
    cid, auth = customer_with_key(
        gateway, f"hooked-{uuid.uuid4().hex[:6]}", "--kind", "individual", "--country", "SE"
    )
    cli_json(gateway, "kyc", "submit", "--customer", cid)
    body = persona_event(cid, "inquiry.approved", "evt_e2e_1")
    now = int(time.time())
    signed = {"persona-signature": sign_persona(PERSONA_SECRET.encode(), body, now)}

    wrong = post_webhook(gateway, "persona", body, {"persona-signature": sign_persona(b"other", body, now)})
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (401, "invalid_signature")
    altered = post_webhook(gateway, "persona", body.replace(b"approved", b"approveD"), signed)
    assert altered.json()["error"]["code"] == "invalid_signature"
    stale = post_webhook(
        gateway,
        "persona",
        body,
        {"persona-signature": sign_persona(PERSONA_SECRET.encode(), body, now - 3600)},
    )
    assert (stale.status_code, stale.json()["error"]["code"]) == (401, "stale_webhook")
    assert cli_json(gateway, "kyc", "status", "--customer", cid)["status"] == "in_review"

    ok = post_webhook(gateway, "persona", body, signed)
    assert ok.status_code == 200 and ok.json()["applied"] is True
    await accepted(gateway, auth)
    replay = post_webhook(gateway, "persona", body, signed)
    assert replay.status_code == 200 and replay.json()["applied"] is False

    later = persona_event(cid, "inquiry.declined", "evt_e2e_2", "2026-11-27T11:00:00.000Z")
    post_webhook(
        gateway,
        "persona",
        later,
        {"persona-signature": sign_persona(PERSONA_SECRET.encode(), later, int(time.time()))},
    )
    await refused_with(gateway, auth, "kyc_rejected")
    unknown = post_webhook(gateway, "nobody", body, signed)
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "provider_not_found")


def test_generic_webhook_scheme(gateway: GatewayProcess) -> None:
    cid = cli_json(
        gateway,
        "customers",
        "create",
        "--name",
        f"generic-{uuid.uuid4().hex[:6]}",
        "--kind",
        "individual",
        "--country",
        "NO",
    )["id"]
    body = json.dumps(
        {"event_id": "g-1", "customer_id": cid, "reference": "chk_9", "status": "in_review"}
    ).encode()
    sig = sign_generic(GENERIC_SECRET.encode(), body, int(time.time()))
    r = post_webhook(gateway, "acme-idv", body, {"gateway-signature": sig})
    assert r.json() == {"event_id": "g-1", "applied": True, "note": "moved to in_review"}
    malformed = b'{"event_id": "g-2"}'
    r = post_webhook(
        gateway,
        "acme-idv",
        malformed,
        {"gateway-signature": sign_generic(GENERIC_SECRET.encode(), malformed, int(time.time()))},
    )
    assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_webhook")


def test_sdks_raise_their_permission_error_with_our_code(gateway: GatewayProcess) -> None:
    import anthropic
    import openai

    _, auth = customer_with_key(
        gateway, f"sdk-{uuid.uuid4().hex[:6]}", "--kind", "individual", "--country", "JP"
    )
    key = auth["authorization"].removeprefix("Bearer ")
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0)
    for _ in range(500):  # the new key reaches the gateway first
        try:
            client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}])
        except openai.AuthenticationError:
            continue
        except openai.PermissionDeniedError as exc:
            assert exc.status_code == 403 and exc.code == "kyc_pending"
            break
    else:
        raise AssertionError("never refused with 403")
    claude = anthropic.Anthropic(base_url=gateway.url, api_key=key, max_retries=0)
    with pytest.raises(anthropic.PermissionDeniedError) as err:
        claude.messages.create(
            model="claude-test", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
        )
    assert err.value.body["error"]["code"] == "kyc_pending"  # type: ignore[index]
