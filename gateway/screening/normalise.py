"""Names brought to one comparable form: lower-case ASCII words, without legal forms.

Screening compares a customer's name, typed in any script, with list names written in
OFAC's capitals, in Cyrillic, in Chinese. So, as screening engines do (Moov Watchman,
OpenSanctions' nomenklatura): accents go, other scripts are transliterated (``anyascii``),
punctuation becomes a space, and legal-form words ("Ltd", "GmbH", "ООО") are dropped, since
"Blue Lantern Trading Co., Ltd." and "Blue Lantern Trading" are the same party.

Native-script legal forms are removed *before* transliterating: "有限公司" turns into
"youxiangongsi" glued to the name, and only the original characters can be cut cleanly.
Each Chinese or Korean character becomes its own syllable ("陈伟明" -> "chen wei ming"), so a
romanised "Chen Weiming" still shares words with it.
"""

# ruff: noqa: RUF001, RUF002, RUF003 -- Cyrillic legal forms and typographic apostrophes are the point.
from __future__ import annotations

import re
import unicodedata

from anyascii import anyascii

__all__ = ["LEGAL_FORMS", "normalise", "tokens"]

# Longest first, so that "股份有限公司" goes whole rather than leaving "股份".
_NATIVE_FORMS_CJK = (
    "股份有限公司",
    "有限责任公司",
    "有限責任公司",
    "股份公司",
    "有限公司",
    "公司",
    "株式会社",
    "有限会社",
    "合同会社",
    "(株)",
    "주식회사",
    "유한회사",
    "(주)",
)
_NATIVE_FORMS_WORDS = (
    # Russian, Ukrainian, Kazakh, Belarusian legal forms, full and abbreviated.
    "общество с ограниченной ответственностью",
    "товарищество с ограниченной ответственностью",
    "публичное акционерное общество",
    "открытое акционерное общество",
    "закрытое акционерное общество",
    "непубличное акционерное общество",
    "акционерное общество",
    "акционерное товарищество",
    "ООО",
    "ОАО",
    "ЗАО",
    "ПАО",
    "НАО",
    "АО",
    "ОДО",
    "ТОО",
    "ТОВ",
    "ПрАТ",
    "ПАТ",
    "ЧП",
    # Arabic: "company", "limited liability company".
    "شركة",
    "ذ.م.م",
)
_NATIVE_CJK_RE = re.compile("|".join(re.escape(f) for f in _NATIVE_FORMS_CJK))
_NATIVE_WORDS_RE = re.compile(
    r"(?<!\w)(?:" + "|".join(re.escape(f) for f in _NATIVE_FORMS_WORDS) + r")(?!\w)", re.IGNORECASE
)
# Han ideographs (with extension A and compatibility forms) and Hangul syllables: one syllable each.
_SYLLABIC = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")

LEGAL_FORMS = frozenset(
    {
        "co",
        "corp",
        "corporation",
        "company",
        "inc",
        "incorporated",
        "ltd",
        "limited",
        "llc",
        "llp",
        "lp",
        "plc",
        "gmbh",
        "mbh",
        "ag",
        "kg",
        "ohg",
        "ug",
        "ev",
        "sa",
        "sas",
        "sarl",
        "srl",
        "spa",
        "sl",
        "sro",
        "as",
        "bv",
        "nv",
        "ab",
        "oy",
        "oyj",
        "aps",
        "pte",
        "pty",
        "pvt",
        "ooo",
        "oao",
        "zao",
        "pao",
        "nao",
        "ao",
        "pjsc",
        "ojsc",
        "cjsc",
        "jsc",
        "tov",
        "too",
        "pat",
        "prat",
        "fze",
        "fzco",
        "fzc",
        "fzllc",
        "sdn",
        "bhd",
        "tbk",
        "kk",
        "youxian",
        "gongsi",
    }
)
"""Legal-form words dropped from names (compared after transliteration and lower-casing)."""

_LEGAL_PHRASES = re.compile(
    r"\b(?:"
    r"(?:public |open |closed |private )?joint stock|limited liability|societe anonyme|sociedad anonima"
    r"|youxian zeren|(?:publichnoe |otkrytoe |zakrytoe )?aktsionernoe obshchestvo"
    r"|obshchestvo s ogranichennoi otvetstvennostyu|obshchestvo s ogranichennoy otvetstvennostyu"
    r")\b"
)
_INITIALISM = re.compile(r"\b(?:[a-z]\.){2,}")  # "l.l.c." -> "llc", "s.a." -> "sa"
_APOSTROPHES = re.compile(r"['`´‘’ʼʻ]")  # "O'Brien" -> "obrien"; anyascii writes Arabic ʿayn as "`"
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def normalise(name: str) -> str:
    """``name`` as lower-case ASCII words separated by single spaces, legal forms removed.

    If a name is nothing but legal-form words ("The Company"), they are kept: an empty name
    would match nothing, or everything.
    """
    text = unicodedata.normalize("NFKC", name)
    text = _NATIVE_CJK_RE.sub(" ", text)
    text = _NATIVE_WORDS_RE.sub(" ", text)
    text = _SYLLABIC.sub(lambda m: f" {anyascii(m[0])} ", text)
    text = anyascii(text).lower()
    text = _INITIALISM.sub(lambda m: m[0].replace(".", ""), text)
    text = _APOSTROPHES.sub("", text)
    words = _NOT_WORD.sub(" ", text).split()
    kept = [w for w in _LEGAL_PHRASES.sub(" ", " ".join(words)).split() if w not in LEGAL_FORMS]
    if kept:
        return " ".join(kept)
    if words:
        return " ".join(words)
    # Only native legal forms (a bare "ООО"): transliterate what was removed rather than return "".
    return " ".join(_NOT_WORD.sub(" ", anyascii(unicodedata.normalize("NFKC", name)).lower()).split())


def tokens(name: str) -> tuple[str, ...]:
    """The words of ``normalise(name)``."""
    return tuple(normalise(name).split())
