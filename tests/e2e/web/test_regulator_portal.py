"""The regulator portal over HTTP against a real gateway: a regulator signed in through the loopback
OIDC issuer with ``gateway-regulator:<JURISDICTION>`` roles lists the reports addressed to them,
reads one with its signature, digest and audit-log proof checked on the server, downloads it in
every format; a tampered report is shown NOT valid; another jurisdiction's report is refused (403,
audited); an unknown one is 404; a customer gets 403 everywhere.

Reports are issued as an operator does (``gateway reports generate`` against the same database),
each for a period of its own, so that tests and reruns never collide on a jurisdiction's period."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from gateway.audit import merkle
from gateway.audit.jws import verify_detached
from gateway.audit.note import Checkpoint, NoteVerifier, open_note
from tests.conftest import _run
from tests.e2e.conftest import GatewayProcess
from tests.e2e.test_cli import gateway_cli
from tests.e2e.web.conftest import OPERATOR_ROLE, REGULATOR_PREFIX, WebClient, new_subject
from tests.oidc_issuer import TestIssuer

EU = [REGULATOR_PREFIX + "EU"]
DOWNLOADS = ("report.json", "report.csv", "report.pdf", "report.json.jws", "proof.json")


def issue(gw: GatewayProcess, jurisdiction: str) -> dict[str, Any]:
    """A usage report of ``jurisdiction`` over everything in the ledger, for a period of its own (a
    jurisdiction has one first version per period): it ends a random number of seconds into 2100."""
    until = dt.datetime(2100, 1, 1) + dt.timedelta(seconds=1 + uuid.uuid4().int % 10**9)
    done = gateway_cli(
        gw, "reports", "generate", "--kind", "usage", "--jurisdiction", jurisdiction,
        "--since", "2000-01-01", "--until", until.isoformat(), "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (report,) = json.loads(done.stdout)
    return report


def sql(database_url: str, query: str, *args: Any, tamper: bool = False) -> list[asyncpg.Record]:
    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(database_url)
        try:
            async with conn.transaction():
                if tamper:  # the reports table refuses updates by trigger: off for this transaction only
                    await conn.execute("set local session_replication_role = replica")
                return await conn.fetch(query, *args)
        finally:
            await conn.close()

    return _run(run())


def audited(database_url: str, kind: str, actor: str, expect: int = 1) -> list[dict[str, Any]]:
    """The audit entries of ``kind`` by ``actor`` (the writer batches: poll until ``expect`` are in)."""
    deadline = time.monotonic() + 15
    while True:
        rows = sql(
            database_url,
            "select entry from audit_entries where kind = $1 and convert_from(entry, 'UTF8')::jsonb->>'actor' = $2"
            " order by seq",
            kind,
            actor,
        )
        found = [json.loads(bytes(r["entry"])) for r in rows]
        if len(found) >= expect or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def check(page: str, name: str) -> str:
    """The ``<li data-check="name" ...>`` element of the verification, as text."""
    found = re.search(rf'<li data-check="{name}"[^>]*>.*?</li>', page, re.S)
    assert found is not None, page
    return found.group(0)


@pytest.fixture(scope="module")
def issued(web_gateway: GatewayProcess) -> dict[str, dict[str, Any]]:
    return {"EU": issue(web_gateway, "EU"), "US": issue(web_gateway, "US")}


@pytest.fixture
def regulator(browser_client: WebClient, oidc_issuer: TestIssuer) -> Iterator[tuple[WebClient, str]]:
    subject = new_subject("eu-regulator")
    browser_client.sign_in(oidc_issuer, subject, roles=EU)
    yield browser_client, subject


def test_the_list_shows_the_regulators_jurisdictions_only(
    regulator: tuple[WebClient, str],
    issued: dict[str, dict[str, Any]],
    database_url: str,
    oidc_issuer: TestIssuer,
) -> None:
    client, subject = regulator
    listed = client.get("/web/regulator")
    assert listed.status_code == 200, listed.text
    assert "content-security-policy" in listed.headers
    eu, us = issued["EU"], issued["US"]
    assert f'href="/web/regulator/reports/{eu["id"]}"' in listed.text
    assert eu["sha256"] in listed.text
    assert us["id"] not in listed.text  # never another jurisdiction's
    assert set(re.findall(r'data-jurisdiction="([^"]+)"', listed.text)) == {"EU"}
    ids = re.findall(r'data-report-id="([^"]+)"', listed.text)
    seqs = dict(sql(database_url, "select id::text, audit_seq from reports where id = any($1::uuid[])", ids))
    assert [seqs[i] for i in ids] == sorted(seqs.values(), reverse=True)  # newest first
    (access,) = audited(database_url, "regulator.access", f"regulator:{subject}")
    assert access["data"]["path"] == "/web/regulator" and access["data"]["reports"] == len(ids)

    both = WebClient(client.base)
    try:
        both.sign_in(oidc_issuer, new_subject("eu-us-regulator"), roles=[*EU, REGULATOR_PREFIX + "us"])
        page = both.get("/web/regulator").text
        assert eu["id"] in page and us["id"] in page
        assert set(re.findall(r'data-jurisdiction="([^"]+)"', page)) == {"EU", "US"}
    finally:
        both.close()


def test_the_report_page_checks_the_signature_the_digest_and_the_proof(
    regulator: tuple[WebClient, str], web_gateway: GatewayProcess, database_url: str
) -> None:
    client, subject = regulator
    report = issue(web_gateway, "EU")  # fresh: its proof may still be pending
    path = f"/web/regulator/reports/{report['id']}"
    first = client.get(path)
    assert first.status_code == 200, first.text
    jwks = httpx.get(web_gateway.url + "/regulator/v1/jwks.json", timeout=10).json()
    (kid,) = [k["kid"] for k in jwks["keys"]]
    signature = check(first.text, "signature")
    assert 'data-ok="true"' in signature and "valid" in signature and "NOT valid" not in signature
    assert f'<span class="mono" data-kid>{kid}</span>' in signature  # which key signed it
    digest = check(first.text, "digest")
    assert 'data-ok="true"' in digest and digest.count(report["sha256"]) == 2
    inclusion = check(first.text, "inclusion")
    if 'data-state="pending"' in inclusion:  # the checkpointer signs every 10 s: it may be in already
        assert "not yet in a signed checkpoint; check again in a few seconds" in inclusion
    else:
        assert 'data-state="verified"' in inclusion
    # The envelope, a readable summary, and how to check it elsewhere.
    assert report["issued_by"] in first.text and 'data-summary="usage"' in first.text
    assert re.search(r'data-figure="customers">\d+<', first.text)
    assert f"{web_gateway.url}/regulator/v1/jwks.json" in first.text
    assert f"{web_gateway.url}/regulator/v1/checkpoint" in first.text
    assert f"gateway reports verify report-{report['id']}-v1.json --jwks jwks.json" in first.text

    # A checkpoint now covers the entry: the page proves the inclusion against its signed root.
    assert gateway_cli(web_gateway, "audit", "checkpoint").returncode == 0
    deadline = time.monotonic() + 30
    while True:
        page = client.get(path)
        inclusion = check(page.text, "inclusion")
        if 'data-state="verified"' in inclusion or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert 'data-state="verified"' in inclusion, inclusion
    (seq,) = [
        r["audit_seq"]
        for r in sql(database_url, "select audit_seq from reports where id = $1", uuid.UUID(report["id"]))
    ]
    assert f"audit entry {seq} is included in kyc-gateway.local/audit" in inclusion
    assert 'class="verification all-good"' in page.text

    # The proof it offers checks with the log's public key alone.
    proof = client.get(path + "/proof.json")
    assert proof.status_code == 200
    bundle = proof.json()
    (vkey,) = json.loads(gateway_cli(web_gateway, "audit", "keys", "--json").stdout)["vkeys"]
    assert vkey in page.text
    signed = Checkpoint.parse(open_note(bundle["checkpoint"], [NoteVerifier.from_vkey(vkey)])[0])
    entry = base64.b64decode(bundle["entry_b64"])
    merkle.verify_inclusion(bundle["index"], signed.size, merkle.leaf_hash(entry),
                            [base64.b64decode(p) for p in bundle["proof"]], signed.root)  # fmt: skip
    assert json.loads(entry)["data"]["sha256"] == report["sha256"] and bundle["index"] == seq
    views = audited(database_url, "regulator.access", f"regulator:{subject}", expect=3)
    assert {v["data"]["report"] for v in views} == {report["id"]}


def test_each_download_is_the_report_with_its_digest_and_signature(
    regulator: tuple[WebClient, str],
    issued: dict[str, dict[str, Any]],
    web_gateway: GatewayProcess,
    database_url: str,
) -> None:
    client, subject = regulator
    report = issued["EU"]
    base = f"/web/regulator/reports/{report['id']}"
    ((body, jws),) = sql(database_url, "select body, jws from reports where id = $1", uuid.UUID(report["id"]))
    got = {name: client.get(f"{base}/{name}") for name in DOWNLOADS[:4]}
    for name, answer in got.items():
        assert answer.status_code == 200, (name, answer.text)
        assert (
            answer.headers["content-disposition"]
            == f'attachment; filename="report-{report["id"]}-v1.{name[7:]}"'
        )
        assert answer.headers["x-report-sha256"] == report["sha256"]
        assert answer.headers["x-report-signature"] == jws
    as_json = got["report.json"]
    assert as_json.content == bytes(body) and as_json.headers["content-type"].startswith("application/json")
    assert hashlib.sha256(as_json.content).hexdigest() == as_json.headers["x-report-sha256"]
    assert got["report.csv"].headers["content-type"].startswith("text/csv")
    assert got["report.csv"].content.startswith(
        b"envelope\r\nfield,value\r\nreport id," + report["id"].encode()
    )
    assert got["report.pdf"].headers["content-type"] == "application/pdf"
    assert got["report.pdf"].content.startswith(b"%PDF-")
    # As a regulator checks it elsewhere: the JSON and its JWS, with the public JWK Set.
    jwks = httpx.get(web_gateway.url + "/regulator/v1/jwks.json", timeout=10).json()
    verify_detached(as_json.content, got["report.json.jws"].text, jwks)
    with pytest.raises(ValueError):
        verify_detached(as_json.content + b" ", got["report.json.jws"].text, jwks)
    paths = [
        e["data"]["path"] for e in audited(database_url, "regulator.access", f"regulator:{subject}", expect=4)
    ]
    assert sorted(paths) == sorted(f"{base}/{name}" for name in DOWNLOADS[:4])


def test_a_tampered_report_is_shown_not_valid(
    regulator: tuple[WebClient, str],
    issued: dict[str, dict[str, Any]],
    web_gateway: GatewayProcess,
    database_url: str,
) -> None:
    client, _ = regulator
    # Two reports made for this test alone: one given another report's signature, one whose body
    # changed after signing (a space added: still JSON, no longer the signed bytes).
    swapped, edited = issue(web_gateway, "EU"), issue(web_gateway, "EU")
    sql(database_url, "update reports set jws = (select jws from reports where id = $2) where id = $1",
        uuid.UUID(swapped["id"]), uuid.UUID(issued["EU"]["id"]), tamper=True)  # fmt: skip
    sql(
        database_url,
        "update reports set body = body || ' '::bytea where id = $1",
        uuid.UUID(edited["id"]),
        tamper=True,
    )

    page = client.get(f"/web/regulator/reports/{swapped['id']}")
    assert page.status_code == 200, page.text
    signature = check(page.text, "signature")
    assert 'data-ok="false"' in signature and "NOT valid" in signature
    assert "does not verify with key" in signature and "do not rely on this report" in signature
    assert 'data-ok="true"' in check(page.text, "digest")  # the body itself is as logged
    assert 'class="verification not-good"' in page.text

    page = client.get(f"/web/regulator/reports/{edited['id']}")
    assert page.status_code == 200, page.text
    assert "NOT valid" in check(page.text, "signature")
    digest = check(page.text, "digest")
    assert 'data-ok="false"' in digest and "does NOT match" in digest
    ((body,),) = sql(database_url, "select body from reports where id = $1", uuid.UUID(edited["id"]))
    assert hashlib.sha256(bytes(body)).hexdigest() in digest and edited["sha256"] in digest


def test_another_jurisdictions_report_is_refused_and_audited_and_an_unknown_one_is_not_found(
    regulator: tuple[WebClient, str], issued: dict[str, dict[str, Any]], database_url: str
) -> None:
    client, subject = regulator
    us = issued["US"]["id"]
    for path in (f"/web/regulator/reports/{us}", f"/web/regulator/reports/{us}/report.json"):
        refused = client.get(path)
        assert refused.status_code == 403, path
        assert '<dd class="mono" data-error-code>jurisdiction_forbidden</dd>' in refused.text
        assert issued["US"]["sha256"] not in refused.text
    logged = audited(database_url, "regulator.refused", f"regulator:{subject}", expect=2)
    assert [(e["data"]["report"], e["data"]["jurisdiction"]) for e in logged] == [(us, "US")] * 2
    assert not audited(database_url, "regulator.access", f"regulator:{subject}", expect=0)

    unknown = uuid.uuid4()
    for path in (f"/web/regulator/reports/{unknown}", f"/web/regulator/reports/{unknown}/report.pdf"):
        missing = client.get(path)
        assert missing.status_code == 404 and "report_not_found" in missing.text, path


@pytest.mark.parametrize("roles", [[], [OPERATOR_ROLE], [REGULATOR_PREFIX + "not-a-code!"]])
def test_someone_without_a_regulator_role_gets_403_on_every_portal_path(
    browser_client: WebClient, oidc_issuer: TestIssuer, issued: dict[str, dict[str, Any]], roles: list[str]
) -> None:
    eu = issued["EU"]["id"]
    paths = ["/web/regulator", f"/web/regulator/reports/{eu}", f"/web/regulator/reports/{uuid.uuid4()}"]
    paths += [f"/web/regulator/reports/{eu}/{name}" for name in DOWNLOADS]
    for path in paths:  # signed out: sent to sign in, and back here afterwards
        assert browser_client.get(path).headers["location"].startswith("/web/login?next=/web/regulator")
    browser_client.sign_in(oidc_issuer, new_subject("customer"), roles=roles)
    assert 'href="/web/regulator"' not in browser_client.get("/web/").text
    for path in paths:
        refused = browser_client.get(path)
        assert refused.status_code == 403, path
        assert "role_required" in refused.text and issued["EU"]["sha256"] not in refused.text
