"""OpenSanctions' FollowTheMoney export: one JSON entity a line (``entities.ftm.json``).

Only parties are kept (people, companies, organisations, vessels, aircraft); the links and
facts between them (``Ownership``, ``Address``, ``Position`` ...) are skipped, except that a
``Sanction``'s programs are copied onto the party it names.
Country properties hold lower-case codes, some of them OpenSanctions' own for places with no
ISO code ("suhh" for the Soviet Union, "xk" for Kosovo): those are dropped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec

from ._fields import ListFormatError, country_codes, iso_dates, make_entry, unique
from .entries import Kind, ListEntry

_KINDS: dict[str, Kind] = {
    "Person": "person",
    "Company": "organisation",
    "Organization": "organisation",
    "PublicBody": "organisation",
    # A LegalEntity may be a person or an organisation: no kind, so no kind penalty when matching.
    "LegalEntity": "unknown",
    "Vessel": "vessel",
    "Airplane": "aircraft",
}
_NAMES = ("name", "alias", "previousName")
_COUNTRIES = ("country", "nationality", "citizenship", "jurisdiction", "flag")
_IDENTIFIERS = (
    "idNumber",
    "passportNumber",
    "registrationNumber",
    "taxNumber",
    "innCode",
    "ogrnCode",
    "leiCode",
    "vatCode",
    "imoNumber",
)


class _Entity(msgspec.Struct):
    id: str
    schema: str
    # Values are strings in the flat export; the nested export puts entities there, which are skipped.
    properties: dict[str, list[object]] = {}
    caption: str = ""
    datasets: list[str] = []


def parse_lines(path: Path, lines: Iterator[bytes]) -> list[ListEntry]:
    """Entries from FollowTheMoney JSON lines, with the programs of the ``Sanction`` entities naming them.

    Sanctions refer to their party by id and may come before or after it in the file, so
    programs are attached once every line has been read.
    """
    entries: list[ListEntry] = []
    programs: dict[str, list[str]] = {}
    for number, entity in _entities(path, lines):
        if entity.schema == "Sanction":
            for party in _values(entity, "entity"):
                programs.setdefault(party, []).extend(
                    [*_values(entity, "programId"), *_values(entity, "program")]
                )
        elif (entry := _entry(path, number, entity)) is not None:
            entries.append(entry)
    return [
        msgspec.structs.replace(e, programs=tuple(unique([*e.programs, *programs[e.entry_id]])))
        if e.entry_id in programs
        else e
        for e in entries
    ]


def _values(entity: _Entity, prop: str) -> list[str]:
    return [v.strip() for v in entity.properties.get(prop, ()) if isinstance(v, str) and v.strip()]


def _entities(path: Path, lines: Iterator[bytes]) -> Iterator[tuple[int, _Entity]]:
    decoder = msgspec.json.Decoder(_Entity)
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entity = decoder.decode(line)
        except msgspec.DecodeError as exc:  # also ValidationError, its subclass
            raise ListFormatError(f"{path.name} line {number}: {exc}") from None
        yield number, entity


def _entry(path: Path, number: int, entity: _Entity) -> ListEntry | None:
    kind = _KINDS.get(entity.schema)
    if kind is None:
        return None
    names = unique(n for prop in _NAMES for n in _values(entity, prop))
    name = entity.caption.strip() or (names[0] if names else "")
    if not name:
        raise ListFormatError(f"{path.name} line {number}: entity {entity.id} has no name and no caption")
    return make_entry(
        source="opensanctions",
        entry_id=entity.id,
        kind=kind,
        name=name,
        aliases=names,
        countries=country_codes([c for prop in _COUNTRIES for c in _values(entity, prop)], codes_only=True),
        birth_dates=unique(d for text in _values(entity, "birthDate") for d in iso_dates(text)),
        programs=[*_values(entity, "programId"), *_values(entity, "program")],
        list_name=", ".join(entity.datasets),
        remarks=" ".join(_values(entity, "notes")),
        identifiers=unique(i for prop in _IDENTIFIERS for i in _values(entity, prop)),
    )
