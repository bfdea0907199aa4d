"""The regulator API (``/regulator/v1``): regulators read the reports addressed to them, with the
proofs and keys to check them.

A regulator authenticates with an OAuth 2.0 access token from the configured ``regulator_issuer``
(the client-credentials grant: a client per regulator), validated with authlib against the issuer's
keys, for ``regulator_audience``. Its scopes ``reports:<JURISDICTION>`` (``reports:EU``) say which
jurisdictions' reports it may list and download; any other report answers 403 (and a report that
does not exist, 404). Every access, and every refusal, is an audit-log entry under the token's
subject. The log's checkpoint and the signing keys (JWKS) are public: they prove, they reveal nothing.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from typing import Any

import msgspec
from litestar import Response, get

from ..audit import log
from ..audit.entry import entry as audit_entry
from ..auth import Claims
from ..errors import BadRequest, Forbidden, NotFoundInStore, Unauthorized
from ..reports.exports import download_headers, to_csv, to_pdf
from ..reports.repository import StoredReport, get_report, list_reports, proof_bundle
from ..runtime import Services
from .common import AnyRequest, bearer, services_of
from .openapi import error_responses, ops_api, regulator_api

_BASE = "/regulator/v1"
SCOPE_PREFIX = "reports:"


class ReportSummary(msgspec.Struct, frozen=True):
    id: uuid.UUID
    version: int
    supersedes: uuid.UUID | None
    kind: str
    jurisdiction: str
    period_start: dt.datetime
    period_end: dt.datetime
    issued_at: dt.datetime
    sha256: str
    jws: str
    """The detached JWS (EdDSA) over the report's JSON bytes: verify it with ``/regulator/v1/jwks.json``."""


class _Regulator:
    """Who is asking, and what it may read."""

    def __init__(self, services: Services, claims: Claims, request: AnyRequest) -> None:
        self.services = services
        self.claims = claims
        self.request = request
        self.jurisdictions = frozenset(
            s[len(SCOPE_PREFIX) :].upper() for s in claims.scopes if s.startswith(SCOPE_PREFIX)
        )

    @property
    def actor(self) -> str:
        return f"regulator:{self.claims.subject}"

    def record(self, kind: str, **data: Any) -> None:
        data = {"method": self.request.scope["method"], "path": self.request.scope["path"], **data}
        self.services.audit.record(audit_entry(kind, actor=self.actor, at=dt.datetime.now(dt.UTC), data=data))

    def readable(self, report: StoredReport | None, report_id: uuid.UUID) -> StoredReport:
        if report is None:
            raise NotFoundInStore(f"no report {report_id}", code="report_not_found")
        if report.jurisdiction.upper() not in self.jurisdictions:
            self.record("regulator.refused", report=str(report_id), jurisdiction=report.jurisdiction)
            raise Forbidden(
                f"report {report_id} is addressed to {report.jurisdiction}; your token's scopes allow"
                f" {', '.join(sorted(self.jurisdictions))}",
                code="jurisdiction_forbidden",
            )
        return report


async def _regulator(request: AnyRequest) -> _Regulator:
    services = services_of(request)
    validator = services.regulator_oidc
    if validator is None:
        raise Forbidden("the regulator API is disabled: set regulator_issuer", code="regulator_api_disabled")
    token = bearer(request)
    if token is None:
        raise Unauthorized("send an access token as 'Authorization: Bearer <token>'", code="missing_token")
    regulator = _Regulator(services, await validator.validate(token), request)
    if not regulator.jurisdictions:
        regulator.record("regulator.refused", reason="no reports scope")
        raise Forbidden(f"the token grants no {SCOPE_PREFIX}<JURISDICTION> scope", code="insufficient_scope")
    return regulator


def _summary(report: StoredReport) -> ReportSummary:
    return ReportSummary(
        report.id, report.version, report.supersedes, report.kind, report.jurisdiction, report.period_start,
        report.period_end, report.issued_at, report.sha256, report.jws,
    )  # fmt: skip


@get(f"{_BASE}/reports", **regulator_api())
async def reports(request: AnyRequest) -> list[ReportSummary]:
    """The reports addressed to the token's jurisdictions, newest first."""
    regulator = await _regulator(request)
    async with regulator.services.pool.acquire() as conn:
        found = [r for r in await list_reports(conn) if r.jurisdiction.upper() in regulator.jurisdictions]
    regulator.record("regulator.access", reports=len(found))
    return [_summary(r) for r in found]


async def _one(request: AnyRequest, report_id: uuid.UUID) -> tuple[_Regulator, StoredReport]:
    regulator = await _regulator(request)
    async with regulator.services.pool.acquire() as conn:
        report = regulator.readable(await get_report(conn, report_id), report_id)
    regulator.record("regulator.access", report=str(report_id))
    return regulator, report


@get(f"{_BASE}/reports/{{report_id:uuid}}", **regulator_api(404))
async def report(request: AnyRequest, report_id: uuid.UUID) -> ReportSummary:
    """One report's envelope: version, period, digest and signature."""
    return _summary((await _one(request, report_id))[1])


def _download(body: bytes, media_type: str, report: StoredReport, name: str) -> Response[bytes]:
    return Response(body, media_type=media_type, headers=download_headers(report, name))


@get(f"{_BASE}/reports/{{report_id:uuid}}/report.json", **regulator_api(404))
async def report_json(request: AnyRequest, report_id: uuid.UUID) -> Response[bytes]:
    """The report's canonical JSON (RFC 8785): the bytes its JWS signs."""
    _, found = await _one(request, report_id)
    return _download(found.body, "application/json", found, f"report-{report_id}-v{found.version}.json")


@get(f"{_BASE}/reports/{{report_id:uuid}}/report.csv", **regulator_api(404))
async def report_csv(request: AnyRequest, report_id: uuid.UUID) -> Response[bytes]:
    _, found = await _one(request, report_id)
    return _download(to_csv(found), "text/csv", found, f"report-{report_id}-v{found.version}.csv")


@get(f"{_BASE}/reports/{{report_id:uuid}}/report.pdf", **regulator_api(404))
async def report_pdf(request: AnyRequest, report_id: uuid.UUID) -> Response[bytes]:
    _, found = await _one(request, report_id)
    return _download(to_pdf(found), "application/pdf", found, f"report-{report_id}-v{found.version}.pdf")


@get(f"{_BASE}/reports/{{report_id:uuid}}/proof", **regulator_api(404))
async def report_proof(request: AnyRequest, report_id: uuid.UUID) -> dict[str, Any]:
    """The report's issuance in the audit log: the entry, its inclusion proof and the signed
    checkpoint it is proven against (404 ``not_checkpointed`` until the next checkpoint)."""
    regulator, found = await _one(request, report_id)
    async with regulator.services.pool.acquire() as conn:
        bundle = await proof_bundle(conn, found)
    if bundle is None:
        raise NotFoundInStore(
            "the report's issuance is not in a signed checkpoint yet; ask again in a few seconds",
            code="not_checkpointed",
        )
    return bundle


@get(f"{_BASE}/jwks.json", **ops_api())
async def jwks(request: AnyRequest) -> dict[str, Any]:
    """The keys reports and checkpoints are signed with (JWKS, Ed25519)."""
    return services_of(request).checkpointer.keys.jwks()


@get(f"{_BASE}/checkpoint", **ops_api(), media_type="text/plain; charset=utf-8")
async def checkpoint(request: AnyRequest) -> str:
    """The audit log's latest signed checkpoint (C2SP tlog-checkpoint note)."""
    async with services_of(request).pool.acquire() as conn:
        latest = await log.latest_checkpoint(conn)
    if latest is None:
        raise NotFoundInStore("the audit log has no signed checkpoint yet", code="not_checkpointed")
    return latest.note


@get(f"{_BASE}/consistency", **ops_api(), responses=error_responses(400))
async def consistency(request: AnyRequest, old: int, new: int) -> dict[str, Any]:
    """RFC 9162 consistency proof between two tree sizes of the audit log (e.g. two checkpoints a
    regulator or witness holds): that the larger tree extends the smaller one, entries unchanged."""
    async with services_of(request).pool.acquire() as conn:
        size = (await log.head(conn)).size
        if not 0 <= old <= new <= size:
            raise BadRequest(f"need 0 <= old <= new <= {size} (the log's size)", code="invalid_request")
        proof = await log.consistency_proof(conn, old, new)
    return {"old": old, "new": new, "proof": [base64.b64encode(p).decode() for p in proof]}


regulator_routes = [
    reports, report, report_json, report_csv, report_pdf, report_proof, jwks, checkpoint, consistency,
]  # fmt: skip
