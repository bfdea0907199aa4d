"""Near namesakes on one list: the entry that explains the customer's name best outranks the others,
and a legal form tells companies of one name apart."""

from __future__ import annotations

import pytest

from gateway.screening import DEFAULT_THRESHOLD, ListEntry, Screener, Subject
from gateway.screening.legal_forms import legal_forms
from gateway.screening.ranking import OUTRANKED, Contender, outranked

ENTRIES = [
    ListEntry("t", "nasser", "person", "Abdullah Nasser Al-Bitar", countries=("SA",)),
    ListEntry("t", "mustafa", "person", "Abdullah Mustafa Al-Bitar", aliases=("Abdullah Al-Bitar",)),
    ListEntry("t", "yassin-short", "person", "Ahmed Yassin", countries=("LB",)),
    ListEntry("t", "yassin-long", "person", "Ahmed Hamza Yassin", countries=("LB",)),
    ListEntry("t", "kang-1", "person", "Kang Hak Min", countries=("KP",)),
    ListEntry("t", "kang-2", "person", "Kang Min Hak", countries=("KP",)),
    ListEntry("t", "pte", "organisation", "Kavian Shipping Pte. Ltd.", countries=("SG",)),
    ListEntry("t", "gmbh", "organisation", "Kavian Shipping GmbH", countries=("DE",)),
    ListEntry("t", "zagros-fze", "organisation", "Zagros Investment FZE", countries=("AE",)),
    ListEntry("t", "zagros-group", "organisation", "Zagros Investment Group", countries=("IR",)),
]


@pytest.fixture(scope="module")
def screener() -> Screener:
    return Screener(ENTRIES)


def scores(screener: Screener, subject: Subject) -> dict[str, float]:
    return {m.entry.entry_id: m.score for m in screener.screen(subject, threshold=0.5)}


def test_an_entry_matching_only_through_what_another_explains_is_outranked(screener: Screener) -> None:
    found = {
        m.entry.entry_id: m for m in screener.screen(Subject("Abdullah Naosser Al-Bitar", "person"), 0.5)
    }
    assert found["nasser"].score >= DEFAULT_THRESHOLD
    assert found["mustafa"].score < DEFAULT_THRESHOLD
    assert found["mustafa"].reasons[-1] == "outranked: t nasser matches the name better"
    assert found["mustafa"].explanation.fields[-1].effect == -OUTRANKED


def test_a_listed_name_with_a_middle_name_more_is_not_outranked(screener: Screener) -> None:
    found = scores(screener, Subject("Ahmed Yassin", "person"))
    assert found["yassin-short"] == 1.0
    assert found["yassin-long"] >= DEFAULT_THRESHOLD


def test_the_same_words_in_the_customers_order_outrank_another_order(screener: Screener) -> None:
    found = scores(screener, Subject("Kang Hak Min", "person"))
    assert found["kang-1"] == 1.0
    assert found["kang-2"] < DEFAULT_THRESHOLD


def test_a_legal_form_tells_two_companies_of_one_name_apart(screener: Screener) -> None:
    found = {
        m.entry.entry_id: m for m in screener.screen(Subject("Kavian Shipping GmbH", "organisation"), 0.5)
    }
    assert found["gmbh"].score == 1.0
    assert "legal form agrees (gmbh vs gmbh)" in found["gmbh"].reasons
    assert "legal form differs (gmbh vs pte ltd)" in found["pte"].reasons
    assert found["pte"].score < DEFAULT_THRESHOLD


def test_a_generic_word_more_is_outranked_by_the_name_without_it(screener: Screener) -> None:
    found = scores(screener, Subject("Zagrosinvestment", "organisation"))
    assert found["zagros-fze"] >= DEFAULT_THRESHOLD
    assert found["zagros-group"] < found["zagros-fze"] - OUTRANKED + 0.05


def test_a_form_of_one_country_against_an_entry_elsewhere_lowers_slightly(screener: Screener) -> None:
    plain = scores(screener, Subject("Zagros Investment", "organisation"))["zagros-fze"]
    found = {
        m.entry.entry_id: m for m in screener.screen(Subject("Zagros Investment OOO", "organisation"), 0.5)
    }
    assert found["zagros-fze"].reasons[-1] == "legal form differs (ooo vs fze)"
    assert plain - 0.06 < found["zagros-fze"].score < plain


def test_namesakes_matching_equally_outrank_nothing() -> None:
    a = Contender(0, (1.0, 1.0), 1.0, 0, 0.92, ())
    b = Contender(0, (1.0, 1.0), 1.0, 0, 1.0, ())
    assert outranked([a, b]) == {}
    # The better name does not outrank a hit that the other fields put higher.
    c = Contender(0, (1.0, 0.0), 0.85, 0, 1.0, ())
    d = Contender(0, (1.0, 1.0), 0.95, 0, 0.97, ())
    assert outranked([c, d]) == {}
    assert outranked([Contender(0, (1.0, 0.0), 0.85, 0, 0.85, ()), d]) == {0: 1}


@pytest.mark.parametrize(
    ("name", "family", "places"),
    [
        ("Blue Lantern Trading Co., Ltd.", "limited", set()),
        ("ООО «Ромашка Трейд»", "llc", {"RU", "BY", "UZ", "KG", "TJ", "AM"}),  # noqa: RUF001
        ("Kavian Shipping Pte. Ltd.", "limited", {"SG"}),
        ("Amber Compass S.A. de C.V.", "sa", {"MX"}),
        ("Y Sp. z o.o.", "spzoo", {"PL"}),
        ("上海海天物流有限公司", "limited", {"CN", "HK", "TW", "MO"}),
        ("X Gesellschaft mit beschränkter Haftung", "gmbh", {"DE", "AT", "CH"}),
    ],
)
def test_legal_forms_are_read_at_the_ends_of_a_name(name: str, family: str, places: set[str]) -> None:
    (form,) = legal_forms(name)
    assert (form.family, set(form.jurisdictions)) == (family, places)


@pytest.mark.parametrize(
    "name", ["As-Salam Trading", "Kavian Shipping Company", "Kavian Shipping Group", "OOO"]
)
def test_no_form_is_read_from_name_words_or_from_company_alone(name: str) -> None:
    assert legal_forms(name) == ()
