"""Each hit says which words paired, which fields agreed, and what each did to the score."""

from __future__ import annotations

import pytest

from gateway.screening import DEFAULT_THRESHOLD, ListEntry, Screener, Subject
from gateway.screening.evidence import FieldCheck

LISTED = [
    ListEntry(
        "test",
        "smic",
        "organisation",
        "Semiconductor Manufacturing International Corporation",
        countries=("CN",),
        identifiers=("91310000717860066N",),
    ),
    ListEntry(
        "test",
        "sidorenko",
        "person",
        "Ivan Petrovich Sidorenko",
        countries=("RU",),
        birth_dates=("1971-03-14",),
        identifiers=("7201458832",),
    ),
    ListEntry("test", "kim", "person", "Kim Song Ho", countries=("KP",), birth_dates=("1968",)),
    ListEntry("test", "rashid", "person", "Abdul Aziz Mohammed Al-Rashid", countries=("SA",)),
]


@pytest.fixture(scope="module")
def screener() -> Screener:
    return Screener(LISTED)


def only(screener: Screener, subject: Subject, entry_id: str, threshold: float = 0.0):  # type: ignore[no-untyped-def]
    found = [m for m in screener.screen(subject, threshold) if m.entry.entry_id == entry_id]
    assert found, f"{entry_id} not proposed for {subject.name!r}"
    return found[0]


def test_the_issues_abbreviated_company_is_found_and_says_why(screener: Screener) -> None:
    match = only(screener, Subject("Semiconductor Manufacturing Intl Corp", "organisation"), "smic")
    assert match.score >= DEFAULT_THRESHOLD
    explanation = match.explanation
    assert explanation.subject_name == "Semiconductor Manufacturing Intl Corp"
    assert explanation.listed_name == "Semiconductor Manufacturing International Corporation"
    assert {(p.subject, p.listed, p.how) for p in explanation.pairs} == {
        ("semiconductor", "semiconductor", "same"),
        ("manufacturing", "manufacturing", "same"),
        ("international", "international", "same"),
    }
    # "Corp" and "Corporation" are one legal form: the only field either side has.
    assert [(c.field, c.outcome) for c in explanation.fields] == [("legal_form", "agrees")]


def test_each_field_check_is_kept_with_its_effect(screener: Screener) -> None:
    subject = Subject(
        "Ivan P. Sidorenko",
        "person",
        countries=("RU",),
        birth_date="1971-03-14",
        identifiers=("72 01 458832",),
    )
    match = only(screener, subject, "sidorenko")
    fields = {c.field: c for c in match.explanation.fields}
    assert fields["identifier"] == FieldCheck("identifier", "agrees", "identifier matches (7201458832)", 0.2)
    assert fields["birth_date"].outcome == "agrees" and fields["birth_date"].effect == 0.05
    assert fields["country"] == FieldCheck("country", "agrees", "country matches (RU)", 0.02)
    assert "kind" not in fields
    pairs = {p.subject: p for p in match.explanation.pairs}
    assert pairs["p"].how == "initial" and pairs["p"].listed == "petrovich"
    # The score is the name score plus each field's effect, capped at 1.
    assert match.score == min(1.0, round(match.explanation.name_score + 0.2 + 0.05 + 0.02, 4))
    assert match.reasons[1:] == (
        "identifier matches (7201458832)",
        "birth date matches",
        "country matches (RU)",
    )


def test_fields_that_differ_dismiss_a_namesake_and_say_so(screener: Screener) -> None:
    namesake = Subject("Ivan Petrovich Sidorenko", "person", countries=("UA",), birth_date="1988-01-01")
    match = only(screener, namesake, "sidorenko")
    assert match.score < DEFAULT_THRESHOLD
    assert [(c.field, c.outcome) for c in match.explanation.fields] == [
        ("birth_date", "differs"),
        ("country", "differs"),
    ]
    assert "sidorenko" not in [m.entry.entry_id for m in screener.screen(namesake)]


def test_an_identifier_the_list_does_not_match_decides_nothing(screener: Screener) -> None:
    plain = only(screener, Subject("Ivan Petrovich Sidorenko", "person"), "sidorenko")
    other = only(screener, Subject("Ivan Petrovich Sidorenko", "person", identifiers=("X1",)), "sidorenko")
    assert other.score == plain.score
    assert other.explanation.fields[0].outcome == "unknown"


def test_the_kind_of_party_dismisses(screener: Screener) -> None:
    as_company = only(screener, Subject("Ivan Petrovich Sidorenko", "organisation"), "sidorenko")
    assert as_company.score < DEFAULT_THRESHOLD
    assert as_company.explanation.fields[-1].detail == "kind differs (organisation vs person)"


def test_scripts_and_romanisations_are_explained(screener: Screener) -> None:
    korean = only(screener, Subject("Kim Seong-ho", "person"), "kim", DEFAULT_THRESHOLD)
    assert {p.how for p in korean.explanation.pairs} == {"same", "transliteration"}
    hangul = only(screener, Subject("김성호", "person"), "kim", DEFAULT_THRESHOLD)
    assert hangul.explanation.name_score == 1.0
    arabic = only(screener, Subject("عبد العزيز محمد الرشيد", "person"), "rashid", DEFAULT_THRESHOLD)
    assert "consonants" in {p.how for p in arabic.explanation.pairs}
    assert any("(consonants)" in r for r in arabic.reasons)
