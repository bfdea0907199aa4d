"""OFAC's Specially Designated Nationals list: ``sdn.xml``, or ``sdn.csv`` with ``alt.csv`` and ``add.csv``.

The XML puts every element in a default namespace (``https://sanctionslistservice.ofac.treas.gov/
api/PublicationPreview/exports/XML`` today, ``http://tempuri.org/sdnList.xsd`` before), so a
lookup by bare tag name finds nothing and a parser that does it returns an empty list without
complaint. Tags are compared here by local name, whatever the namespace.

The CSV files have no header, write ``-0-`` for an empty cell, and keep dates of birth,
nationalities and identifiers only inside the free-text remarks ("DOB 14 Mar 1971; nationality
Russia; Passport 7100000001 (Russia); ...").
Aliases (``alt.csv``) and addresses (``add.csv``) are joined on ``ent_num``. Weak aliases
("a.k.a. 'X'" in the CSV remarks, ``category`` weak in the XML) are left out, as OFAC advises:
they are short, generic names that mostly produce false hits.
"""

from __future__ import annotations

import csv
import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from ._fields import (
    ListFormatError,
    country_codes,
    identifier_numbers,
    iso_dates,
    make_entry,
    person_name,
    remark_identifiers,
    text_lines,
    unique,
)
from .entries import Kind, ListEntry

_KINDS: dict[str, Kind] = {
    "individual": "person",
    "entity": "organisation",
    "vessel": "vessel",
    "aircraft": "aircraft",
}
_LIST_NAME = "SDN"
_EMPTY = "-0-"
_SDN_COLUMNS = 12
_ALT_COLUMNS = 5
_ADD_COLUMNS = 6


# --- XML ------------------------------------------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _kids(parent: ET.Element | None, name: str) -> list[ET.Element]:
    return [] if parent is None else [c for c in parent if _local(c.tag) == name]


def _text(parent: ET.Element | None, name: str) -> str:
    found = _kids(parent, name)
    return (found[0].text or "").strip() if found else ""


def parse_xml(path: Path) -> Iterator[ListEntry]:
    """Entries from ``sdn.xml``, read element by element so that the whole tree is never held."""
    root: ET.Element | None = None
    count = 0
    try:
        # The file is a government publication, and expat (2.4.1+) refuses entity-expansion bombs.
        for event, elem in ET.iterparse(path, events=("start", "end")):  # noqa: S314
            if root is None:
                root = elem
                if _local(elem.tag) != "sdnList":
                    raise ListFormatError(
                        f"{path.name}: root element is <{_local(elem.tag)}>, expected <sdnList>"
                    )
                continue
            if event == "end" and _local(elem.tag) == "sdnEntry":
                count += 1
                yield _xml_entry(path, count, elem)
                root.clear()  # drop the entries already read
    except ET.ParseError as exc:
        line, column = exc.position
        problem = str(exc).split(":", 1)[0]  # expat's message ends with the position again
        raise ListFormatError(
            f"{path.name} line {line}, column {column}: not well-formed XML ({problem})"
        ) from None
    if root is None:
        raise ListFormatError(f"{path.name}: empty file, expected <sdnList>")


def _xml_entry(path: Path, number: int, elem: ET.Element) -> ListEntry:
    uid = _text(elem, "uid")
    if not uid:
        raise ListFormatError(f"{path.name}: sdnEntry #{number} has no <uid>")
    last, first = _text(elem, "lastName"), _text(elem, "firstName")
    if not last:
        raise ListFormatError(f"{path.name}: sdnEntry #{number} (uid {uid}) has no <lastName>")
    kind = _KINDS.get(_text(elem, "sdnType").lower(), "unknown")
    written = f"{last}, {first}" if first else last
    aliases = [written] if first else []
    for aka in (aka for holder in _kids(elem, "akaList") for aka in _kids(holder, "aka")):
        if _text(aka, "category").lower() == "weak":
            continue
        aka_last, aka_first = _text(aka, "lastName"), _text(aka, "firstName")
        if aka_last and aka_first:
            aliases.append(person_name(f"{aka_last}, {aka_first}"))
        elif aka_last or aka_first:
            aliases.append(aka_last or aka_first)
    countries = [
        _text(item, "country")
        for list_name, item_name in (
            ("addressList", "address"),
            ("nationalityList", "nationality"),
            ("citizenshipList", "citizenship"),
        )
        for holder in _kids(elem, list_name)
        for item in _kids(holder, item_name)
    ]
    countries += [_text(info, "vesselFlag") for info in _kids(elem, "vesselInfo")]
    births = [
        d
        for holder in _kids(elem, "dateOfBirthList")
        for item in _kids(holder, "dateOfBirthItem")
        for d in iso_dates(_text(item, "dateOfBirth"))
    ]
    programs = [
        (p.text or "").strip() for holder in _kids(elem, "programList") for p in _kids(holder, "program")
    ]
    identifiers = identifier_numbers(
        (_text(item, "idType"), _text(item, "idNumber"))
        for holder in _kids(elem, "idList")
        for item in _kids(holder, "id")
    )
    return make_entry(
        source="sdn",
        entry_id=uid,
        kind=kind,
        name=person_name(written) if first else last,
        aliases=aliases,
        countries=country_codes(countries),
        birth_dates=unique(births),
        programs=programs,
        list_name=_LIST_NAME,
        remarks=_text(elem, "remarks"),
        identifiers=identifiers,
    )


# --- CSV ------------------------------------------------------------------------------------------

_DOB = re.compile(r"\bDOB ([^;]+)")
_NATIONALITY = re.compile(r"\b(?:nationality|citizen) ([^;]+)")


def _rows(path: Path, columns: int) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(text_lines(path))
    for row in reader:
        # OFAC ends its files with a DOS end-of-file mark (Ctrl-Z) on a line of its own.
        if not row or all(not c.strip() or c.strip() == "\x1a" for c in row):
            continue
        if len(row) != columns:
            raise ListFormatError(
                f"{path.name} line {reader.line_num}: expected {columns} columns, got {len(row)}"
            )
        yield reader.line_num, ["" if c.strip() == _EMPTY else c.strip() for c in row]


def _sibling(path: Path, name: str) -> Path | None:
    for candidate in path.parent.iterdir():
        if candidate.name.lower() == name and candidate.is_file():
            return candidate
    return None


def parse_csv(path: Path) -> Iterator[ListEntry]:
    """Entries from ``sdn.csv``, with the aliases and addresses of ``alt.csv``/``add.csv`` beside it."""
    aliases: dict[str, list[str]] = defaultdict(list)
    if (alt := _sibling(path, "alt.csv")) is not None:
        for _, row in _rows(alt, _ALT_COLUMNS):
            if row[3]:
                aliases[row[0]].append(row[3])
    countries: dict[str, list[str]] = defaultdict(list)
    if (add := _sibling(path, "add.csv")) is not None:
        for _, row in _rows(add, _ADD_COLUMNS):
            if row[4]:
                countries[row[0]].append(row[4])
    for line, row in _rows(path, _SDN_COLUMNS):
        ent_num, written, sdn_type, program, remarks = row[0], row[1], row[2], row[3], row[11]
        if not ent_num or not written:
            raise ListFormatError(f"{path.name} line {line}: no ent_num or no name")
        kind: Kind = _KINDS.get(sdn_type.lower(), "organisation" if not sdn_type else "unknown")
        names = aliases.get(ent_num, [])
        if kind == "person":
            name, alias_list = person_name(written), [written, *(person_name(a) for a in names)]
        else:
            name, alias_list = written, names
        found = [m.strip().rstrip(".") for m in _NATIONALITY.findall(remarks)]
        yield make_entry(
            source="sdn",
            entry_id=ent_num,
            kind=kind,
            name=name,
            aliases=alias_list,
            countries=country_codes([*countries.get(ent_num, []), *found, row[9]]),
            birth_dates=unique(d for m in _DOB.findall(remarks) for d in iso_dates(m.strip().rstrip("."))),
            programs=[p.strip(" []") for p in program.split("] [")],
            list_name=_LIST_NAME,
            remarks=remarks,
            identifiers=remark_identifiers(remarks),
        )
