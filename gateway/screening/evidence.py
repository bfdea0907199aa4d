"""What a list entry's other fields say about a name match, and the explanation a hit carries.

A name alone cannot tell a listed person from a namesake; the list's other fields can. Each
field the subject and the entry both have is checked, and moves the score:

- identifier (passport, registration number): the same one +0.20 (the same number is the
  same party); different ones count nothing (the list rarely says which kind it holds);
- date of birth: +0.05 the same date, +0.03 the same year (one side gives only the year), 0
  a year apart or another date in the same year, -0.20 two or more years apart (alone enough
  to clear a perfect name);
- country (nationality, residence, incorporation): +0.02 shared, -0.08 disjoint (people live
  abroad), -0.12 when the name matched only in part (a word left unpaired on one side, an
  initial for a word): an exact name is strong evidence that a country alone should not
  overturn, but a name short of a word is what a namesake's looks like, and then the country
  is what tells them apart (in log-odds, the same evidence moves an uncertain match further);
  not counted when the same full date of birth or the same identifier says who it is (the
  country is then where the person lives now);
- kind (person, organisation, vessel, aircraft): -0.30 when they differ;
- legal form (organisations; :mod:`.legal_forms`): +0.02 the same family ("LLC" and "OOO"),
  -0.05 forms of different families or places ("Pte. Ltd." and "GmbH"), -0.03 a form specific
  to some countries ("GmbH") against the other side's countries when that side names no form.

A field only one side has says nothing. The explanation keeps each check with its effect, and
the word pairs of the name match, so that a reviewer sees why a hit scored as it did.
"""

from __future__ import annotations

import re
from typing import Literal

import msgspec

from .entries import ListEntry
from .legal_forms import LegalForm, legal_forms
from .similarity import Alignment, WordPair

__all__ = ["Explanation", "FieldCheck", "Subject", "weigh"]

_SAME_ID = 0.20
_SAME_DATE, _SAME_YEAR, _OTHER_YEAR = 0.05, 0.03, -0.20
_SAME_COUNTRY, _OTHER_COUNTRY, _OTHER_COUNTRY_PARTIAL = 0.02, -0.08, -0.12
_OTHER_KIND = -0.30
_SAME_FORM, _OTHER_FORM, _FORM_ELSEWHERE = 0.02, -0.05, -0.03
MAX_RAISE = _SAME_ID + _SAME_DATE + _SAME_COUNTRY + _SAME_FORM
"""The most the fields can add: a name scoring less than the threshold minus this is not a hit."""
_NOT_ID = re.compile(r"[^0-9A-Z]")


class Subject(msgspec.Struct, frozen=True):
    """Who is screened: a customer, a beneficial owner, a company."""

    name: str
    kind: Literal["person", "organisation"]
    countries: tuple[str, ...] = ()
    birth_date: str | None = None
    """ISO date or year."""
    aliases: tuple[str, ...] = ()
    identifiers: tuple[str, ...] = ()
    """Passport, national id, registration or tax numbers."""


class FieldCheck(msgspec.Struct, frozen=True):
    field: Literal["identifier", "birth_date", "country", "kind", "legal_form", "ranking"]
    outcome: Literal["agrees", "close", "differs", "unknown"]
    """``unknown``: both sides have the field but it cannot be compared (identifiers of unknown kinds)."""
    detail: str
    effect: float
    """What the check added to (or took from) the score."""


class Explanation(msgspec.Struct, frozen=True):
    """Why a hit scored as it did: the name's word pairs, then each field both sides have."""

    name_score: float
    subject_name: str
    """The subject's name (or alias) that matched, as written."""
    listed_name: str
    """The entry's name or alias that matched, as written."""
    pairs: tuple[WordPair, ...]
    unpaired_subject: tuple[str, ...]
    """Normalised words of the subject's name that paired with nothing."""
    unpaired_listed: tuple[str, ...]
    fields: tuple[FieldCheck, ...]
    score: float
    compact: bool = False
    """The name score came from comparing the names with their spaces removed."""

    def reasons(self) -> tuple[str, ...]:
        """One line per fact, for the review screens and the audit trail."""
        name = f"name {self.name_score:.2f}"
        differences = [f"{p.subject}~{p.listed} ({p.how})" for p in self.pairs if p.how != "same"]
        if self.unpaired_subject or self.unpaired_listed:
            differences.append("unpaired: " + " ".join([*self.unpaired_subject, *self.unpaired_listed]))
        if self.compact:
            differences.append("compared without spaces")
        if differences and self.name_score < 1:
            name += f": {'; '.join(differences)}"
        return (name, *(check.detail for check in self.fields))


def _year(value: str) -> int | None:
    return int(value[:4]) if len(value) >= 4 and value[:4].isdigit() else None


def _identifier(value: str) -> str:
    return _NOT_ID.sub("", value.upper())


def weigh(
    subject: Subject, entry: ListEntry, name_score: float, *, partial: bool = False
) -> tuple[float, tuple[FieldCheck, ...]]:
    """The name score raised or lowered by the fields both sides have, and each check.

    ``partial``: the name matched only in part (words left unpaired, or an initial for a word).
    """
    checks: list[FieldCheck] = []
    subject_ids = {i for i in map(_identifier, subject.identifiers) if i}
    entry_ids = {i for i in map(_identifier, entry.identifiers) if i}
    if subject_ids and entry_ids:
        shared = sorted(subject_ids & entry_ids)
        if shared:
            checks.append(
                FieldCheck("identifier", "agrees", f"identifier matches ({', '.join(shared)})", _SAME_ID)
            )
        else:
            checks.append(
                FieldCheck("identifier", "unknown", "identifiers differ (kinds unknown: not counted)", 0.0)
            )
    subject_year = _year(subject.birth_date) if subject.birth_date else None
    entry_years = [y for y in (_year(d) for d in entry.birth_dates) if y is not None]
    if subject_year is not None and entry_years:
        gap = min(abs(subject_year - y) for y in entry_years)
        full = len(subject.birth_date or "") == 10
        if full and subject.birth_date in entry.birth_dates:
            checks.append(FieldCheck("birth_date", "agrees", "birth date matches", _SAME_DATE))
        elif gap == 0 and full and all(len(d) == 10 for d in entry.birth_dates):
            # Both give the full date, and the dates differ: the same year is chance.
            checks.append(FieldCheck("birth_date", "close", "birth year matches, not the date", 0.0))
        elif gap == 0:
            checks.append(FieldCheck("birth_date", "agrees", "birth year matches", _SAME_YEAR))
        elif gap == 1:
            checks.append(FieldCheck("birth_date", "close", "birth year within a year", 0.0))
        else:
            checks.append(FieldCheck("birth_date", "differs", f"birth year differs by {gap}", _OTHER_YEAR))
    subject_countries = {c.upper() for c in subject.countries}
    if subject_countries and entry.countries:
        shared = sorted(subject_countries.intersection(entry.countries))
        if shared:
            checks.append(
                FieldCheck("country", "agrees", f"country matches ({', '.join(shared)})", _SAME_COUNTRY)
            )
        else:
            # The same full date of birth or identifier: the country is where they live now.
            if any(c.field in ("identifier", "birth_date") and c.effect >= _SAME_DATE for c in checks):
                detail, effect = "country differs (not counted: the birth date or identifier matches)", 0.0
            elif partial:
                detail, effect = "country differs (and the name matched only in part)", _OTHER_COUNTRY_PARTIAL
            else:
                detail, effect = "country differs", _OTHER_COUNTRY
            checks.append(FieldCheck("country", "differs", detail, effect))
    if subject.kind == "organisation" and entry.kind in ("organisation", "unknown"):
        check = _legal_form(subject, entry, subject_countries)
        if check is not None:
            checks.append(check)
    if entry.kind != "unknown" and entry.kind != subject.kind:
        checks.append(
            FieldCheck("kind", "differs", f"kind differs ({subject.kind} vs {entry.kind})", _OTHER_KIND)
        )
    score = name_score + sum(c.effect for c in checks)
    return round(min(1.0, max(0.0, score)), 4), tuple(checks)


def _forms(names: tuple[str, ...]) -> list[LegalForm]:
    return [form for name in names for form in legal_forms(name)]


def _legal_form(subject: Subject, entry: ListEntry, subject_countries: set[str]) -> FieldCheck | None:
    """What the two sides' legal forms say: one company form or two, and in which countries."""
    ours, theirs = _forms((subject.name, *subject.aliases)), _forms((entry.name, *entry.aliases))
    if ours and theirs:
        said = f"{ours[0].written} vs {theirs[0].written}"
        for a in ours:
            for b in theirs:
                if a.family == b.family and not (
                    a.jurisdictions and b.jurisdictions and not a.jurisdictions & b.jurisdictions
                ):
                    return FieldCheck("legal_form", "agrees", f"legal form agrees ({said})", _SAME_FORM)
        return FieldCheck("legal_form", "differs", f"legal form differs ({said})", _OTHER_FORM)
    # One side names a form only some countries have; the other side's countries are elsewhere.
    form, countries = (ours, set(entry.countries)) if ours else (theirs, subject_countries)
    places = frozenset().union(*(f.jurisdictions for f in form)) if form else frozenset()
    if places and countries and not places & countries:
        where, other = ", ".join(sorted(places)), ", ".join(sorted(countries))
        detail = f"legal form {form[0].written} is of {where}, not {other}"
        return FieldCheck("legal_form", "differs", detail, _FORM_ELSEWHERE)
    return None


def explain(
    subject_name: str, listed_name: str, alignment: Alignment, score: float, checks: tuple[FieldCheck, ...]
) -> Explanation:
    return Explanation(
        name_score=round(alignment.score, 4),
        subject_name=subject_name,
        listed_name=listed_name,
        pairs=alignment.pairs,
        unpaired_subject=alignment.unpaired_subject,
        unpaired_listed=alignment.unpaired_listed,
        fields=checks,
        score=score,
        compact=alignment.compact,
    )
