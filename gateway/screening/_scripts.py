"""Romanising the scripts whose names lists and customers write differently from ``anyascii``.

- Han characters: Hanyu Pinyin from ``pypinyin``, which reads a character by the words around
  it (重庆 "chong qing", 长城 "chang cheng", 银行 "yin hang", where a per-character table
  says "zhong", "zhang", "xing"); one word per syllable, so that "Wang Weiming" and 王伟明
  share words.
- Hangul: the syllable's letters (jamo) romanised as lists write North and South Korean names
  (McCune-Reischauer without its marks: 김성호 "kim song ho", 리철민 "ri chol min"), with
  its voicing: k, t, p after a vowel or a nasal within a name are g, d, b, as the lists write
  them (박용복 "pak yong bok", 한덕원 "han dok won", 류국승 "ryu guk sung"); the matcher folds
  Revised Romanisation ("seong", "cheol") onto it.
- Arabic script (Arabic, Persian): the article ال is split off as "al", "عبد الله" is
  "abdullah" and any other "عبد ال..." "abdul"; the rest is written as its consonants only
  (محمد "mhmd", رائد "rd"), because the script leaves short vowels out and its long ones are
  spelt every which way in Latin: the matcher compares such words with the consonants of the
  other side's.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from anyascii import anyascii

__all__ = ["ARABIC_SCRIPT", "arabic", "han", "hangul"]

_HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_HANGUL_RUN = re.compile(r"[\uac00-\ud7a3]+")
ARABIC_SCRIPT = re.compile(r"[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]")

_INITIALS = (
    "k",
    "kk",
    "n",
    "t",
    "tt",
    "r",
    "m",
    "p",
    "pp",
    "s",
    "ss",
    "",
    "j",
    "jj",
    "ch",
    "kh",
    "th",
    "ph",
    "h",
)
_VOWELS = (
    "a", "ae", "ya", "yae", "o", "e", "yo", "ye", "o", "wa", "wae", "oe", "yo", "u", "wo", "we", "wi", "yu",
    "u", "ui", "i",
)  # fmt: skip
_FINALS = (
    "", "k", "k", "k", "n", "n", "n", "t", "l", "k", "m", "l", "l", "l", "p", "l", "m", "p", "p", "t", "t",
    "ng", "t", "t", "k", "t", "p", "t",
)  # fmt: skip


def _syllable(char: str) -> str:
    index = ord(char) - 0xAC00
    initial, rest = divmod(index, 588)
    vowel, final = divmod(rest, 28)
    return _INITIALS[initial] + _VOWELS[vowel] + _FINALS[final]


# A plain stop after a voiced sound is voiced (McCune-Reischauer): only the first syllable of a
# run (the surname) keeps k, t, p, unless the syllable before ends in another stop.
_VOICED = {"k": "g", "t": "d", "p": "b"}
_VOICED_END = ("a", "e", "i", "o", "u", "n", "m", "ng", "l")


def _run(run: str) -> str:
    words: list[str] = []
    for char in run:
        word = _syllable(char)
        if words and words[-1].endswith(_VOICED_END) and word[:1] in _VOICED and word[1:2] != word[:1]:
            word = _VOICED[word[0]] + word[1:]
        words.append(word)
    return " ".join(words)


def hangul(text: str) -> str:
    """Each Hangul syllable as its own romanised word."""
    return _HANGUL_RUN.sub(lambda m: f" {_run(m[0])} ", text)


@functools.cache
def _pinyin() -> Callable[[str], list[str]]:
    # Imported on first use: its phrase dictionary costs about 40 MB and 0.4 s, and most lists
    # and customers never need it.
    from pypinyin import lazy_pinyin

    return lazy_pinyin


def han(text: str) -> str:
    """Each run of Han characters as pinyin, one word per syllable."""
    if not _HAN_RUN.search(text):
        return text
    read = _pinyin()
    return _HAN_RUN.sub(lambda m: " " + " ".join(read(m[0])) + " ", text)


_ABDULLAH = re.compile(r"(?<![\u0600-\u06ff])عبد\s*الله(?![\u0600-\u06ff])")
_ABD_AL = re.compile(r"(?<![\u0600-\u06ff])عبد\s*ال")
_ARTICLE = re.compile(r"(?<![\u0600-\u06ff])ال(?=[\u0600-\u06ff]{2})")


_ARABIC_RUN = re.compile(r"[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]+")
_NOT_CONSONANT = re.compile(r"[^bcdfghjklmnpqrstvxz]")


def arabic(text: str) -> str:
    """Arabic-script names with the article and "Abd al-" written as lists write them, and the
    rest as Latin consonants."""
    if not ARABIC_SCRIPT.search(text):
        return text
    # "Servant of God" is one name, written as one word in Latin: "Abdullah", "Abdallah".
    text = _ABDULLAH.sub(" abdullah ", text)
    text = _ABD_AL.sub(" abdul ", text)
    text = _ARTICLE.sub(" al ", text)
    return _ARABIC_RUN.sub(lambda m: f" {_consonants(m[0])} ", text)


def _consonants(run: str) -> str:
    # ي and و are long vowels as often as consonants; ء and ع have no Latin letter: all go.
    latin = _NOT_CONSONANT.sub("", anyascii(run).lower())
    if len(latin) < 2:  # علي "l" would read as an initial: keep its long vowel ("ly")
        return re.sub(r"[^a-z]", "", anyascii(run).lower()) or latin
    return latin
