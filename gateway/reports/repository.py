"""Stored reports: issuing one (the row and its audit entry in one transaction), reading them back,
and the proof that a report was logged.

This is the contract the regulator API serves reports through: :class:`StoredReport`,
:func:`list_reports`, :func:`get_report` and :func:`proof_bundle` (and, in :mod:`.exports`,
``to_csv`` and ``to_pdf``). A row is never changed (``sql/012_reports.sql`` refuses it); a
correction is a new version that names the one it supersedes.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import uuid
from typing import Any

import asyncpg
import msgspec

from ..audit import log, merkle
from ..audit.entry import entry
from ..audit.keys import SigningKeys
from ..audit.note import format_proof
from .model import ReportError, rfc3339

PROOF_FORMAT = "gateway-report-proof/v1"
ISSUED = "report.issued"


class StoredReport(msgspec.Struct, frozen=True):
    """A report as issued: the envelope (id, version, issue time, issuer, signature, audit entry)
    around the body (canonical JSON, the signed and hashed bytes)."""

    id: uuid.UUID
    version: int
    supersedes: uuid.UUID | None
    kind: str
    jurisdiction: str
    period_start: dt.datetime
    period_end: dt.datetime
    issued_at: dt.datetime
    issued_by: str
    body: bytes
    sha256: str
    jws: str
    audit_seq: int


_COLUMNS = (
    "id, version, supersedes, kind, jurisdiction, period_start, period_end, issued_at, issued_by,"
    " body, sha256, jws, audit_seq"
)


def _stored(row: asyncpg.Record) -> StoredReport:
    return StoredReport(**{**dict(row), "body": bytes(row["body"])})


async def list_reports(conn: asyncpg.Connection, *, jurisdiction: str | None = None) -> list[StoredReport]:
    """Every report (every version), newest first (in the order they were logged); optionally one
    jurisdiction's."""
    rows = await conn.fetch(
        f"select {_COLUMNS} from reports where ($1::text is null or jurisdiction = $1)"  # noqa: S608
        " order by audit_seq desc",
        jurisdiction,
    )
    return [_stored(r) for r in rows]


async def get_report(conn: asyncpg.Connection, report_id: uuid.UUID) -> StoredReport | None:
    row = await conn.fetchrow(f"select {_COLUMNS} from reports where id = $1", report_id)  # noqa: S608
    return None if row is None else _stored(row)


async def latest_version(conn: asyncpg.Connection, report_id: uuid.UUID) -> StoredReport | None:
    """The newest version of the report chain ``report_id`` belongs to."""
    row = await conn.fetchrow(
        f"""
        with recursive chain as (
            select {_COLUMNS} from reports where id = $1
            union all
            select r.id, r.version, r.supersedes, r.kind, r.jurisdiction, r.period_start, r.period_end,
                   r.issued_at, r.issued_by, r.body, r.sha256, r.jws, r.audit_seq
            from reports r join chain c on r.supersedes = c.id
        )
        select * from chain order by version desc limit 1
        """,  # noqa: S608 - column names are ours
        report_id,
    )
    return None if row is None else _stored(row)


async def bodies(conn: asyncpg.Connection, kind: str) -> list[tuple[uuid.UUID, bytes]]:
    """Every body of one kind, oldest first (what a generator compares against to skip repeats)."""
    rows = await conn.fetch("select id, body from reports where kind = $1 order by audit_seq", kind)
    return [(r[0], bytes(r[1])) for r in rows]


def _issued_entry(report: StoredReport) -> dict[str, Any]:
    return {
        "id": str(report.id),
        "version": report.version,
        "kind": report.kind,
        "jurisdiction": report.jurisdiction,
        "period": {"start": rfc3339(report.period_start), "end": rfc3339(report.period_end)},
        "sha256": report.sha256,
        "supersedes": None if report.supersedes is None else str(report.supersedes),
    }


async def issue(
    conn: asyncpg.Connection,
    keys: SigningKeys,
    *,
    kind: str,
    jurisdiction: str,
    period_start: dt.datetime,
    period_end: dt.datetime,
    body: bytes,
    actor: str,
    issued_at: dt.datetime,
    supersedes: StoredReport | None = None,
    report_id: uuid.UUID | None = None,
) -> StoredReport:
    """Sign ``body``, log ``report.issued`` and store the report, in one transaction.

    ``supersedes``: the version this one corrects (it must be the newest of its chain, of the same
    kind, jurisdiction and period). A usage report of a jurisdiction and period that has one
    already is refused: issue a correction instead.
    """
    if supersedes is not None and (
        supersedes.kind,
        supersedes.jurisdiction,
        supersedes.period_start,
        supersedes.period_end,
    ) != (kind, jurisdiction, period_start, period_end):
        raise ReportError("a correction has the kind, jurisdiction and period of the report it corrects")
    digest = hashlib.sha256(body).hexdigest()
    report = StoredReport(
        id=report_id or uuid.uuid4(),
        version=1 if supersedes is None else supersedes.version + 1,
        supersedes=None if supersedes is None else supersedes.id,
        kind=kind,
        jurisdiction=jurisdiction,
        period_start=period_start,
        period_end=period_end,
        issued_at=issued_at,
        issued_by=actor,
        body=body,
        sha256=digest,
        jws=keys.sign_jws(body),
        audit_seq=-1,
    )
    logged = entry(
        ISSUED, actor=actor, at=issued_at, subject=f"report:{report.id}", data=_issued_entry(report)
    )
    try:
        async with conn.transaction():
            if kind == "usage" and supersedes is None:
                taken = await conn.fetchval(
                    "select id from reports where kind = 'usage' and version = 1 and jurisdiction = $1"
                    " and period_start = $2 and period_end = $3",
                    jurisdiction,
                    period_start,
                    period_end,
                )
                if taken is not None:
                    raise ReportError(
                        f"a usage report of {jurisdiction} for this period exists ({taken}):"
                        " issue a correction of it (--correct) instead"
                    )
            (seq,) = await log.append(conn, [logged])
            report = msgspec.structs.replace(report, audit_seq=seq)
            await conn.execute(
                f"insert into reports ({_COLUMNS})"  # noqa: S608 - column names are ours
                " values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                *(getattr(report, f) for f in StoredReport.__struct_fields__),
            )
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == "reports_supersedes_key":
            raise ReportError(
                f"version {supersedes.version if supersedes else '?'} of report"
                f" {supersedes.id if supersedes else '?'} is already corrected: correct its newest version"
            ) from None
        if exc.constraint_name == "reports_usage_period":
            raise ReportError(
                f"a usage report of {jurisdiction} for this period exists: issue a correction instead"
            ) from None
        raise
    return report


async def proof_bundle(conn: asyncpg.Connection, report: StoredReport) -> dict[str, Any] | None:
    """What proves the report was logged: the latest signed checkpoint, the ``report.issued``
    entry's index and exact bytes, and its inclusion proof to that checkpoint (also as one C2SP
    tlog-proof text). None while no checkpoint covers the entry yet (checkpoints are signed every
    ``audit_checkpoint_seconds``): ask again shortly.

    To check it (with the log's public key only): the checkpoint note verifies; the entry's
    ``data.sha256`` is SHA-256 of the report's body (and its ``data.id`` the report's id);
    ``SHA-256(0x00 || entry)`` is included at ``index`` in the checkpoint's tree (RFC 9162
    §2.1.3.2).
    """
    checkpoint = await log.latest_checkpoint(conn)
    if checkpoint is None or report.audit_seq >= checkpoint.size:
        return None
    (logged,) = await log.entries(conn, report.audit_seq, report.audit_seq + 1)
    proof = await log.inclusion_proof(conn, report.audit_seq, checkpoint.size)
    merkle.verify_inclusion(
        report.audit_seq, checkpoint.size, merkle.leaf_hash(logged.entry), proof, checkpoint.root
    )
    return {
        "format": PROOF_FORMAT,
        "report": str(report.id),
        "version": report.version,
        "sha256": report.sha256,
        "checkpoint": checkpoint.note,
        "size": checkpoint.size,
        "index": report.audit_seq,
        "entry": msgspec.json.decode(logged.entry),
        "entry_b64": base64.b64encode(logged.entry).decode(),
        "proof": [base64.b64encode(p).decode() for p in proof],
        "tlog_proof": format_proof(report.audit_seq, proof, checkpoint.note),
    }
