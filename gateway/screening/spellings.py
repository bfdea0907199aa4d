"""Whether two spellings that differ by a letter or two are one name or two.

A customer's "Penridge" against a listed "Pemridge" is a typo or another family; "Nabeel"
against "Nabil" is one name in two transliterations. Edit distance cannot tell them apart, but
two things can:

- *Is the customer's spelling itself a name?* A typo rarely lands on another real name; a
  namesake's name is one. The list is the dictionary at hand: a word it holds as a name (in
  some other entry) is a real spelling, not a slip of the keyboard (spelling correction's
  "real-word" against "non-word" errors).
- *Is the difference one transliterations make?* Vowels ("Nabeel"/"Nabil", "Omar"/"Umar",
  "Shehri"/"Shihri"), doubled letters, a final h, and consonants that scripts map onto several
  Latin letters (c/k/q, g/j/h, b/p, d/t/s/z; v and w go with the vowels) vary between honest
  spellings of one name.
  Any other consonant ("Penridge"/"Pemridge", "Arslan"/"Aslan", "Oliver"/"Olivia") makes
  another name.

So a customer's word that the list holds as a name, against a listed word whose consonants
differ beyond those swaps, is another name: it does not pair (:func:`other_name`). In a Chinese
name the vowels count too, syllable by syllable: "Guoping" and "Guoming", "Fangli" and
"Fanglei" are other characters, so other names, when both are names the list holds (a syllable
two letters off is another name whether or not: :func:`.similarity.word_similarity`). Only in a
name all of whose words are pinyin: "Canaan" reads as pinyin too, and "Reza" and "Riza" are one
Persian name.

Korean syllables go by their table of accepted romanisations (:mod:`._korean`): "Sung" and
"Song" may both be 성, so they are not two names; "Chol" and "Chun" are.
"""

from __future__ import annotations

import functools
import re

from ._korean import korean_same
from .similarity import fold, skeleton, syllables

__all__ = ["other_name"]

# Consonants that transliterations swap, one letter per class; the rest stand for themselves.
_CLASSES = str.maketrans({"c": "k", "q": "k", "j": "g", "h": "g", "p": "b", "t": "d", "s": "d", "z": "d"})
_DOUBLES = re.compile(r"(.)\1+")


@functools.lru_cache(maxsize=65536)
def _consonants(word: str) -> str:
    """The word's consonants, the ones transliterations swap merged into one letter each."""
    return _DOUBLES.sub(r"\1", skeleton(word).translate(_CLASSES))


@functools.lru_cache(maxsize=131072)
def other_name(a: str, b: str, pinyin: bool = False) -> bool:
    """Whether ``a``, a word the list holds as a name, is another name than ``b`` rather than
    a spelling of it: a consonant differs beyond the swaps transliterations make; or, in a
    Chinese name (``pinyin``: every word of both names is pinyin), a syllable differs other than
    by those swaps or by two letters swapped (a typo)."""
    if len(a) < 2 or len(b) < 2 or fold(a) == fold(b):
        return False
    same = korean_same(a, b)
    if same is not None:
        return not same
    if pinyin:
        sa, sb = syllables(a), syllables(b)
        if sa and sb and len(sa) == len(sb):
            return any(
                sorted(x) != sorted(y) and x.translate(_CLASSES) != y.translate(_CLASSES)
                for x, y in zip(sa, sb, strict=True)
            )
    return _consonants(a) != _consonants(b)
