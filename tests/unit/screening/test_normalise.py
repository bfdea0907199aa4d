# ruff: noqa: RUF001 -- Cyrillic legal forms are the point.
"""Name normalisation: what two spellings of one name have in common after it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.screening import normalise, tokens


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # accents and case
        ("Ñúñez Müller", "nunez muller"),
        ("Şükrü Çelik", "sukru celik"),
        ("Đorđević", "dordevic"),
        # other scripts are transliterated
        ("Иван Петрович Сидоренко", "ivan petrovich sidorenko"),
        ("陈伟明", "chen wei ming"),  # one syllable per character
        ("김성호", "kim song ho"),  # as the lists romanise Korean names
        # punctuation becomes a space; apostrophes just go
        ("AL-NOURI, Farid Hassan", "al nouri farid hassan"),
        ("O'Brien & Sons", "obrien sons"),
        ("Qar’awi", "qarawi"),
        ("  Kim   Jong-Un\t", "kim jong un"),
        # legal forms, Latin
        ("Blue Lantern Trading Co., Ltd.", "blue lantern trading"),
        ("ACME L.L.C.", "acme"),
        ("Nunez Muller S.A.", "nunez muller"),
        ("Public Joint Stock Company Rosneft", "rosneft"),
        ("OBSHCHESTVO S OGRANICHENNOY OTVETSTVENNOSTYU POLYARNAYA ZVEZDA", "polyarnaya zvezda"),
        ("Shenzhen Jinlong Maoyi Youxian Gongsi", "shenzhen jinlong maoyi"),
        # legal forms in their own script, removed before transliterating
        ("蓝灯贸易有限公司", "lan deng mao yi"),
        ("华为技术股份有限公司", "hua wei ji shu"),
        ("株式会社東京", "dong jing"),
        ("ООО «Полярная звезда»", "polyarnaya zvezda"),
        ("ПАО Газпром", "gazprom"),
        ("Акционерное общество Восток", "vostok"),
        ("شركة النور", "al nwr"),  # the article split off; Arabic script writes no short vowels
        # full-width forms
        ("ＡＢＣ　Ｌｔｄ", "abc"),
    ],
)
def test_normalise(name: str, expected: str) -> None:
    assert normalise(name) == expected


def test_a_name_made_only_of_legal_forms_is_kept() -> None:
    assert normalise("The Company Ltd") == "the company ltd"
    assert normalise("Company Limited") == "company limited"
    assert normalise("ООО") == "ooo"
    assert normalise("...") == ""


def test_tokens() -> None:
    assert tokens("SIDORENKO, Ivan Petrovich") == ("sidorenko", "ivan", "petrovich")
    assert tokens("") == ()


@given(st.text(max_size=40))
def test_normalise_gives_lower_case_ascii_words(name: str) -> None:
    result = normalise(name)
    assert result == " ".join(result.split())
    assert all(c.isascii() and (c.isalnum() or c == " ") and not c.isupper() for c in result)


@given(
    st.text(alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzАБВОЖЗИКЛ陈伟明有限公司 -.,'"), max_size=40)
)
def test_normalise_is_idempotent(name: str) -> None:
    once = normalise(name)
    assert normalise(once) == once
