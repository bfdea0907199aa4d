"""Names brought to one comparable form: lower-case ASCII words, without legal forms.

Screening compares a customer's name, typed in any script, with list names written in
OFAC's capitals, in Cyrillic, in Chinese. So, as screening engines do (Moov Watchman,
OpenSanctions' nomenklatura): accents go, other scripts are transliterated (``anyascii``),
punctuation becomes a space, and legal-form words ("Ltd", "GmbH", "ООО") are dropped, since
"Blue Lantern Trading Co., Ltd." and "Blue Lantern Trading" are the same party.

Native-script legal forms are removed *before* transliterating: "有限公司" turns into
"youxiangongsi" glued to the name, and only the original characters can be cut cleanly.
Each Chinese or Korean character becomes its own syllable ("陈伟明" -> "chen wei ming"), so a
romanised "Chen Weiming" still shares words with it (:mod:`._scripts`: pinyin by phrase, Hangul
as lists romanise it, the Arabic article split off).

What else varies between a list and a customer, and is made the same here: abbreviations of
common company words ("Intl", "Mfg", "Hldgs"), legal forms written out in many languages
("Gesellschaft mit beschränkter Haftung", "Sociedad Anónima", "Private Limited"), pinyin tone
numbers ("Wang2"), and, for people, honorifics and titles before the name ("Dr.", "Sheikh",
"Haji"), generational suffixes ("Jr."), and initials written together ("J.R." is two initials
for a person, but "S.A." one legal form for a company).
"""

# ruff: noqa: RUF001, RUF002, RUF003 -- Cyrillic legal forms and typographic apostrophes are the point.
from __future__ import annotations

import re
import unicodedata

from anyascii import anyascii
from rapidfuzz.distance import OSA

from ._scripts import arabic, han, hangul

__all__ = ["ABBREVIATIONS", "HONORIFICS", "LEGAL_FORMS", "normalise", "tokens"]

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
# Chinese company words that lists translate rather than transliterate ("上海海天物流" is listed
# as "Shanghai Haitian Logistics"): written in English before the rest becomes pinyin. Longest first.
_CJK_WORDS = {
    "集成电路": "integrated circuit",
    "半导体": "semiconductor",
    "进出口": "import export",
    "科技": "technology",
    "技术": "technology",
    "贸易": "trading",
    "电子": "electronics",
    "物流": "logistics",
    "化工": "chemical",
    "机械": "machinery",
    "航运": "shipping",
    "船舶": "shipping",
    "集团": "group",
    "国际": "international",
    "实业": "industrial",
    "工业": "industry",
    "投资": "investment",
    "发展": "development",
    "能源": "energy",
    "石油": "petroleum",
    "银行": "bank",
    "控股": "holdings",
    "制造": "manufacturing",
    "通信": "communications",
    "矿业": "mining",
    "建设": "construction",
    "工程": "engineering",
    "网络": "network",
    "设备": "equipment",
    "材料": "materials",
}
_CJK_WORDS_RE = re.compile("|".join(sorted(_CJK_WORDS, key=len, reverse=True)))
_NATIVE_CJK_RE = re.compile("|".join(re.escape(f) for f in _NATIVE_FORMS_CJK))
# Also the abbreviation in capitals glued to the name that follows, as "ООО«Ромашка»" reads once
# the quotes go, or as it is often typed: "ООО" in "ОООромашка" (case matters there: capitals,
# then lower case).
_NATIVE_WORDS_RE = re.compile(
    r"(?<!\w)(?:(?:"
    + "|".join(re.escape(f) for f in _NATIVE_FORMS_WORDS)
    + r")(?!\w)|(?-i:ООО|ОАО|ЗАО|ПАО|НАО|АО|ОДО|ТОО|ТОВ|ПрАТ|ПАТ)(?=[а-яёіїєґ]))",
    re.IGNORECASE,
)

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
        "private",
        "ltda",
        "limitada",
        "sacv",
        "cv",
        "sapi",
        "se",
        "kft",
        "zrt",
        "doo",
        "dd",
        "ead",
        "eood",
        "sp",
        "zoo",
        "pt",
        "aktiengesellschaft",
        "aktiebolag",
        "osakeyhtio",
        "kabushiki",
        "kaisha",
        "yugen",
        "godo",
        "proprietary",
        # Words found only inside legal forms: what is left of one when a misspelling or a
        # missing space breaks the phrase ("Limitd Liability Company", "Jointstock Company").
        "liability",
        "jointstock",
        "aktsionernoe",
        "obshchestvo",
    }
)
"""Legal-form words dropped from names (compared after transliteration and lower-casing)."""

_LEGAL_PHRASES = re.compile(
    r"\b(?:"
    r"(?:public |open |closed |private )?joint stock|limited liability|societe anonyme|sociedad anonima"
    r"|youxian zeren|(?:publichnoe |otkrytoe |zakrytoe )?aktsionernoe obshchestvo"
    r"|obshchestvo s ogranichennoi otvetstvennostyu|obshchestvo s ogranichennoy otvetstvennostyu"
    r"|gesellschaft mit beschrankter haftung|sociedade anonima|sociedad limitada|sociedade limitada"
    r"|societe a responsabilite limitee|societa per azioni|societa a responsabilita limitata"
    r"|naamloze vennootschap|besloten vennootschap|anonim sirketi|limited sirketi|sp z o ?o|spolka z o ?o"
    r"|public limited company|private limited|de c ?v|s de r ?l|sdn bhd|pty ltd|pte ltd"
    r")\b"
)
ABBREVIATIONS = {
    "intl": "international",
    "int": "international",
    "natl": "national",
    "mfg": "manufacturing",
    "mfrs": "manufacturers",
    "tech": "technology",
    "techs": "technologies",
    "inds": "industries",
    "ind": "industries",
    "indus": "industries",
    "eng": "engineering",
    "engg": "engineering",
    "hldgs": "holdings",
    "hldg": "holding",
    "invest": "investment",
    "invt": "investment",
    "comms": "communications",
    "svcs": "services",
    "svc": "service",
    "mgmt": "management",
    "grp": "group",
    "assn": "association",
    "bros": "brothers",
    "petrol": "petroleum",
    "chem": "chemical",
    "elec": "electric",
    "dev": "development",
    "ent": "enterprises",
}
"""Abbreviations of common company words, written out (both sides, so either spelling matches)."""
# Words that join a name and say nothing: "Al Noor Trading and Contracting", "Ivan & Sons".
_FILLERS = frozenset({"and", "the", "of"})
HONORIFICS = frozenset(
    {
        "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "professor", "sir", "dame", "lord", "lady",
        "hon", "rev", "fr", "gen", "general", "col", "colonel", "maj", "major", "capt",
        "captain", "lt", "sgt", "adm", "admiral", "brig", "sheikh", "shaikh", "sheik", "shaykh",
        "haji", "hajji", "hadji", "haj", "hajj", "sayyid", "sayed", "seyed", "seyyed", "sayyed",
        "imam", "mullah", "mulla", "maulana", "ayatollah", "hojatoleslam", "hojjatoleslam",
        "prince", "princess", "herr", "frau", "monsieur", "mme", "mlle", "sr", "sra", "srta",
        "dona", "ing", "lic", "gospodin", "gospozha", "bay", "bayan", "tuan", "puan", "datuk",
        "dato", "engr",
    }
)  # fmt: skip
"""Titles dropped from the start of a person's name ("Sheikh", "Dr."), never from a company's."""
_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "junior", "senior"})
# "wang2", "wei3ming2": tone numbers after pinyin syllables.
_TONE_NUMBERS = re.compile(r"\b(?:[a-z]{1,6}[1-5])+\b")
# "Abd al-Aziz", "Abdel Aziz", "Abd-ul Aziz": one Arabic name element, written as lists mostly do.
_ABD_AL = re.compile(r"\babd(?:[aeiou]l)?[\s-]+(?:(?:al|el|ul|ol)[\s-]+)?(?=[a-z]{3})")
_INITIALISM = re.compile(r"\b(?:[a-z]\.){2,}")  # "l.l.c." -> "llc", "s.a." -> "sa"
_APOSTROPHES = re.compile(r"['`´‘’ʼʻ]")  # "O'Brien" -> "obrien"; anyascii writes Arabic ʿayn as "`"
_NOT_WORD = re.compile(r"[^a-z0-9]+")


_LONG_LEGAL_FORMS = tuple(f for f in LEGAL_FORMS if len(f) >= 6)


def _misspelt_legal_form(word: str) -> bool:
    """ "Compnay", "Corproation", "Limtied": a long legal-form word within an edit or a swap."""
    return len(word) >= 6 and any(
        abs(len(word) - len(form)) <= 1 and OSA.distance(word, form) <= 1 for form in _LONG_LEGAL_FORMS
    )


def normalise(name: str, kind: str = "unknown") -> str:
    """``name`` as lower-case ASCII words separated by single spaces, legal forms removed.

    ``kind`` is the party's (``"person"``, ``"organisation"``, ...): honorifics go and initials
    are split only from a person's name, abbreviations are written out only in other names.
    If a name is nothing but legal-form words ("The Company"), they are kept: an empty name
    would match nothing, or everything.
    """
    person = kind == "person"
    text = unicodedata.normalize("NFKC", name)
    text = _NATIVE_CJK_RE.sub(" ", text)
    text = _NATIVE_WORDS_RE.sub(" ", text)
    if not person:
        text = _CJK_WORDS_RE.sub(lambda m: f" {_CJK_WORDS[m[0]]} ", text)
    text = hangul(han(arabic(text)))
    text = anyascii(text).lower()
    # "J.R." is two initials of a person, "S.A." one legal form.
    text = _INITIALISM.sub(lambda m: m[0].replace(".", " " if person else ""), text)
    text = _APOSTROPHES.sub("", text)
    text = _TONE_NUMBERS.sub(lambda m: re.sub(r"[1-5]", "", m[0]), text)
    text = _ABD_AL.sub("abdul ", text)
    words = _NOT_WORD.sub(" ", text).split()
    kept = [
        w
        for w in _LEGAL_PHRASES.sub(" ", " ".join(words)).split()
        if w not in LEGAL_FORMS and w not in _FILLERS
    ]
    if person:
        if kept[:2] == ["h", "e"] and len(kept) > 2:  # "H.E.", His or Her Excellency
            del kept[:2]
        while len(kept) > 1 and kept[0] in HONORIFICS:
            del kept[0]
        while len(kept) > 1 and kept[-1] in _SUFFIXES:
            del kept[-1]
    else:
        kept = [ABBREVIATIONS.get(w, w) for w in kept if not _misspelt_legal_form(w)] or kept
    if kept:
        return " ".join(kept)
    if words:
        return " ".join(words)
    # Only native legal forms (a bare "ООО"): transliterate what was removed rather than return "".
    return " ".join(_NOT_WORD.sub(" ", anyascii(unicodedata.normalize("NFKC", name)).lower()).split())


def tokens(name: str, kind: str = "unknown") -> tuple[str, ...]:
    """The words of ``normalise(name, kind)``."""
    return tuple(normalise(name, kind).split())
