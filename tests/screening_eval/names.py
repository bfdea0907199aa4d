"""Names, their native-script forms and spelling variants, drawn from the pools."""

# ruff: noqa: RUF001 -- Cyrillic and Han are the point.
from __future__ import annotations

import random
import re
import unicodedata

from anyascii import anyascii

from .pools import (
    AR_FAMILY,
    AR_FIRST,
    EN_FIRST,
    EN_SURNAME,
    ES_FIRST,
    ES_SURNAME,
    EVAL_LEGAL_FORMS,
    FA_FIRST,
    FA_RESPELL,
    FA_SURNAME,
    HONORIFICS,
    KO_SURNAME,
    KO_SYLLABLE,
    ME_CORE,
    ORG_ADJ,
    ORG_FORMS,
    ORG_NOUN,
    ORG_PLACE,
    ORG_TRADE,
    RU_FEMALE,
    RU_MALE,
    RU_ORG_CORE,
    RU_ORG_FORM,
    RU_ORG_KIND,
    RU_PATRONYMIC,
    RU_SURNAME,
    TR_FIRST,
    TR_SURNAME,
    ZH_CITY,
    ZH_CORE,
    ZH_GIVEN,
    ZH_SURNAME,
    ZH_TRADE,
    translit,
)


class Names:
    """Names, their native-script forms and spelling variants, from the pools above."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def person(self, culture: str) -> tuple[str, list[str], dict[str, str]]:
        """(primary, aliases, parts)."""
        r = self.rng
        if culture == "ru":
            female = r.random() < 0.25
            first = r.choice(RU_FEMALE if female else RU_MALE)
            patronymic = r.choice(RU_PATRONYMIC)
            surname = r.choice(RU_SURNAME)
            if female:
                patronymic = patronymic[:-4] + ("овна" if patronymic.endswith("ович") else "евна")
                if surname[-2:] in ("ов", "ев", "ин", "ёв"):
                    surname += "а"
            cyrillic = f"{first} {patronymic} {surname}"
            primary = translit(cyrillic, "ofac")
            aliases = []
            if r.random() < 0.5:
                aliases.append(cyrillic)
            if r.random() < 0.6:
                aliases.append(translit(f"{first} {surname}", r.choice(("icao", "popular"))))
            return primary, aliases, {"cyrillic": cyrillic}
        if culture == "zh":
            surname = r.choice(list(ZH_SURNAME))
            given = "".join(r.sample(list(ZH_GIVEN), r.choice((1, 2, 2, 2))))
            latin_given = "".join(ZH_GIVEN[c] for c in given)
            latin_given = latin_given[:1] + latin_given[1:].lower()
            primary = f"{ZH_SURNAME[surname]} {latin_given}"
            aliases = [surname + given] if r.random() < 0.7 else []
            parts = {"han": surname + given}
            if r.random() < 0.4:
                aliases.append(f"{ZH_SURNAME[surname]} " + " ".join(ZH_GIVEN[c] for c in given))
            return primary, aliases, parts
        if culture == "ar":
            first, father, family = r.choice(AR_FIRST), r.choice(AR_FIRST), r.choice(AR_FAMILY)
            primary = f"{first[0]} {father[0]} {family[0]}"
            parts = {"words": " ".join((first[0], father[0], family[0]))}
            aliases = []
            if r.random() < 0.7:
                aliases.append(f"{r.choice(first)} {r.choice(father)} {r.choice(family)}")
            if r.random() < 0.5:
                aliases.append(f"{r.choice(first)} {r.choice(family)}")
            return primary, aliases, parts
        if culture == "es":
            first = r.choice(ES_FIRST) + (f" {r.choice(ES_FIRST)}" if r.random() < 0.3 else "")
            primary = f"{first} {r.choice(ES_SURNAME)} {r.choice(ES_SURNAME)}"
            aliases = [strip_accents(primary)] if r.random() < 0.5 else []
            if r.random() < 0.5:
                aliases.append(" ".join(primary.split()[:-1]))
            return primary, aliases, {}
        if culture == "en":
            middle = f" {r.choice(EN_FIRST)}" if r.random() < 0.4 else ""
            primary = f"{r.choice(EN_FIRST)}{middle} {r.choice(EN_SURNAME)}"
            aliases = (
                [f"{primary.split()[0]} {primary.split()[1][0]}. {primary.split()[-1]}"]
                if middle and r.random() < 0.5
                else []
            )
            return primary, aliases, {}
        if culture == "ko":
            given = r.sample(KO_SYLLABLE, 2)
            surname = r.choice(KO_SURNAME)
            primary = f"{surname} {given[0]} {given[1]}"
            aliases = [f"{surname} {given[0]}-{given[1].lower()}"] if r.random() < 0.6 else []
            return primary, aliases, {"words": primary}
        if culture == "fa":
            primary = f"{r.choice(FA_FIRST)} {r.choice(FA_SURNAME)}"
            return primary, [], {"words": primary}
        primary = f"{r.choice(TR_FIRST)} {r.choice(TR_SURNAME)}"
        return primary, [strip_accents(primary)] if r.random() < 0.5 else [], {}

    def organisation(self, culture: str) -> tuple[str, list[str], dict[str, str]]:
        r = self.rng
        if culture == "ru":
            core, trade, form = r.choice(RU_ORG_CORE), r.choice(RU_ORG_KIND), r.choice(RU_ORG_FORM)
            cyrillic = f"{form} «{core} {trade}»"
            primary = translit(f"{form} {core} {trade}", "ofac").upper()
            aliases = [cyrillic] if r.random() < 0.6 else []
            if r.random() < 0.4:
                aliases.append(translit(f"{core} {trade}", "popular"))
            return primary, aliases, {"cyrillic": cyrillic}
        if culture == "zh":
            city, core, trade = r.choice(list(ZH_CITY)), r.choice(list(ZH_CORE)), r.choice(list(ZH_TRADE))
            primary = f"{ZH_CITY[city]} {ZH_CORE[core]} {ZH_TRADE[trade]} Co., Ltd."
            han = f"{city}{core}{trade}有限公司"
            aliases = [han] if r.random() < 0.7 else []
            if r.random() < 0.4:
                aliases.append(f"{ZH_CORE[core]} {ZH_TRADE[trade]}")
            return primary, aliases, {"han": han}
        if culture in ("ar", "fa"):
            primary = f"{r.choice(ME_CORE)} {r.choice(ORG_TRADE)} {r.choice(('Company', 'Co.', 'LLC', 'FZE', 'Group'))}"
            return primary, [drop_legal(primary)] if r.random() < 0.4 else [], {}
        place = f"{r.choice(ORG_PLACE)} " if r.random() < 0.25 else ""
        primary = (
            f"{place}{r.choice(ORG_ADJ)} {r.choice(ORG_NOUN)} {r.choice(ORG_TRADE)} {r.choice(ORG_FORMS)}"
        )
        aliases = [drop_legal(primary)] if r.random() < 0.5 else []
        if r.random() < 0.2:
            aliases.append("".join(w[0] for w in drop_legal(primary).split()).upper())
        return primary, aliases, {}


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text).replace("ı", "i")
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def drop_legal(name: str) -> str:
    return " ".join(w for w in name.split() if w.lower().replace(".", "").strip(",") not in EVAL_LEGAL_FORMS)


_NOT_WORD = re.compile(r"[^a-z0-9]+")


def plain(name: str) -> str:
    """A name as lower-case ASCII words without legal forms: the generator's and the oracle's own
    normalisation, independent of the matcher's, so that the set does not move with it."""
    words = _NOT_WORD.sub(" ", anyascii(name).lower().replace("'", "")).split()
    kept = [w for w in words if w not in EVAL_LEGAL_FORMS]
    return " ".join(kept or words)


_INITIALISM = re.compile(r"\b(?:[a-z]\.){2,}")
_DE_CV = re.compile(r"\bde c\.? ?v\.?(?!\w)")
# The generator's titles, as the oracle reads them ("H.E." joined as "he").
_TITLES = frozenset(t.lower().replace(".", "") for titles in HONORIFICS.values() for t in titles)


def _spellings() -> dict[str, str]:
    """Each spelling of an Arabic or Persian name the pools hold, to the pool's first spelling."""
    same: dict[str, str] = {}
    for group in (*AR_FIRST, *AR_FAMILY, *FA_RESPELL.items()):
        canon = [w for w in plain(group[0]).split() if w != "al"]
        for variant in group:
            words = [w for w in plain(variant).split() if w != "al"]
            if len(words) == 1 and len(canon) == 1:
                same[words[0]] = canon[0]
                same["al" + words[0]] = canon[0]  # "Alrashid"
    return same


_SPELLINGS = _spellings()


def oracle_words(name: str, kind: str) -> tuple[str, ...]:
    """The words of a name as the oracle compares them: :func:`plain`, and also legal forms
    written with dots ("S.r.l.", "S.A. de C.V.") dropped like those without, and a person's
    leading titles ("Dr.", "Sheikh") dropped: a title is not part of whom a name names. A
    person's Arabic and Persian names are read as one spelling of each of the pools' groups
    ("Hasan" as "Hassan", "Al-Najjar" as "Najjar"): the generator itself makes true variants by
    trading those spellings, so they are one name to it. Only the oracle reads names this way;
    the generator's own checks keep :func:`plain`, so that the queries drawn stay the same."""
    text = anyascii(name).lower().replace("'", "")
    text = _DE_CV.sub(" ", text)
    text = _INITIALISM.sub(lambda m: m[0].replace(".", ""), text)
    words = plain(text).split()
    if kind == "person":
        while len(words) > 2 and words[0] in _TITLES:
            del words[0]
        words = [_SPELLINGS.get(w, w) for w in words if w != "al"] or words
    return tuple(words)
