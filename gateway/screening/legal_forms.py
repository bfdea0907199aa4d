"""Which legal form a company's name carries, of what family, and where such companies are registered.

:mod:`.normalise` drops legal forms from names, since "Blue Lantern Trading Co., Ltd." and
"Blue Lantern Trading" are one party. But the form still says something: a list holding both
"Kavian Shipping Pte. Ltd." and "Kavian Shipping GmbH" holds two companies, and a customer
calling itself a GmbH is more likely the second. So the form is read here, from the name as
written, and :mod:`.evidence` weighs it like the other fields:

- a *family* groups the spellings and translations of one form ("LLC", "OOO", "ООО",
  "Limited Liability Company"; "S.A.", "Sociedad Anónima"); two names whose forms share no
  family are two kinds of company;
- a form's *jurisdictions*, where it is specific to a few (Pte: Singapore, GmbH: Germany,
  Austria, Switzerland, OOO: Russia and neighbours), can be set against the other side's
  countries when that side names no form.

Forms are looked for only at the ends of a name (where they are written: "ООО «Ромашка»",
"Kavian Shipping LLC"), so that a name word that happens to spell one ("As-Salam") is not read
as a form. "Company" and "Co." alone are no form: every kind of company is one.
"""

# ruff: noqa: RUF002 -- Cyrillic legal forms are the point.
from __future__ import annotations

import functools
import re
import unicodedata

from anyascii import anyascii

__all__ = ["LegalForm", "legal_forms"]

# (family, jurisdictions) per spelling, as lower-case ASCII words without dots.
_FORMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "llc": ("llc", ()),
    "limited liability company": ("llc", ()),
    "ooo": ("llc", ("RU", "BY", "UZ", "KG", "TJ", "AM")),
    "obshchestvo s ogranichennoy otvetstvennostyu": ("llc", ("RU", "BY", "UZ", "KG", "TJ", "AM")),
    "obshchestvo s ogranichennoi otvetstvennostyu": ("llc", ("RU", "BY", "UZ", "KG", "TJ", "AM")),
    "too": ("llc", ("KZ",)),
    "tov": ("llc", ("UA",)),
    "jsc": ("jsc", ()),
    "joint stock company": ("jsc", ()),
    "public joint stock company": ("jsc", ()),
    "pjsc": ("jsc", ()),
    "ojsc": ("jsc", ()),
    "cjsc": ("jsc", ()),
    "ao": ("jsc", ("RU", "KZ", "BY")),
    "oao": ("jsc", ("RU", "KZ", "BY")),
    "zao": ("jsc", ("RU", "KZ", "BY")),
    "nao": ("jsc", ("RU",)),
    "pao": ("jsc", ("RU",)),
    "aktsionernoe obshchestvo": ("jsc", ("RU", "KZ", "BY")),
    "publichnoe aktsionernoe obshchestvo": ("jsc", ("RU",)),
    "pat": ("jsc", ("UA",)),
    "prat": ("jsc", ("UA",)),
    "ltd": ("limited", ()),
    "limited": ("limited", ()),
    "co ltd": ("limited", ()),
    "company limited": ("limited", ()),
    "private limited": ("limited", ()),
    "plc": ("limited", ()),
    "public limited company": ("limited", ()),
    "pte ltd": ("limited", ("SG",)),
    "pte": ("limited", ("SG",)),
    "pvt ltd": ("limited", ("IN", "PK", "BD", "LK", "NP")),
    "pty ltd": ("limited", ("AU", "ZA")),
    "pty": ("limited", ("AU", "ZA")),
    "sdn bhd": ("limited", ("MY",)),
    "bhd": ("limited", ("MY",)),
    "corp": ("corporation", ()),
    "corporation": ("corporation", ()),
    "inc": ("corporation", ()),
    "incorporated": ("corporation", ()),
    "gmbh": ("gmbh", ("DE", "AT", "CH")),
    "gesellschaft mit beschrankter haftung": ("gmbh", ("DE", "AT", "CH")),
    "ag": ("ag", ("DE", "AT", "CH", "LI")),
    "aktiengesellschaft": ("ag", ("DE", "AT", "CH", "LI")),
    "sa": ("sa", ()),
    "sociedad anonima": ("sa", ()),
    "societe anonyme": ("sa", ()),
    "sociedade anonima": ("sa", ()),
    "sa de cv": ("sa", ("MX",)),
    "sapi de cv": ("sa", ("MX",)),
    "srl": ("srl", ()),
    "sarl": ("srl", ()),
    "ltda": ("ltda", ()),
    "limitada": ("ltda", ()),
    "bv": ("bv", ("NL", "BE")),
    "nv": ("nv", ("NL", "BE", "CW", "SX")),
    "as": ("as", ()),
    "anonim sirketi": ("as", ("TR",)),
    "sp z oo": ("spzoo", ("PL",)),
    "spolka z oo": ("spzoo", ("PL",)),
    "kk": ("kk", ("JP",)),
    "kabushiki kaisha": ("kk", ("JP",)),
    "fze": ("free zone", ("AE",)),
    "fzco": ("free zone", ("AE",)),
    "fzc": ("free zone", ("AE",)),
    "fzllc": ("free zone", ("AE",)),
    "fz llc": ("free zone", ("AE",)),
    "llp": ("partnership", ()),
    "lp": ("partnership", ()),
}
_NATIVE = {
    "股份有限公司": ("jsc", ("CN", "HK", "TW", "MO")),
    "有限责任公司": ("limited", ("CN", "HK", "TW", "MO")),
    "有限公司": ("limited", ("CN", "HK", "TW", "MO")),
    "株式会社": ("kk", ("JP",)),
}
_LONGEST = max(len(k.split()) for k in _FORMS)
_DOTS = re.compile(r"\.")
_NOT_WORD = re.compile(r"[^a-z0-9]+")
# Forms written before the name (Russian, Ukrainian, Kazakh practice); any other at the start is
# more likely a name word ("As-Salam Trading").
_LEADING = frozenset(k for k, (family, _) in _FORMS.items() if family in ("llc", "jsc"))
# Words that may stand between a form and the name without ending the run: "Co., Ltd.", "and".
_GENERIC = frozenset({"co", "company"})


class LegalForm:
    """A legal form read from a name: its family and, if it is specific to a few, its jurisdictions."""

    __slots__ = ("family", "jurisdictions", "written")

    def __init__(self, written: str, family: str, jurisdictions: tuple[str, ...]) -> None:
        self.written = written
        self.family = family
        self.jurisdictions = frozenset(jurisdictions)

    def __repr__(self) -> str:
        return f"LegalForm({self.written!r}, {self.family!r})"


def _run(words: list[str], *, from_end: bool) -> list[LegalForm]:
    """The forms at one end of ``words``, longest spelling first."""
    found: list[LegalForm] = []
    rest = list(words)
    while len(rest) > 1:
        for size in range(min(_LONGEST, len(rest) - 1), 0, -1):
            part = rest[-size:] if from_end else rest[:size]
            key = " ".join(part)
            if key in _FORMS and (from_end or key in _LEADING):
                found.append(LegalForm(key, *_FORMS[key]))
                rest = rest[:-size] if from_end else rest[size:]
                break
        else:
            if (rest[-1] if from_end else rest[0]) in _GENERIC:
                rest = rest[:-1] if from_end else rest[1:]
                continue
            break
    return found


@functools.lru_cache(maxsize=65536)
def legal_forms(name: str) -> tuple[LegalForm, ...]:
    """The legal forms written at the start or the end of ``name`` ("Co., Ltd.", "ООО", "GmbH")."""
    text = unicodedata.normalize("NFKC", name)
    found = [LegalForm(form, *_NATIVE[form]) for form in _NATIVE if text.rstrip().endswith(form)][:1]
    words = _NOT_WORD.sub(" ", _DOTS.sub("", anyascii(text).lower())).split()
    found += _run(words, from_end=True)
    if not found:
        found += _run(words, from_end=False)
    return tuple(found)
