"""A stored report as a regulator reads it: JSON (the signed body itself), CSV and PDF.

Only the JSON is signed (the detached JWS covers the body's exact bytes); CSV and PDF are
renderings of it, deterministic (the same report gives the same bytes) and each says which body
it renders (its SHA-256) so that a reader can go back to the signed original.

Both renderings lay the report out in the same **sections** (:func:`sections`), walked from the
report's struct in field order: the scalar fields of a part form a two-column ``field, value``
table; a mapping of counts (``by_country``) a ``key, count`` table; a list of records
(``workloads``, ``beneficial owners``) a table with one column per field (nested parts dotted,
lists joined with ``; ``). The CSV holds one block per section: a row with the section's name, its
header row, its rows, a blank row.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
from collections.abc import Iterator, Sequence
from typing import Any

import msgspec
import msgspec.inspect
from anyascii import anyascii

from .model import LargeTrainingReport, Report, UsageReport, decode
from .repository import StoredReport

_WIDE = 6
"""A list of records with more columns than this is laid out one record at a time in the PDF."""


class Section(msgspec.Struct, frozen=True):
    name: str
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]]


def download_headers(report: StoredReport, filename: str) -> dict[str, str]:
    """How a report file is handed out (the regulator API and the portal alike): as an attachment,
    with the digest and the detached signature of the report's JSON bytes beside it."""
    return {
        "content-disposition": f'attachment; filename="{filename}"',
        "x-report-sha256": report.sha256,
        "x-report-signature": report.jws,
    }


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "; ".join(_text(v) for v in value)
    return str(value)


def _cls(part: msgspec.Struct) -> type[msgspec.Struct]:
    return type(part)


@functools.cache
def _shapes(cls: type[msgspec.Struct]) -> dict[str, str]:
    """Each field's shape, from its declared type: ``records`` (a list of parts), ``counts`` (a
    mapping), ``part`` (a nested part) or ``scalar`` (a value, or a list of values)."""
    shapes = {}
    for field in msgspec.inspect.type_info(cls).fields:  # type: ignore[attr-defined]
        kind = field.type
        if isinstance(kind, msgspec.inspect.ListType) and isinstance(
            kind.item_type, msgspec.inspect.StructType
        ):
            shapes[field.name] = "records"
        elif isinstance(kind, msgspec.inspect.DictType):
            shapes[field.name] = "counts"
        elif isinstance(kind, msgspec.inspect.StructType):
            shapes[field.name] = "part"
        else:
            shapes[field.name] = "scalar"
    return shapes


def _flat(prefix: str, part: msgspec.Struct) -> Iterator[tuple[str, str]]:
    """A part's scalar fields as ``(dotted name, text)``, nested parts dotted; its mappings as
    ``name.key``; lists of parts are left out (they get tables of their own)."""
    for field, shape in _shapes(type(part)).items():
        name = f"{prefix}.{field}" if prefix else field
        value = getattr(part, field)
        if shape == "part":
            yield from _flat(name, value)
        elif shape == "counts":
            yield from ((f"{name}.{key}", _text(count)) for key, count in value.items())
        elif shape == "scalar":
            yield name, _text(value)


def _records(name: str, items: Sequence[msgspec.Struct], out: list[Section]) -> None:
    """A table of the records, one column per (flattened) field, then their own lists of records."""
    flat = [dict(_flat("", item)) for item in items]
    columns: list[str] = []
    for row in flat:
        columns += [c for c in row if c not in columns]
    out.append(Section(name, tuple(columns), [tuple(row.get(c, "") for c in columns) for row in flat]))
    for i, item in enumerate(items):
        for field, shape in _shapes(type(item)).items():
            if shape == "records" and getattr(item, field):
                _records(f"{name}[{i}].{field}", getattr(item, field), out)


def _part(name: str, part: msgspec.Struct, out: list[Section]) -> None:
    """A part's scalars (and nested parts of scalars) in one table, then its mappings, nested parts
    with mappings or records, and lists of records, each in tables of their own."""
    shapes = _shapes(type(part))
    fields: list[tuple[str, ...]] = []
    later: list[str] = []
    for field, shape in shapes.items():
        value = getattr(part, field)
        if shape == "scalar":
            fields.append((field, _text(value)))
        elif (
            shape == "part"
            and name != "report"  # the report's own parts are sections of their own
            and all(s in ("scalar", "part") for s in _shapes(_cls(value)).values())
        ):
            fields += [(f"{field}.{sub}", text) for sub, text in _flat("", value)]
        else:
            later.append(field)
    if fields:
        out.append(Section(name, ("field", "value"), fields))
    for field in later:
        title = field if name == "report" else f"{name}.{field}"
        value = getattr(part, field)
        if shapes[field] == "counts":
            out.append(Section(title, ("key", "count"), [(str(k), _text(v)) for k, v in value.items()]))
        elif shapes[field] == "part":
            _part(title, value, out)
        else:
            _records(title, value, out)


def sections(report: Report) -> list[Section]:
    """The report laid out as tables, in the struct's field order (see the module)."""
    out: list[Section] = []
    _part("report", report, out)
    return out


def _report(stored: StoredReport) -> Report:
    return decode(stored.kind, stored.body)


def _envelope(stored: StoredReport) -> list[tuple[str, ...]]:
    return [
        ("report id", str(stored.id)),
        ("version", str(stored.version)),
        ("supersedes", "" if stored.supersedes is None else str(stored.supersedes)),
        ("issued at", stored.issued_at.astimezone(dt.UTC).isoformat()),
        ("issued by", stored.issued_by),
        ("body sha256", stored.sha256),
        ("audit log entry", str(stored.audit_seq)),
    ]


def to_json(stored: StoredReport) -> bytes:
    """The signed body itself: the bytes the JWS, the sha256 and the audit entry are over."""
    return stored.body


def to_csv(stored: StoredReport) -> bytes:
    """One block per section (see the module), after an ``envelope`` block; UTF-8, CRLF rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    blocks = [Section("envelope", ("field", "value"), _envelope(stored)), *sections(_report(stored))]
    for i, section in enumerate(blocks):
        if i:
            writer.writerow([])
        writer.writerow([section.name])
        writer.writerow(section.columns)
        writer.writerows(section.rows)
    return buffer.getvalue().encode("utf-8")


def _latin(text: str) -> str:
    """The PDF's core fonts cover Latin-1: other characters are transliterated (the JSON has them)."""
    out = []
    for char in text:
        try:
            char.encode("latin-1")
            out.append(char)
        except UnicodeEncodeError:
            out.append(anyascii(char) or "?")
    return "".join(out)


def _title(report: Report) -> str:
    if isinstance(report, UsageReport):
        return f"Usage report - {report.jurisdiction.code}, {report.period.start} to {report.period.end}"
    assert isinstance(report, LargeTrainingReport)
    return (
        f"Large training compute report - {report.jurisdiction},"
        f" threshold {report.threshold.name} ({report.trigger})"
    )


def to_pdf(stored: StoredReport) -> bytes:
    """A readable rendering: the title, the provider, the envelope, then every section as a table.
    The same report gives the same bytes (the PDF's dates are the report's issue time)."""
    from fpdf import FPDF
    from fpdf.enums import WrapMode
    from fpdf.fonts import FontFace

    report = _report(stored)
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_creation_date(stored.issued_at.astimezone(dt.UTC))
    pdf.set_title(_latin(_title(report)))
    pdf.set_author(_latin(report.provider.name))
    pdf.set_creator("gateway reports")
    pdf.set_producer("gateway reports (fpdf2)")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.multi_cell(0, 7, _latin(_title(report)), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    provider = report.provider
    pdf.multi_cell(
        0,
        5,
        _latin(f"Issued by {provider.name} ({provider.country}); audit log {provider.audit_log}."),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.multi_cell(
        0,
        5,
        _latin(
            "This is a rendering. The signed report is the JSON body whose SHA-256 is given below;"
            " its detached JWS verifies with the provider's JWK Set (gateway audit keys --json)."
        ),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    heading = FontFace(emphasis="BOLD", fill_color=(230, 230, 230))

    def table(name: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        pdf.ln(3)
        pdf.set_font("Helvetica", "B", 10)
        pdf.multi_cell(0, 6, _latin(name), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 8)
        widths = (1, 2) if len(columns) == 2 else None
        with pdf.table(
            col_widths=widths,
            headings_style=heading,
            text_align="LEFT",
            wrapmode=WrapMode.CHAR,
            line_height=4,
        ) as t:
            t.row([_latin(c) for c in columns])
            for row in rows or [("(none)",) + ("",) * (len(columns) - 1)]:
                t.row([_latin(cell) for cell in row])

    table("envelope", ("field", "value"), _envelope(stored))
    for section in sections(report):
        if len(section.columns) > _WIDE:
            for i, row in enumerate(section.rows):
                table(f"{section.name} [{i + 1} of {len(section.rows)}]", ("field", "value"),
                      list(zip(section.columns, row, strict=True)))  # fmt: skip
            if not section.rows:
                table(section.name, ("field", "value"), [])
        else:
            table(section.name, section.columns, section.rows)
    return bytes(pdf.output())
