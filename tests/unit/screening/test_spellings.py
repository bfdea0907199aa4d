# ruff: noqa: RUF001, RUF003 -- Cyrillic names and letters are the point.
"""One name or two: real-word spellings, Korean syllables, initials, legal forms run into a name
(issue 19, fourth round)."""

from __future__ import annotations

import pytest

from gateway.screening import ListEntry, Screener, Subject
from gateway.screening._korean import korean_similarity
from gateway.screening.normalise import normalise
from gateway.screening.similarity import align
from gateway.screening.spellings import other_name


@pytest.mark.parametrize(
    ("customer", "listed"),
    [("penridge", "pemridge"), ("arslan", "aslan"), ("oliver", "olivia"), ("tanturk", "tasturk")],
)
def test_a_consonant_off_is_another_name(customer: str, listed: str) -> None:
    assert other_name(customer, listed)


@pytest.mark.parametrize(
    ("customer", "listed"),
    [
        ("nabeel", "nabil"),  # vowels
        ("omar", "umar"),
        ("tarek", "tariq"),  # k/q
        ("qassem", "qasim"),
        ("oleh", "oleg"),  # Ukrainian г
        ("hamzah", "hamza"),  # final h
        ("grachyov", "grachev"),  # ё
    ],
)
def test_transliterations_are_one_name(customer: str, listed: str) -> None:
    assert not other_name(customer, listed)


def test_pinyin_syllables_count_only_in_a_chinese_name() -> None:
    assert other_name("jiajun", "jiejun", pinyin=True)
    assert other_name("fangli", "fanglei", pinyin=True)
    assert not other_name("jiajun", "jiejun")  # the consonants agree: the vowels decide only in pinyin
    # Not a syllable apart: the same letters swapped (a typo), or a c/k swap ("Canaan" reads as pinyin).
    assert not other_name("taolei", "taolie", pinyin=True)
    assert not other_name("canaan", "kanaan", pinyin=True)


def test_korean_syllables_go_by_their_accepted_spellings() -> None:
    assert korean_similarity("kwang", "gwang", 0.0) >= 0.98  # 광 in both romanisations
    assert korean_similarity("jong", "chong", 0.0) >= 0.98  # 정
    assert korean_similarity("seung", "song", 0.9) == 0.0  # 승 against 성 or 송
    assert korean_similarity("chol", "chun", 0.8) == 0.0
    assert korean_similarity("sung", "song", 0.8) == 0.8  # 성 may be either, 승 or 송 only one
    assert align(("kim", "kwang", "il"), ("kim", "gwang", "il")).score >= 0.98


def _filler(count: int) -> list[ListEntry]:
    return [ListEntry("test", f"f{i}", "person", f"Fillername{i} Fillersurname{i}") for i in range(count)]


def person(name: str) -> Subject:
    return Subject(name=name, kind="person")


def test_a_word_the_list_holds_as_a_name_is_not_a_typo_of_another() -> None:
    listed = ListEntry("test", "pem", "person", "Kevin Pemridge")
    alone = Screener([listed, *_filler(50)])
    # With nothing to say "Penridge" is a name, it may be a typo: alerted.
    assert [m.entry.entry_id for m in alone.screen(person("Kevin Penridge"))] == ["pem"]
    # The list holds "Penridge" as another family's name: another person.
    known = Screener([listed, ListEntry("test", "pen", "person", "Anna Penridge"), *_filler(50)])
    assert [m.entry.entry_id for m in known.screen(person("Kevin Penridge"))] == []
    # A transliteration the list also holds is still one name.
    arabic = Screener(
        [
            ListEntry("test", "nabil", "person", "Nabil Haddad"),
            ListEntry("test", "other", "person", "Nabeel Khoury"),
            *_filler(50),
        ]
    )
    assert "nabil" in [m.entry.entry_id for m in arabic.screen(person("Nabeel Haddad"))]


def test_an_initial_stands_for_a_given_name() -> None:
    screener = Screener(
        [
            ListEntry("test", "dolin", "person", "Denis Dolin"),
            ListEntry("test", "tihov", "person", "Yurii Tihov"),
            ListEntry("test", "lindfield", "person", "Mary Lindfield"),
            *_filler(50),
        ]
    )
    # "Yarov" is the customer's surname; "D." his middle initial, not "Dolin".
    assert screener.screen(person("Denis D. Yarov")) == []
    assert [m.entry.entry_id for m in screener.screen(person("D. Dolin"))] == ["dolin"]
    # After the customer's own first name, an initial is a middle name's, not "Yurii".
    assert screener.screen(person("Boris Y. Tikhov")) == []
    assert [m.entry.entry_id for m in screener.screen(person("Y. Tikhov"))] == ["tihov"]
    # A first initial with a middle name more is still the listed person.
    assert [m.entry.entry_id for m in screener.screen(person("M. Carl Lindfield"))] == ["lindfield"]


def test_an_initial_is_no_rare_word_in_the_candidate_search() -> None:
    # "K." is on the list once, "Brookwell" fifteen times: looked up as a word, "K." made the one
    # name holding it the only candidate, and "Karen Brookwell" was never scored.
    namesakes = [
        ListEntry("test", f"b{i}", "person", f"{first} Brookwell")
        for i, first in enumerate(
            [
                "Adam",
                "Brian",
                "Carl",
                "Colin",
                "Dennis",
                "Edward",
                "Frank",
                "Gary",
                "Henry",
                "Ian",
                "Jack",
                "Neil",
                "Oliver",
                "Philip",
                "Ralph",
            ]
        )
    ]
    screener = Screener(
        [
            ListEntry("test", "nancy", "person", "Nancy K. Brookwell"),
            ListEntry("test", "karen", "person", "Karen Brookwell"),
            *namesakes,
            *_filler(1000),
        ]
    )
    assert "karen" in [m.entry.entry_id for m in screener.screen(person("K. Brookwell"))]


def test_legal_forms_run_into_the_name_or_broken_by_a_typo_go() -> None:
    assert normalise("ПАОволга Снаб", "organisation") == "volga snab"
    assert normalise("ООО«Ромашка»", "organisation") == "romashka"
    assert normalise("Аоки Такаши", "person") == "aoki takashi"  # no capitals glued: a name
    assert normalise("Emerald Shield Petroleum Lilited Liability Company", "organisation") == (
        "emerald shield petroleum"
    )
    assert normalise("Horizon Compass Machinery Jointstock", "organisation") == "horizon compass machinery"
