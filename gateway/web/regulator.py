"""The regulator portal (``/web/regulator``): the reports addressed to the signed-in regulator's
jurisdictions, each downloadable in every format, with its signature and its audit-log proof
checked on the server at view time and the result shown plainly.

A regulator is anyone whose ID token carries ``<web_regulator_role_prefix><JURISDICTION>`` roles
(``party.roles.jurisdictions``). The rules are the regulator API's (``/regulator/v1``), served from
the same report store (:mod:`gateway.reports.repository`): another jurisdiction's report answers
403 ``jurisdiction_forbidden`` and the refusal is audited (``regulator.refused``); an unknown id
404 ``report_not_found``; every view and download is audited (``regulator.access``), under the
actor ``regulator:<subject>`` as the API writes it.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any

import msgspec
from litestar import Response, get

from ..audit import merkle
from ..audit.entry import entry as audit_entry
from ..errors import Forbidden, NotFoundInStore
from ..reports.exports import Section, download_headers, sections, to_csv, to_pdf
from ..reports.model import ReportError, decode
from ..reports.repository import StoredReport, get_report, list_reports, proof_bundle
from ..reports.verify import InclusionCheck, ReportCheck, check_digest, check_inclusion, check_signature
from .common import SECURITY_HEADERS, AnyRequest, Party, page, require, runtime, services

__all__ = ["regulator_routes"]

_BASE = "/web/regulator"


def _actor(party: Party) -> str:
    # The API's actor for a regulator, whatever other roles the person holds (an operator who is
    # also a regulator reads reports as a regulator).
    return f"regulator:{party.subject}"


def _record(request: AnyRequest, party: Party, kind: str, **data: Any) -> None:
    data = {"method": request.method, "path": request.url.path, "session": party.session.id, **data}
    services(request).audit.record(
        audit_entry(kind, actor=_actor(party), at=dt.datetime.now(dt.UTC), data=data)
    )


def _readable_by(party: Party, report: StoredReport) -> bool:
    return report.jurisdiction.upper() in party.roles.jurisdictions


async def _report(request: AnyRequest, report_id: uuid.UUID) -> tuple[Party, StoredReport]:
    """The report, if this regulator may read it: the access is audited, and so is a refusal."""
    party = await require(request, "regulator")
    async with services(request).pool.acquire() as conn:
        report = await get_report(conn, report_id)
    if report is None:
        raise NotFoundInStore(f"no report {report_id}", code="report_not_found")
    if not _readable_by(party, report):
        _record(request, party, "regulator.refused", report=str(report_id), jurisdiction=report.jurisdiction)
        raise Forbidden(
            f"report {report_id} is addressed to {report.jurisdiction}; your roles allow"
            f" {', '.join(sorted(party.roles.jurisdictions))}",
            code="jurisdiction_forbidden",
        )
    _record(request, party, "regulator.access", report=str(report_id))
    return party, report


@get(_BASE, include_in_schema=False)
async def reports_page(request: AnyRequest) -> Response[str]:
    party = await require(request, "regulator")
    async with services(request).pool.acquire() as conn:
        found = [r for r in await list_reports(conn) if _readable_by(party, r)]
    _record(request, party, "regulator.access", reports=len(found))
    return page("regulator/reports.html", request, party, reports=found, utc=dt.UTC)


async def _verify(request: AnyRequest, report: StoredReport) -> ReportCheck:
    """The three checks, done now with the published keys (see :mod:`gateway.reports.verify`)."""
    svc = services(request)
    keys = svc.checkpointer.keys
    inclusion: InclusionCheck
    async with svc.pool.acquire() as conn:
        try:
            bundle = await proof_bundle(conn, report)
        except merkle.ProofError as exc:  # the log's own tree does not prove it: say so, don't fail
            inclusion = InclusionCheck(state="failed", message=f"the audit log cannot prove the entry: {exc}")
        else:
            inclusion = check_inclusion(str(report.id), report.sha256, bundle, keys.vkeys())
    return ReportCheck(
        signature=check_signature(report.body, report.jws, keys.jwks()),
        digest=check_digest(report.body, report.sha256),
        inclusion=inclusion,
    )


def _content(report: StoredReport) -> tuple[Any, list[Section], str | None]:
    """The body read back into its struct and laid out as the CSV and PDF lay it out; or why not."""
    try:
        content = decode(report.kind, report.body)
    except (ReportError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        return None, [], f"the report's body cannot be read as a {report.kind} report: {exc}"
    return content, sections(content), None


@get(f"{_BASE}/reports/{{report_id:uuid}}", include_in_schema=False)
async def report_page(request: AnyRequest, report_id: uuid.UUID) -> Response[str]:
    party, report = await _report(request, report_id)
    check = await _verify(request, report)
    content, tables, unreadable = _content(report)
    keys = services(request).checkpointer.keys
    base = (runtime(request).settings.web_public_url or "").rstrip("/")
    return page(
        "regulator/report.html",
        request,
        party,
        report=report,
        check=check,
        content=content,
        tables=tables,
        unreadable=unreadable,
        vkeys=keys.vkeys(),
        jwks_url=f"{base}/regulator/v1/jwks.json",
        checkpoint_url=f"{base}/regulator/v1/checkpoint",
        proof_api_url=f"{base}/regulator/v1/reports/{report.id}/proof",
        file_stem=_stem(report),
        utc=dt.UTC,
        magnitude=_magnitude,
    )


def _magnitude(text: str) -> tuple[str, int] | None:
    """A large decimal string (FLOP) as ``(mantissa, exponent)`` for reading, 3 significant digits;
    None when it is small enough to read as it is (the exact figure is shown beside it)."""
    try:
        value = decimal.Decimal(text)
    except decimal.InvalidOperation:
        return None
    if not value.is_finite() or abs(value) < 1_000_000:
        return None
    mantissa, _, exponent = f"{value:.2e}".partition("e")
    return mantissa.rstrip("0").rstrip("."), int(exponent)


def _stem(report: StoredReport) -> str:
    return f"report-{report.id}-v{report.version}"


def _download(body: bytes, media_type: str, report: StoredReport, name: str) -> Response[bytes]:
    """A file with the API's headers: the body's digest and its detached signature."""
    return Response(
        body, media_type=media_type, headers={**SECURITY_HEADERS, **download_headers(report, name)}
    )


@get(f"{_BASE}/reports/{{report_id:uuid}}/report.json", include_in_schema=False)
async def report_json(request: AnyRequest, report_id: uuid.UUID) -> Response[bytes]:
    """The canonical JSON: the exact bytes the signature, the digest and the audit entry are over."""
    _, report = await _report(request, report_id)
    return _download(report.body, "application/json", report, f"{_stem(report)}.json")


@get(f"{_BASE}/reports/{{report_id:uuid}}/report.json.jws", include_in_schema=False)
async def report_jws(request: AnyRequest, report_id: uuid.UUID) -> Response[bytes]:
    """The detached JWS alone, named as ``gateway reports verify`` looks for it beside the JSON."""
    _, report = await _report(request, report_id)
    return _download((report.jws + "\n").encode(), "application/jose", report, f"{_stem(report)}.json.jws")


@get(f"{_BASE}/reports/{{report_id:uuid}}/report.csv", include_in_schema=False)
async def report_csv(request: AnyRequest, report_id: uuid.UUID) -> Response[bytes]:
    _, report = await _report(request, report_id)
    return _download(to_csv(report), "text/csv", report, f"{_stem(report)}.csv")


@get(f"{_BASE}/reports/{{report_id:uuid}}/report.pdf", include_in_schema=False)
async def report_pdf(request: AnyRequest, report_id: uuid.UUID) -> Response[bytes]:
    _, report = await _report(request, report_id)
    return _download(to_pdf(report), "application/pdf", report, f"{_stem(report)}.pdf")


@get(f"{_BASE}/reports/{{report_id:uuid}}/proof.json", include_in_schema=False)
async def report_proof(request: AnyRequest, report_id: uuid.UUID) -> Response[bytes]:
    """The proof bundle the API serves (entry, inclusion proof, signed checkpoint, tlog-proof)."""
    _, report = await _report(request, report_id)
    async with services(request).pool.acquire() as conn:
        bundle = await proof_bundle(conn, report)
    if bundle is None:
        raise NotFoundInStore(
            "the report's issuance is not in a signed checkpoint yet; check again in a few seconds",
            code="not_checkpointed",
        )
    raw = msgspec.json.format(msgspec.json.encode(bundle), indent=1) + b"\n"
    return _download(raw, "application/json", report, f"{_stem(report)}.proof.json")


regulator_routes = [reports_page, report_page, report_json, report_jws, report_csv, report_pdf, report_proof]
