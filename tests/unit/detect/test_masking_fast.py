"""Whitespace collapsed by ``str.split`` gives the skeleton the regular expression gave (issue 20)."""

from __future__ import annotations

import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.detect.masking import _RULES, _SPACE, MAX_CHARS, mask

SPACES = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]


def plain_mask(text: str) -> str:
    """``mask`` as it was: the rules, then the pattern's sub and a strip."""
    text = text[:MAX_CHARS]
    for needle, pattern, placeholder in _RULES:
        if needle is None or needle in text:
            text = pattern.sub(placeholder, text)
    return _SPACE.sub(" ", text.lower()).strip()


def test_the_pattern_and_split_see_the_same_whitespace() -> None:
    # str.split() splits on str.isspace() characters; the pattern's \s must match exactly those.
    single = _SPACE.pattern[:2]
    assert single == r"\s"
    import re

    space = re.compile(single)
    assert [c for c in map(chr, range(sys.maxunicode + 1)) if space.fullmatch(c)] == SPACES


texts = st.lists(
    st.sampled_from(SPACES)
    | st.sampled_from(["Ada Lovelace", "12", "x", "İ", "ß", "\u0085", "A\u2028B"])
    | st.text(max_size=8),
    max_size=40,
).map("".join)


@settings(max_examples=800, deadline=None)
@given(texts)
def test_mask_is_the_plain_mask(text: str) -> None:
    assert mask(text) == plain_mask(text)


def test_a_long_text_is_cut_the_same() -> None:
    text = ("word \u00a0 Ada Lovelace\t\n 42 " * 400)[: MAX_CHARS + 7]
    assert mask(text) == plain_mask(text)
