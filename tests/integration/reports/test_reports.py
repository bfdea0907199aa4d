"""Regulator reports on a real database: generated from a ledger filled by hand, issued with their
audit entry in one transaction, immutable, corrected by new versions, signed (JWS verified with the
JWK Set alone) and proven in the audit log (inclusion proof to a signed checkpoint)."""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import uuid

import asyncpg
import msgspec
import pytest

from gateway.audit import merkle
from gateway.audit.checkpoints import sign_checkpoint
from gateway.audit.entry import parse
from gateway.audit.jws import JwsError, verify_detached
from gateway.audit.keys import SigningKeys, new_key_spec
from gateway.audit.note import Checkpoint, NoteVerifier, open_note, parse_proof
from gateway.db.migrate import migrate
from gateway.reports import generate
from gateway.reports.model import ReportError, canonical, decode
from gateway.reports.repository import get_report, list_reports, proof_bundle

from .conftest import ISSUED, ORIGIN, SINCE, UNTIL, calls, customer, issuer, jobs_ended

DAY = dt.timedelta(days=1)


async def fill(conn: asyncpg.Connection, seed: int = 0) -> dict[str, uuid.UUID]:
    """Three customers (DE, FR, US) and a month of their calls and jobs, in an order ``seed`` shuffles."""
    ids = {
        "de": await customer(conn, "nimbus", "DE"),
        "fr": await customer(conn, "nuage", "FR"),
        "us": await customer(conn, "cloudco", "US"),
    }
    day = SINCE + DAY
    rows = [(ids["de"], day, 200, None, 1000, 250)] * 40 + [
        (ids["de"], day, 429, "budget_exhausted", 0, 0)
    ] * 3
    rows += [(ids["fr"], day, 403, "jurisdiction_denied", 0, 0)] * 2 + [
        (ids["us"], day, 200, None, 2**31 - 1, 7)
    ] * 5
    rows += [(ids["de"], SINCE - DAY, 200, None, 5, 5), (ids["de"], UNTIL, 200, None, 5, 5)]  # outside
    jobs = [
        (ids["de"], day, 3600.0, 1.0e20),
        (ids["de"], day + DAY, 1836.0, 2.5e19),
        (ids["us"], day, 7200.0, 1e21),
    ]
    rng = random.Random(seed)
    rng.shuffle(rows)
    rng.shuffle(jobs)
    for i in range(0, len(rows), 7):
        await calls(conn, rows[i : i + 7])
    await jobs_ended(conn, jobs)
    return ids


async def test_a_usage_report_from_the_ledger(db, keys) -> None:
    await fill(db)
    eu = await generate.usage_report(db, issuer(keys), jurisdiction="EU", since=SINCE, until=UNTIL)
    assert eu.customers.total == 2 and eu.customers.by_country == {"DE": 1, "FR": 1}
    assert eu.customers.by_kyc_status == {"pending": 2} and eu.customers.active == 2
    assert eu.compute.requests == 45 and eu.compute.prompt_tokens == "40000"
    assert eu.compute.completion_tokens == "10000"
    assert (eu.compute.cluster_jobs, eu.compute.gpu_hours) == (2, "1.51")  # 5436 s
    assert eu.compute.flop_settled == "125000000000000000000"
    assert eu.refusals.by_code == {"budget_exhausted": 3, "jurisdiction_denied": 2}
    home = await generate.usage_report(db, issuer(keys), jurisdiction="US", since=SINCE, until=UNTIL)
    assert home.customers.total == 3 and home.compute.requests == 50
    assert home.compute.prompt_tokens == str(40000 + 5 * (2**31 - 1))
    assert home.compute.flop_settled == "1125000000000000000000"
    de = await generate.usage_report(db, issuer(keys), jurisdiction="de", since=SINCE, until=UNTIL)
    assert de.jurisdiction.code == "DE" and de.compute.requests == 43
    with pytest.raises(ReportError, match="unknown jurisdiction"):
        await generate.usage_report(db, issuer(keys), jurisdiction="Atlantis", since=SINCE, until=UNTIL)


async def test_the_same_ledger_gives_the_same_bytes(db, keys, second_database_url) -> None:
    await fill(db, seed=1)
    first = canonical(
        await generate.usage_report(db, issuer(keys), jurisdiction="EU", since=SINCE, until=UNTIL)
    )
    again = canonical(await generate.usage_report(db, issuer(keys, ISSUED + DAY), jurisdiction="EU",
                                                  since=SINCE, until=UNTIL))  # fmt: skip
    assert again == first  # another time, another issuer clock: the same body
    # Another database, the same rows written in another order (and other random ids): the same bytes.
    other = await asyncpg.connect(second_database_url)
    try:
        await migrate(other)
        await fill(other, seed=2)
        body = canonical(await generate.usage_report(other, issuer(keys), jurisdiction="EU", since=SINCE,
                                                     until=UNTIL))  # fmt: skip
    finally:
        await other.close()
    assert body == first


async def test_issuing_signs_logs_and_stores_in_one_transaction(db, keys) -> None:
    await fill(db)
    report = await generate.issue_usage(db, issuer(keys), jurisdiction="EU", since=SINCE, until=UNTIL)
    assert (report.version, report.supersedes, report.kind, report.jurisdiction) == (1, None, "usage", "EU")
    assert (report.period_start, report.period_end, report.issued_at) == (SINCE, UNTIL, ISSUED)
    assert report.sha256 == hashlib.sha256(report.body).hexdigest()
    assert await get_report(db, report.id) == report
    assert await get_report(db, uuid.uuid4()) is None
    logged = parse(
        bytes(await db.fetchval("select entry from audit_entries where seq = $1", report.audit_seq))
    )
    assert (logged.kind, logged.actor, logged.subject) == (
        "report.issued",
        "test:reports",
        f"report:{report.id}",
    )
    assert logged.data == {
        "id": str(report.id), "version": 1, "kind": "usage", "jurisdiction": "EU",
        "period": {"start": "2026-11-01T00:00:00Z", "end": "2026-12-01T00:00:00Z"},
        "sha256": report.sha256, "supersedes": None,
    }  # fmt: skip
    # The JWS verifies with the JWK Set alone; not with another key, not over another body.
    assert verify_detached(report.body, report.jws, keys.jwks()) == keys.jws_kid
    with pytest.raises(JwsError):
        verify_detached(report.body, report.jws, SigningKeys.parse(ORIGIN, new_key_spec(1)).jwks())
    with pytest.raises(JwsError, match="does not verify"):
        verify_detached(report.body.replace(b'"EU"', b'"FR"'), report.jws, keys.jwks())
    # A second first version of the same period is refused: it must be a correction.
    with pytest.raises(ReportError, match="issue a correction"):
        await generate.issue_usage(db, issuer(keys), jurisdiction="EU", since=SINCE, until=UNTIL)
    # A failed issue leaves nothing behind: no report, no audit entry.
    assert await db.fetchval("select count(*) from reports") == 1
    assert await db.fetchval("select count(*) from audit_entries where kind = 'report.issued'") == 1


@pytest.mark.parametrize(
    "statement",
    ["update reports set issued_by = 'someone else'", "delete from reports", "truncate reports",
     "update reports set jurisdiction = 'FR' where false", "delete from reports where false"],
)  # fmt: skip
async def test_reports_are_immutable(db, keys, statement) -> None:
    await fill(db)
    await generate.issue_usage(db, issuer(keys), jurisdiction="US", since=SINCE, until=UNTIL)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="reports are immutable"):
        await db.execute(statement)
    assert await db.fetchval("select count(*) from reports") == 1


async def test_a_correction_is_a_new_version_of_the_same_report(db, keys) -> None:
    ids = await fill(db)
    first = await generate.issue_usage(db, issuer(keys), jurisdiction="EU", since=SINCE, until=UNTIL)
    with pytest.raises(ReportError, match="identical to version 1: nothing to correct"):
        await generate.correct(db, issuer(keys), first.id)
    await calls(db, [(ids["fr"], SINCE + 2 * DAY, 200, None, 11, 13)])  # a late event of the period
    second = await generate.correct(db, issuer(keys, ISSUED + DAY), first.id)
    assert (second.version, second.supersedes) == (2, first.id)
    assert (second.kind, second.jurisdiction, second.period_start, second.period_end) == (
        first.kind, first.jurisdiction, first.period_start, first.period_end)  # fmt: skip
    assert decode("usage", second.body).compute.requests == 46  # type: ignore[union-attr]
    logged = parse(
        bytes(await db.fetchval("select entry from audit_entries where seq = $1", second.audit_seq))
    )
    assert logged.data["supersedes"] == str(first.id) and logged.data["version"] == 2
    await calls(db, [(ids["fr"], SINCE + 2 * DAY, 200, None, 1, 1)])
    with pytest.raises(ReportError, match="superseded by"):
        await generate.correct(db, issuer(keys), first.id)
    third = await generate.correct(db, issuer(keys), second.id)
    assert (third.version, third.supersedes) == (3, second.id)
    with pytest.raises(ReportError, match="no report with id"):
        await generate.correct(db, issuer(keys), uuid.uuid4())
    assert [r.version for r in await list_reports(db)] == [3, 2, 1]  # newest first
    assert await list_reports(db, jurisdiction="US") == []


async def test_the_proof_bundle_verifies_against_a_signed_checkpoint(db, keys) -> None:
    await fill(db)
    report = await generate.issue_usage(db, issuer(keys), jurisdiction="EU", since=SINCE, until=UNTIL)
    assert await proof_bundle(db, report) is None  # no checkpoint yet
    await sign_checkpoint(db, keys, now=ISSUED.timestamp() + 10)
    later = await generate.issue_usage(db, issuer(keys), jurisdiction="US", since=SINCE, until=UNTIL)
    assert await proof_bundle(db, later) is None  # not covered by that checkpoint yet
    bundle = await proof_bundle(db, report)
    assert bundle is not None
    # A regulator's check, with the log's public key only:
    text, _ = open_note(bundle["checkpoint"], [NoteVerifier.from_vkey(keys.vkeys()[0])])
    checkpoint = Checkpoint.parse(text)
    raw = msgspec.json.decode(msgspec.json.encode(bundle["entry_b64"]))
    import base64

    entry = base64.b64decode(raw)
    assert parse(entry).data["sha256"] == hashlib.sha256(report.body).hexdigest()
    assert parse(entry).data["id"] == str(report.id)
    proof = [base64.b64decode(p) for p in bundle["proof"]]
    merkle.verify_inclusion(bundle["index"], checkpoint.size, merkle.leaf_hash(entry), proof, checkpoint.root)
    index, tlog_proof, note, _ = parse_proof(bundle["tlog_proof"])
    assert (index, tlog_proof, note) == (report.audit_seq, proof, bundle["checkpoint"])
    with pytest.raises(merkle.ProofError):
        merkle.verify_inclusion(bundle["index"], checkpoint.size, merkle.leaf_hash(entry + b" "), proof,
                                checkpoint.root)  # fmt: skip
    await sign_checkpoint(db, keys, now=ISSUED.timestamp() + 20)
    assert await proof_bundle(db, later) is not None
