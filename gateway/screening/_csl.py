"""The US Consolidated Screening List (trade.gov), as CSV or as JSON.

Both files hold the same records: one row or object per party per sub-list (SDN, Entity
List, Denied Persons, ...). ``entity_number`` is OFAC's number and repeats when a party is on
two Treasury lists, and is empty for the Commerce and State lists, so entries are keyed by
the sub-list's abbreviation and ``entity_number`` or ``_id``.
"""

from __future__ import annotations

import csv
import mmap
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import msgspec

from ._fields import (
    ListFormatError,
    country_codes,
    identifier_numbers,
    iso_dates,
    make_entry,
    person_name,
    unique,
)
from .entries import Kind, ListEntry
from .normalise import LEGAL_FORMS

# The CSV has 29 columns (REFERENCE.md); rows are read by header name, and these must be there.
_NEEDED = ("_id", "source", "entity_number", "type", "programs", "name", "addresses", "remarks", "alt_names")
_KINDS: dict[str, Kind] = {
    "individual": "person",
    "entity": "organisation",
    "vessel": "vessel",
    "aircraft": "aircraft",
}
_ABBREVIATION = re.compile(r"\(([A-Z][A-Za-z]{1,7})\)")
_SUCCESSOR = re.compile(r";?\s*and any successor,? sub-unit,? or subsidiary thereof\.?\s*$", re.IGNORECASE)
_SEPARATOR = "; "
# The Commerce and State lists carry no type. A name with one of these words is an organisation;
# any other stays "unknown" rather than be guessed a person.
_ORGANISATION_WORDS = LEGAL_FORMS | frozenset(
    {
        "academy",
        "agency",
        "association",
        "bank",
        "bureau",
        "center",
        "centre",
        "college",
        "committee",
        "corporation",
        "department",
        "enterprise",
        "enterprises",
        "factory",
        "foundation",
        "group",
        "holding",
        "holdings",
        "industries",
        "industry",
        "institute",
        "international",
        "laboratory",
        "ltda",
        "ministry",
        "organization",
        "organisation",
        "plant",
        "research",
        "school",
        "shipping",
        "technologies",
        "technology",
        "trading",
        "university",
        "works",
    }
)
_WORDS = re.compile(r"[^\W_]+")


class _Address(msgspec.Struct):
    address: str | None = None
    city: str | None = None
    country: str | None = None


_Multi = list[str] | str | None


class _Id(msgspec.Struct):
    type: str | None = None
    number: str | int | None = None


class _Record(msgspec.Struct):
    id: str | None = None
    underscore_id: str | None = msgspec.field(default=None, name="_id")
    source: str | None = None
    entity_number: str | int | None = None
    type: str | None = None
    name: str | None = None
    programs: _Multi = None
    alt_names: _Multi = None
    addresses: list[_Address] | str | None = None
    citizenships: _Multi = None
    nationalities: _Multi = None
    dates_of_birth: _Multi = None
    vessel_flag: str | None = None
    remarks: str | None = None
    ids: list[_Id] | str | None = None


class _Document(msgspec.Struct):
    results: list[_Record]


def parse_csv(path: Path, lines: Iterator[str]) -> Iterator[ListEntry]:
    """Entries from the CSL CSV (header row, 29 columns, multi-valued cells joined by "; ")."""
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        raise ListFormatError(f"{path.name}: empty file, expected the CSL CSV header")
    header = [h.strip().lstrip("\ufeff") for h in header]
    missing = [c for c in _NEEDED if c not in header]
    if missing:
        raise ListFormatError(
            f"{path.name} line 1: not a CSL CSV header, missing column(s) {', '.join(missing)}"
        )
    at = {column: i for i, column in enumerate(header)}
    for row in reader:
        if not row or row == [""]:
            continue
        where = f"{path.name} line {reader.line_num}"
        if len(row) != len(header):
            raise ListFormatError(f"{where}: expected {len(header)} columns, got {len(row)}")

        def cell(column: str, row: Sequence[str] = row) -> str:
            i = at.get(column)
            return row[i].strip() if i is not None else ""

        def cells(column: str) -> list[str]:
            return [v.strip() for v in cell(column).split(_SEPARATOR) if v.strip()]

        # An address cell ends with its country: "Komitas 26/114, Yerevan, Armenia, AM".
        countries = [a.rsplit(",", 1)[-1] for a in cells("addresses")]
        yield _entry(
            where,
            record_id=cell("_id"),
            source=cell("source"),
            entity_number=cell("entity_number"),
            type_=cell("type"),
            name=cell("name"),
            programs=cells("programs"),
            aliases=cells("alt_names"),
            countries=[*countries, *cells("citizenships"), *cells("nationalities"), cell("vessel_flag")],
            birth_dates=cells("dates_of_birth"),
            remarks=cell("remarks"),
            ids=_id_pairs(cell("ids")),
        )


def parse_json(path: Path, data: bytes | mmap.mmap) -> Iterator[ListEntry]:
    """Entries from the CSL JSON: ``{"results": [...]}`` (the API and bulk file) or a bare list."""
    try:
        decoded = msgspec.json.decode(data, type=_Document | list[_Record])
    except msgspec.ValidationError as exc:
        raise ListFormatError(f"{path.name}: {exc}") from None
    except msgspec.DecodeError as exc:
        raise ListFormatError(f"{path.name}: {_with_line(str(exc), data)}") from None
    records, prefix = (decoded.results, "$.results") if isinstance(decoded, _Document) else (decoded, "$")
    for i, record in enumerate(records):
        addresses = record.addresses
        if isinstance(addresses, str):
            countries = [a.rsplit(",", 1)[-1] for a in _split(addresses)]
        else:
            countries = [a.country or "" for a in addresses or ()]
        yield _entry(
            f"{path.name} record {prefix}[{i}]",
            record_id=record.id or record.underscore_id or "",
            source=record.source or "",
            entity_number="" if record.entity_number is None else str(record.entity_number).strip(),
            type_=record.type or "",
            name=record.name or "",
            programs=_split(record.programs),
            aliases=_split(record.alt_names),
            countries=[
                *countries,
                *_split(record.citizenships),
                *_split(record.nationalities),
                record.vessel_flag or "",
            ],
            birth_dates=_split(record.dates_of_birth),
            remarks=record.remarks or "",
            ids=(
                _id_pairs(record.ids)
                if isinstance(record.ids, str)
                else [(i.type or "", "" if i.number is None else str(i.number)) for i in record.ids or ()]
            ),
        )


def _split(value: _Multi) -> list[str]:
    if value is None:
        return []
    parts = (
        value.split(_SEPARATOR) if isinstance(value, str) else [p for v in value for p in v.split(_SEPARATOR)]
    )
    return [p.strip() for p in parts if p.strip()]


def _id_pairs(cell: str) -> list[tuple[str, str]]:
    """``(type, number)`` of the CSV's ids cell: "Passport, 7100000001, RU; Gender, Male"."""
    pairs = []
    for item in _split(cell):
        kind, _, rest = item.partition(", ")
        pairs.append((kind, rest.split(", ", 1)[0]))
    return pairs


def _entry(
    where: str,
    *,
    record_id: str,
    source: str,
    entity_number: str,
    type_: str,
    name: str,
    programs: list[str],
    aliases: list[str],
    countries: list[str],
    birth_dates: list[str],
    remarks: str,
    ids: list[tuple[str, str]],
) -> ListEntry:
    key = entity_number or record_id
    if not key:
        raise ListFormatError(f"{where}: no _id and no entity_number")
    name = _SUCCESSOR.sub("", name).strip()
    if not name:
        raise ListFormatError(f"{where}: no name")
    abbreviation = m[1] if (m := _ABBREVIATION.search(source)) else (source or "CSL")
    kind = _KINDS.get(type_.strip().lower(), "unknown")
    if (
        kind == "unknown"
        and not type_.strip()
        and any(w in _ORGANISATION_WORDS for w in _WORDS.findall(name.lower()))
    ):
        kind = "organisation"
    # BIS writes lists of aliases as "A; B; and C".
    aliases = [a[4:] if a.startswith("and ") else a for a in aliases]
    if kind == "person":
        written = name
        name = person_name(name)
        aliases = [written, *(person_name(a) for a in aliases)]
    return make_entry(
        source="csl",
        entry_id=f"{abbreviation}:{key}",
        kind=kind,
        name=name,
        aliases=aliases,
        countries=country_codes(countries),
        birth_dates=unique(d for text in birth_dates for d in iso_dates(text)),
        programs=programs,
        list_name=source,
        remarks=remarks,
        identifiers=identifier_numbers(ids),
    )


def _with_line(message: str, data: bytes | mmap.mmap) -> str:
    """msgspec reports a byte offset; a line number is what a person can find in an editor."""
    m = re.search(r"\(byte (\d+)\)", message)
    if m is None:
        return message
    offset = int(m[1])
    line = bytes(memoryview(data)[:offset]).count(b"\n") + 1
    return f"{message} (line {line})"
