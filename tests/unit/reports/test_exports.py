"""CSV and PDF renderings of a stored report: deterministic, laid out in sections, tied to the body."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
import uuid
import zlib

from gateway.reports.exports import sections, to_csv, to_json, to_pdf
from gateway.reports.model import canonical
from gateway.reports.repository import StoredReport

from .test_model import training_report, usage_report


def stored(report) -> StoredReport:  # type: ignore[no-untyped-def]
    body = canonical(report)
    when = dt.datetime(2026, 12, 2, 9, 30, tzinfo=dt.UTC)
    return StoredReport(id=uuid.UUID(int=5), version=2, supersedes=uuid.UUID(int=4), kind=report.kind,
                        jurisdiction="US", period_start=when, period_end=when + dt.timedelta(days=1),
                        issued_at=when, issued_by="cli:ops", body=body,
                        sha256=hashlib.sha256(body).hexdigest(), jws="h..s", audit_seq=41)  # fmt: skip


def pdf_text(pdf: bytes) -> str:
    """The text drawn on the pages (fpdf2 deflates each page's content stream)."""
    out = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            out.append(zlib.decompress(stream).decode("latin-1"))
        except zlib.error:
            continue
    return "".join(re.findall(r"\((.*?)\) ?Tj", "".join(out)))


def test_json_is_the_body() -> None:
    report = stored(usage_report())
    assert to_json(report) == report.body


def test_csv_has_one_block_per_section_in_a_fixed_order() -> None:
    report = stored(usage_report())
    raw = to_csv(report)
    assert raw == to_csv(report)
    rows = list(csv.reader(io.StringIO(raw.decode())))
    names = [rows[0][0]] + [rows[i + 1][0] for i, row in enumerate(rows[:-1]) if row == []]
    assert names == ["envelope", "report", "provider", "jurisdiction", "period", "customers",
                     "customers.by_country", "customers.by_tier", "customers.by_kyc_status", "compute",
                     "refusals", "refusals.by_code", "training_flags", "training_flags.counts", "screening",
                     "screening.raised_by_state", "screening.decided"]  # fmt: skip
    assert ["body sha256", report.sha256] in rows
    assert ["countries", ""] in rows and ["policy_hash", usage_report().policy_hash] in rows
    assert ["flop_settled", "301500000000000000000000"] in rows
    assert ["DE", "1"] in rows and ["unknown", "1"] in rows
    counts = rows.index(["training_flags.counts"])
    assert rows[counts + 1] == ["threshold", "jurisdiction", "threshold_flop", "level", "groups", "customers"]
    assert rows[counts + 2] == ["eu", "EU", "10000000000000000000000000", "0.5", "1", "1"]


def test_csv_of_a_large_training_report_lists_workloads_and_owners() -> None:
    found = {s.name: s for s in sections(training_report())}
    assert {"report", "links", "customers", "workloads", "estimate", "estimate.accelerators"} <= set(found)
    assert found["workloads"].columns[:3] == ("job", "cluster", "job_id")
    assert found["customers"].columns[-2:] == ("kyc_status", "verified_at")  # owners get their own table
    assert dict(found["report"].rows)["trigger"] == "projected"
    assert dict(found["dates"].rows)["became_known_at"] == "2026-10-01T00:00:00Z"
    assert "national_id.on_file" in found["customers"].columns


def test_pdf_is_readable_deterministic_and_names_the_body() -> None:
    for report in (stored(usage_report()), stored(training_report())):
        pdf = to_pdf(report)
        assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
        assert to_pdf(report) == pdf
        text = pdf_text(pdf)
        assert report.sha256 in text and str(report.id) in text
        assert "gpu.example" in text
    assert "Usage report - US, 2026-11-01T00:00:00Z to 2026-12-01T00:00:00Z" in pdf_text(
        to_pdf(stored(usage_report()))
    )
