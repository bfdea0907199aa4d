"""Field cleaning shared by the list parsers: countries, dates of birth, names, the error type.

The lists spell the same facts differently: OFAC writes countries as English names in its
own spelling ("Korea, North", "Burma"), the CSL mixes codes and names, OpenSanctions uses
lower-case codes with a few private ones ("suhh"). Dates come as "14 Mar 1971", "circa 1965",
"1962 to 1964" or ISO. Everything is brought to ISO here; what cannot be read is dropped,
not fatal, because one odd value must not stop a list of 20,000 entries from loading.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import pycountry

from .entries import Kind, ListEntry


class ListFormatError(Exception):
    """A list file that cannot be read; the message names the file, the position and the problem."""


# OFAC's and the CSL's spellings that pycountry's lookup does not know (checked against
# pycountry 24+); keys are case-folded. Places with no ISO code (Kosovo, the Soviet Union,
# the Netherlands Antilles) are deliberately absent: they are dropped.
_COUNTRY_SPELLINGS = {
    "russia": "RU",
    "korea, north": "KP",
    "north korea": "KP",
    "korea, south": "KR",
    "south korea": "KR",
    "burma": "MM",
    "turkey": "TR",
    "cote d'ivoire": "CI",
    "côte d'ivoire": "CI",
    "ivory coast": "CI",
    "congo, democratic republic of the": "CD",
    "democratic republic of the congo": "CD",
    "congo, republic of the": "CG",
    "macau": "MO",
    "palestinian": "PS",
    "palestine": "PS",
    "west bank": "PS",
    "gaza": "PS",
    "bahamas, the": "BS",
    "the bahamas": "BS",
    "gambia, the": "GM",
    "the gambia": "GM",
    "cape verde": "CV",
    "brunei": "BN",
    "swaziland": "SZ",
    "macedonia": "MK",
    "the former yugoslav republic of macedonia": "MK",
    "vatican city": "VA",
    "holy see": "VA",
    "curacao": "CW",
    "st. kitts and nevis": "KN",
    "st. lucia": "LC",
    "st. vincent and the grenadines": "VC",
    "virgin islands, british": "VG",
    "british virgin islands": "VG",
    "virgin islands, u.s.": "VI",
    "east timor": "TL",
    "united states of america": "US",
    "usa": "US",
    "uk": "GB",
    "great britain": "GB",
    "uae": "AE",
    "iran (islamic republic of)": "IR",
    "syrian arab republic": "SY",
}


@functools.lru_cache(maxsize=4096)
def country_code(value: str, *, codes_only: bool = False) -> str | None:
    """The ISO alpha-2 code for a country code or name, or None if there is none.

    With ``codes_only``, only two-letter codes are accepted (OpenSanctions' properties).
    """
    text = " ".join(value.split()).strip(" .")
    if not text:
        return None
    if len(text) == 2 and text.isascii() and text.isalpha():
        found = pycountry.countries.get(alpha_2=text.upper())
        return found.alpha_2 if found is not None else None
    if codes_only:
        return None
    known = _COUNTRY_SPELLINGS.get(text.casefold())
    if known is not None:
        return known
    try:
        return str(pycountry.countries.lookup(text).alpha_2)
    except LookupError:
        return None


def country_codes(values: Iterable[str], *, codes_only: bool = False) -> list[str]:
    """Codes for every value that has one, in order, without repeats."""
    found = (country_code(v, codes_only=codes_only) for v in values if v)
    return unique(code for code in found if code is not None)


_MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
_ISO_DATE = re.compile(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?")
_DAY_MONTH_YEAR = re.compile(r"(?:(\d{1,2}) )?([A-Za-z]{3})[a-z]* (\d{4})")
_DMY_SLASH = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_APPROXIMATE = re.compile(r"\b(?:circa|approximately|approx\.?|about|c\.)\s*", re.IGNORECASE)
_RANGE_SPAN_YEARS = 10


def iso_dates(text: str) -> list[str]:
    """ISO dates (``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``) in one date-of-birth value.

    A range ("1962 to 1964") gives every year in it when it spans at most ten years, so that a
    birth year inside the range counts as matching; a wider one gives its two ends.
    """
    text = _APPROXIMATE.sub("", text).strip()
    if " to " in text:
        start, _, end = text.partition(" to ")
        first, last = iso_dates(start), iso_dates(end)
        if len(first) == 1 and len(last) == 1:
            low, high = int(first[0][:4]), int(last[0][:4])
            if 0 <= high - low <= _RANGE_SPAN_YEARS:
                return [str(year) for year in range(low, high + 1)]
        return unique([*first, *last])
    return [found] if (found := _one_date(text)) is not None else []


def _one_date(text: str) -> str | None:
    text = text.strip().split("T", 1)[0]
    if m := _ISO_DATE.fullmatch(text):
        return _checked(int(m[1]), int(m[2]) if m[2] else None, int(m[3]) if m[3] else None)
    if m := _DAY_MONTH_YEAR.fullmatch(text):
        month = _MONTHS.get(m[2].lower())
        if month is None:
            return None
        return _checked(int(m[3]), month, int(m[1]) if m[1] else None)
    if m := _DMY_SLASH.fullmatch(text):
        return _checked(int(m[3]), int(m[2]), int(m[1]))
    return None


def _checked(year: int, month: int | None, day: int | None) -> str | None:
    if not 1800 <= year <= 2200:
        return None
    if month is None:
        return f"{year:04d}"
    if not 1 <= month <= 12:
        return None
    if day is None:
        return f"{year:04d}-{month:02d}"
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return None


_LAST_FIRST = re.compile(r"([^,]+),\s*([^,]+)")


def person_name(name: str) -> str:
    """OFAC's ``"LAST, First Middle"`` as ``"First Middle Last"``; other names unchanged.

    The surname is written in capitals to mark it; once moved to the end it no longer needs
    the mark, so it is written as a name ("SIDORENKO" -> "Sidorenko", "AL-NOURI" -> "Al-Nouri").
    """
    m = _LAST_FIRST.fullmatch(name.strip())
    if m is None:
        return name.strip()
    last, first = m[1].strip(), m[2].strip()
    if last.upper() == last and any(c.isalpha() for c in last):
        last = _capitalise(last)
    return f"{first} {last}"


def _capitalise(text: str) -> str:
    # str.title() would write "Qar'Awi" and "Mcdonald's" oddly; capitalise after spaces and hyphens only.
    return re.sub(r"[^\s-]+", lambda m: m[0][:1].upper() + m[0][1:].lower(), text)


def text_lines(path: Path) -> Iterator[str]:
    """The file's lines as text: UTF-8, or Windows-1252 for a line that is not (older OFAC files).

    Decoding line by line keeps a single stray byte from failing (or garbling) the whole file.
    """
    with path.open("rb") as file:
        for number, raw in enumerate(file):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                line = raw.decode("cp1252", errors="replace")
            yield line.lstrip("\ufeff") if number == 0 else line


def unique(values: Iterable[str]) -> list[str]:
    """Values in first-seen order, without repeats."""
    return list(dict.fromkeys(values))


# An identifier is a number with at least four digits (passport, national id, registration, tax,
# IMO, MMSI), unless its type says it is something else: the lists' id fields and remarks also
# hold genders, web sites, dates, sanctions notes and executive orders.
_IDENTIFIER = re.compile(r"(?:\d.*){4}")
_NOT_IDENTIFIER = re.compile(
    r"website|e-?mail|phone|fax|date|\bdob\b|\bpob\b|gender|sanctions|established|organization type|"
    r"executive order|directive|linked to|nationality|citizen",
    re.I,
)
# One remark of OFAC's CSV: "Passport 7100000001 (Russia)", "Tax ID No. 7800000001 (Russia)",
# "Vessel Registration Identification IMO 9000001": the type, then the first token with a digit.
_REMARK_ID = re.compile(r"(?P<kind>[^\d;]+?)\s+(?P<number>(?:IMO\s)?[A-Za-z0-9][\w./-]*\d[\w./-]*)")


def identifier_numbers(pairs: Iterable[tuple[str, str]]) -> list[str]:
    """The numbers of ``(type, number)`` pairs that are identifiers, in first-seen order."""
    return unique(
        number.strip()
        for kind, number in pairs
        if _IDENTIFIER.search(number) and not _NOT_IDENTIFIER.search(kind)
    )


def remark_identifiers(remarks: str) -> list[str]:
    """Identifiers written into free-text remarks, one per ``;``-separated remark (OFAC's CSV)."""
    pairs = []
    for remark in remarks.split(";"):
        if (m := _REMARK_ID.match(remark.strip())) is not None:
            pairs.append((m["kind"], m["number"].rstrip(".")))
    return identifier_numbers(pairs)


def make_entry(
    *,
    source: str,
    entry_id: str,
    kind: Kind,
    name: str,
    aliases: Iterable[str] = (),
    countries: Iterable[str] = (),
    birth_dates: Iterable[str] = (),
    programs: Iterable[str] = (),
    list_name: str = "",
    remarks: str = "",
    identifiers: Iterable[str] = (),
) -> ListEntry:
    """A :class:`ListEntry` with whitespace tidied and repeats (and aliases equal to the name) removed."""
    name = " ".join(name.split())
    seen = {name.casefold()}
    kept: list[str] = []
    for alias in aliases:
        alias = " ".join(alias.split())
        if alias and alias.casefold() not in seen:
            seen.add(alias.casefold())
            kept.append(alias)
    return ListEntry(
        source=source,
        entry_id=entry_id,
        kind=kind,
        name=name,
        aliases=tuple(kept),
        countries=tuple(unique(countries)),
        birth_dates=tuple(unique(birth_dates)),
        programs=tuple(unique(p.strip() for p in programs if p.strip())),
        list_name=list_name,
        remarks=" ".join(remarks.split()),
        identifiers=tuple(unique(i.strip() for i in identifiers if i.strip())),
    )
