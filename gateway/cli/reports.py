"""``gateway reports generate|list|show|export|proof|schema|verify``: signed regulator reports.

``generate`` reads the ledger, builds the report, signs it with the audit key and logs it (one
transaction); ``--correct`` issues the next version of a report. ``export`` writes JSON (the signed
body), CSV or PDF beside the detached JWS (``FILE.jws``); ``verify`` checks an exported JSON with
its ``.jws`` and the provider's JWK Set alone, as a regulator would (no database).
"""

from __future__ import annotations

import argparse
import sys
import uuid
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from ..reports.model import KINDS, ReportError, decode
from .common import AddCommand, CliError, cli_actor, instant, print_json, print_table, settings_of, with_db

if TYPE_CHECKING:
    import asyncpg

    from ..reports.repository import StoredReport


def _report_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a report id (a UUID)") from None


class _Bar:
    """A progress bar on standard error, drawn only on a terminal (output stays clean in pipes)."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()

    def __call__(self, done: int, total: int, what: str) -> None:
        if not self.tty:
            return
        width = 30
        filled = width * done // max(total, 1)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {what[:40]:<40}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _line(report: StoredReport) -> str:
    start, end = report.period_start.date().isoformat(), report.period_end.date().isoformat()
    corrects = f", corrects {report.supersedes}" if report.supersedes else ""
    return (
        f"issued {report.kind} report {report.id} v{report.version} ({report.jurisdiction},"
        f" {start}..{end}{corrects}): sha256 {report.sha256}, audit entry {report.audit_seq}"
    )


def cmd_reports_generate(args: argparse.Namespace) -> None:
    from ..reports.generate import Issuer, correct, issue_large_training, issue_usage, summary

    issuer = Issuer.from_settings(settings_of(args), cli_actor())
    bar = _Bar()
    if args.correct is None and args.kind is None:
        raise CliError("give --kind (usage or large_training), or --correct REPORT_ID")
    if args.correct is not None and args.kind is not None:
        raise CliError("--correct regenerates the report it names: give no --kind with it")
    if args.kind == "usage" and (args.jurisdiction is None or args.since is None or args.until is None):
        raise CliError("a usage report needs --jurisdiction, --since and --until")
    if args.kind == "large_training" and args.since is not None:
        raise CliError("a large-training report is evaluated at --until (default: now); --since is not used")

    async def work(conn: asyncpg.Connection) -> list[StoredReport]:
        if args.correct is not None:
            return [await correct(conn, issuer, args.correct, progress=bar)]
        if args.kind == "usage":
            return [
                await issue_usage(
                    conn,
                    issuer,
                    jurisdiction=args.jurisdiction,
                    since=args.since,
                    until=args.until,
                    progress=bar,
                )
            ]
        at = args.until or issuer.clock()
        return await issue_large_training(conn, issuer, at=at, jurisdiction=args.jurisdiction, progress=bar)

    try:
        issued = with_db(args, work)
    except ReportError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print_json([summary(r) for r in issued])
    elif not issued:
        print("no report due: every qualifying flag has been reported")
    for report in [] if args.json else issued:
        print(_line(report))


def cmd_reports_list(args: argparse.Namespace) -> None:
    from ..reports.generate import summary
    from ..reports.repository import list_reports

    async def work(conn: asyncpg.Connection) -> list[StoredReport]:
        return await list_reports(conn, jurisdiction=args.jurisdiction.upper() if args.jurisdiction else None)

    reports = with_db(args, work)
    found = [summary(r) for r in reports]
    if args.json:
        print_json(found)
        return
    for row, report in zip(found, reports, strict=True):
        row["period"] = f"{report.period_start.date()}..{report.period_end.date()}"
    print_table(found, ["id", "version", "kind", "jurisdiction", "period", "issued_at", "issued_by"])


async def _get(conn: asyncpg.Connection, report_id: uuid.UUID) -> StoredReport:
    from ..reports.repository import get_report

    found = await get_report(conn, report_id)
    if found is None:
        raise CliError(f"no report with id {report_id}")
    return found


def cmd_reports_show(args: argparse.Namespace) -> None:
    from ..reports.generate import summary
    from ..reports.repository import proof_bundle

    async def work(conn: asyncpg.Connection) -> tuple[StoredReport, dict[str, Any] | None]:
        report = await _get(conn, args.report_id)
        return report, await proof_bundle(conn, report)

    report, proof = with_db(args, work)
    body = msgspec.json.decode(report.body)
    if args.json:
        print_json({**summary(report), "jws": report.jws, "body": body, "proof": proof})
        return
    for key, value in summary(report).items():
        print(f"{key}: {'' if value is None else value}")
    print(f"jws: {report.jws}")
    print(f"proof: {'in checkpoint of size ' + str(proof['size']) if proof else 'not yet checkpointed'}")
    sys.stdout.write(msgspec.json.format(report.body, indent=2).decode() + "\n")


_FORMATS = ("csv", "json", "pdf")


def cmd_reports_export(args: argparse.Namespace) -> None:
    from ..reports.exports import to_csv, to_json, to_pdf

    exports = {"json": to_json, "csv": to_csv, "pdf": to_pdf}
    report = with_db(args, lambda conn: _get(conn, args.report_id))
    out = Path(args.out)
    out.write_bytes(exports[args.format](report))
    signature = out.with_name(out.name + ".jws")
    signature.write_text(report.jws + "\n")
    result = {"out": str(out), "jws": str(signature), "sha256": report.sha256, "format": args.format}
    if args.json:
        print_json(result)
    else:
        print(f"wrote {out} and {signature} (the JWS is over the JSON body, sha256 {report.sha256})")


def cmd_reports_proof(args: argparse.Namespace) -> None:
    from ..reports.repository import proof_bundle

    async def work(conn: asyncpg.Connection) -> dict[str, Any] | None:
        return await proof_bundle(conn, await _get(conn, args.report_id))

    bundle = with_db(args, work)
    if bundle is None:
        raise CliError("not yet checkpointed: the audit log's next checkpoint will cover it (try again)")
    raw = msgspec.json.format(msgspec.json.encode(bundle), indent=1) + b"\n"
    if args.out:
        Path(args.out).write_bytes(raw)
        print(f"proof written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(raw)


def schema_file(kind: str) -> str:
    """The published JSON Schema of a kind (``gateway/reports/schemas/<kind>.schema.json``)."""
    return (resources.files("gateway.reports") / "schemas" / f"{kind}.schema.json").read_text()


def cmd_reports_schema(args: argparse.Namespace) -> None:
    sys.stdout.write(schema_file(args.kind))


def cmd_reports_verify(args: argparse.Namespace) -> None:
    from ..audit.jws import JwsError, verify_detached

    body_path = Path(args.file)
    jws_path = Path(args.jws) if args.jws else body_path.with_name(body_path.name + ".jws")
    try:
        body = body_path.read_bytes()
        jws = jws_path.read_text().strip()
        jwks = msgspec.json.decode(Path(args.jwks).read_bytes())
        if isinstance(jwks, dict) and "jwks" in jwks:  # the whole output of `gateway audit keys --json`
            jwks = jwks["jwks"]
        kid = verify_detached(body, jws, jwks)
        report = msgspec.json.decode(body)
        decode(str(report.get("kind")), body)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise CliError(f"cannot read the report: {exc}") from None
    except (JwsError, ReportError) as exc:
        raise CliError(str(exc)) from None
    result = {"ok": True, "kid": kid, "kind": report["kind"], "bytes": len(body)}
    if args.json:
        print_json(result)
    else:
        print(f"ok: {body_path} is a {report['kind']} report signed by key {kid}")


def register(sub: Any, add: AddCommand) -> None:
    rep = sub.add_parser("reports", help="signed regulator reports", description="signed regulator reports")
    rs = rep.add_subparsers(dest="reports_command", required=True, metavar="COMMAND")
    p = add(rs, "generate", cmd_reports_generate, "generate, sign, log and store reports (or a correction)")
    p.add_argument("--kind", choices=KINDS, help="usage (periodic) or large_training (one per flag due)")
    p.add_argument("--jurisdiction", help="EU, US, DE ...: an alpha-2 code or a policy group in upper case")
    p.add_argument("--since", type=instant, help="usage: start, ISO 8601 (inclusive; UTC if no zone)")
    p.add_argument(
        "--until",
        type=instant,
        help="usage: end, ISO 8601 (exclusive); large_training: the evaluation time (default now)",
    )
    p.add_argument("--correct", type=_report_id, metavar="REPORT_ID", help="issue the next version of it")
    p = add(rs, "list", cmd_reports_list, "reports issued, newest first")
    p.add_argument("--jurisdiction", help="only this jurisdiction's")
    p = add(rs, "show", cmd_reports_show, "a report: its envelope, signature, proof state and body")
    p.add_argument("report_id", type=_report_id)
    p = add(rs, "export", cmd_reports_export, "write a report as JSON, CSV or PDF, and FILE.jws beside it")
    p.add_argument("report_id", type=_report_id)
    p.add_argument("--format", choices=_FORMATS, required=True)
    p.add_argument("--out", required=True, help="the file to write (the JWS goes to FILE.jws)")
    p = add(rs, "proof", cmd_reports_proof, "the report's audit entry with its inclusion proof", json=False)
    p.add_argument("report_id", type=_report_id)
    p.add_argument("--out", help="write to this file (default: standard output)")
    p = add(rs, "schema", cmd_reports_schema, "print the JSON Schema of a report kind", json=False)
    p.add_argument("--kind", choices=KINDS, required=True)
    p = add(rs, "verify", cmd_reports_verify, "check an exported JSON report with its JWS and a JWK Set")
    p.add_argument("file", help="the report's JSON (gateway reports export --format json)")
    p.add_argument("--jws", help="its detached JWS (default: FILE.jws)")
    p.add_argument("--jwks", required=True, help="the JWK Set (gateway audit keys --json, or its jwks)")
