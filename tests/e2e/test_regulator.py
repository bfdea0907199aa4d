"""The regulator API against a real gateway: OAuth 2.0 client-credentials tokens from the loopback
issuer, scopes per jurisdiction, reports downloaded and checked with the published keys and the
audit log's proof; another jurisdiction's report refused (403) and the refusal audited."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import httpx
import pytest

from gateway.audit import merkle
from gateway.audit.jws import verify_detached
from gateway.audit.note import Checkpoint, NoteVerifier, open_note
from tests.e2e.conftest import GatewayProcess
from tests.e2e.test_cli import gateway_cli
from tests.oidc_issuer import TestIssuer

AUDIENCE = "gateway-regulator"


def token(issuer: TestIssuer, *scopes: str, **claims: Any) -> str:
    claims = {"aud": AUDIENCE, "sub": f"regulator-{uuid.uuid4().hex[:6]}", **claims}
    if scopes:
        claims["scope"] = " ".join(scopes)
    return issuer.sign(**claims)


def get(gw: GatewayProcess, path: str, bearer: str | None = None) -> httpx.Response:
    headers = {"authorization": f"Bearer {bearer}"} if bearer else {}
    return httpx.get(gw.url + "/regulator/v1" + path, headers=headers, timeout=30)


def generate(gw: GatewayProcess, jurisdiction: str) -> dict[str, Any]:
    done = gateway_cli(
        gw, "reports", "generate", "--kind", "usage", "--jurisdiction", jurisdiction,
        "--since", "2000-01-01", "--until", "2100-01-01", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (report,) = json.loads(done.stdout)
    return report


def audited(gw: GatewayProcess, kind: str, actor: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while True:
        entries = json.loads(gateway_cli(gw, "audit", "list", "--json", "--limit", "200").stdout)
        found = [e for e in entries if e["kind"] == kind and e["actor"] == actor]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_a_regulator_reads_its_jurisdictions_reports_and_checks_them(gateway, oidc_issuer) -> None:
    eu, us = generate(gateway, "EU"), generate(gateway, "US")
    subject = f"eu-regulator-{uuid.uuid4().hex[:6]}"
    eu_token = token(oidc_issuer, "reports:EU", sub=subject)

    listed = get(gateway, "/reports", eu_token)
    assert listed.status_code == 200, listed.text
    assert eu["id"] in {r["id"] for r in listed.json()}
    assert {r["jurisdiction"] for r in listed.json()} == {"EU"}  # never another jurisdiction's

    body = get(gateway, f"/reports/{eu['id']}/report.json", eu_token)
    assert body.status_code == 200 and body.headers["content-type"].startswith("application/json")
    jwks = get(gateway, "/jwks.json").json()  # public
    verify_detached(body.content, body.headers["x-report-signature"], jwks)  # signed by the provider
    with pytest.raises(ValueError):
        verify_detached(body.content + b" ", body.headers["x-report-signature"], jwks)
    assert json.loads(body.content)["jurisdiction"]["code"] == "EU"
    assert get(gateway, f"/reports/{eu['id']}/report.pdf", eu_token).content.startswith(b"%PDF")
    assert (
        get(gateway, f"/reports/{eu['id']}/report.csv", eu_token)
        .headers["content-type"]
        .startswith("text/csv")
    )

    # Its issuance is in the audit log: the proof checks with the log's public key alone.
    assert gateway_cli(gateway, "audit", "checkpoint").returncode == 0
    bundle = get(gateway, f"/reports/{eu['id']}/proof", eu_token).json()
    (vkey,) = json.loads(gateway_cli(gateway, "audit", "keys", "--json").stdout)["vkeys"]
    text, _ = open_note(bundle["checkpoint"], [NoteVerifier.from_vkey(vkey)])
    signed = Checkpoint.parse(text)
    entry = base64.b64decode(bundle["entry_b64"])
    proof = [base64.b64decode(p) for p in bundle["proof"]]
    merkle.verify_inclusion(bundle["index"], signed.size, merkle.leaf_hash(entry), proof, signed.root)
    assert json.loads(entry)["data"]["sha256"] == body.headers["x-report-sha256"]
    assert get(gateway, "/checkpoint").text.startswith("kyc-gateway.local/audit\n")

    # Another jurisdiction's report: 403, and the attempt is in the audit log.
    refused = get(gateway, f"/reports/{us['id']}/report.json", eu_token)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "jurisdiction_forbidden"
    assert refused.json()["error"]["request_id"]
    logged = audited(gateway, "regulator.refused", f"regulator:{subject}")
    assert [e["data"]["report"] for e in logged] == [us["id"]]
    assert audited(gateway, "regulator.access", f"regulator:{subject}")
    assert get(gateway, f"/reports/{uuid.uuid4()}", eu_token).status_code == 404


@pytest.mark.parametrize(
    ("claims", "scopes", "status", "code"),
    [
        ({"aud": "someone-else"}, ("reports:EU",), 401, "invalid_token"),
        ({"exp": int(time.time()) - 3600}, ("reports:EU",), 401, "invalid_token"),
        ({}, ("kyc:read",), 403, "insufficient_scope"),
        (None, (), 401, "missing_token"),
    ],
)
def test_a_token_that_is_not_a_regulators_is_refused(
    gateway, oidc_issuer, claims, scopes, status, code
) -> None:
    bearer = None if claims is None else token(oidc_issuer, *scopes, **claims)
    refused = get(gateway, "/reports", bearer)
    assert (refused.status_code, refused.json()["error"]["code"]) == (status, code)


def test_anyone_can_check_that_the_log_only_grew_between_two_checkpoints(gateway) -> None:
    (vkey,) = json.loads(gateway_cli(gateway, "audit", "keys", "--json").stdout)["vkeys"]

    def checkpoint() -> Checkpoint:
        note = json.loads(gateway_cli(gateway, "audit", "checkpoint", "--json").stdout)["note"]
        return Checkpoint.parse(open_note(note, [NoteVerifier.from_vkey(vkey)])[0])

    first = checkpoint()
    generate(gateway, "DE")  # the log grows: a report.issued entry
    second = checkpoint()
    assert second.size > first.size
    got = get(gateway, f"/consistency?old={first.size}&new={second.size}")
    assert got.status_code == 200, got.text
    proof = [base64.b64decode(p) for p in got.json()["proof"]]
    merkle.verify_consistency(first.size, second.size, first.root, second.root, proof)
    with pytest.raises(merkle.ProofError):
        merkle.verify_consistency(first.size, second.size, second.root, second.root, proof)
    bad = get(gateway, f"/consistency?old={second.size}&new={first.size}")
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "invalid_request")
