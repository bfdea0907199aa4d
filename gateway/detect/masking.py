"""A prompt's skeleton: its variable parts masked, so that prompts made from one template collide.

Code blocks, URLs, e-mail addresses, UUIDs and hex strings, quoted strings, numbers and runs of two
or more capitalised words (names: "Ada Lovelace", "New York City") become placeholder tokens; the
rest is lowercased and its whitespace collapsed. Then "Solve 12 + 7 for Jane Doe" and "Solve 3 + 90
for Wang Wei" are both ``solve <num> + <num> for <name>``. Order matters: a URL is masked before its
digits, a code block before anything inside it.

Only the first :data:`MAX_CHARS` characters are read: a template shows in its opening, and the cost
of a 1 MB prompt must stay that of a long one.
"""

from __future__ import annotations

import re
from collections.abc import Callable

MAX_CHARS = 4_096

_UPPER = r"A-Z\u00c0-\u00d6\u00d8-\u00de\u0100-\u017f\u0401\u0410-\u042f"  # Latin, Cyrillic capitals


def _hex(match: re.Match[str]) -> str:
    """A run of 8+ hex digits is an id only if it mixes digits and letters ("deadbeef" is a word,
    "12345678" a number)."""
    token = match.group()
    if token[:2] in ("0x", "0X"):
        return " <hex> "
    has_digit = any(c.isdigit() for c in token)
    return " <hex> " if has_digit and not token.isdigit() else token


# (needle, pattern, replacement): a rule runs only when its needle is in the text (a fast C search),
# and no pattern starts with a look-around or \b, which would stop re skipping ahead to the first
# character that can match; each is ~20-40 ns a character otherwise.
_RULES: tuple[tuple[str | None, re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    ("```", re.compile(r"```.*?(?:```|\Z)", re.S), " <code> "),
    ("`", re.compile(r"`[^`\n]{1,200}`"), " <code> "),
    ("://", re.compile(r"(?:https?|ftp|wss?|HTTPS?)://\S+"), " <url> "),
    ("www.", re.compile(r"www\.\S+"), " <url> "),
    ("@", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), " <email> "),
    (
        "-",
        re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"),
        " <uuid> ",
    ),
    (None, re.compile(r"[0-9a-fA-F][0-9a-fA-FxX]{7,}"), _hex),
    ('"', re.compile(r'"[^"\n]{1,300}"'), " <str> "),
    ("\u201c", re.compile(r"\u201c[^\u201d\n]{1,300}\u201d"), " <str> "),
    ("\u00ab", re.compile(r"\u00ab[^\u00bb\n]{1,300}\u00bb"), " <str> "),
    ("'", re.compile(r"'[^'\n]{2,300}'(?!\w)"), " <str> "),
    (None, re.compile(rf"[{_UPPER}][\w'\u2019-]*(?:[ \t]+[{_UPPER}][\w'\u2019-]*)+"), " <name> "),
    # Digits inside a word too ("item_1370", "gpt4"): generated identifiers vary like numbers.
    (None, re.compile(r"\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?%?"), " <num> "),
)
_SPACE = re.compile(r"\s+")
"""What a run of whitespace is: ``mask`` collapses them with ``str.split``, which splits on exactly
the characters ``\\s`` matches (``str.isspace``; tests/unit/detect/test_masking_fast.py checks every
code point), at a third of the cost of this pattern's ``sub``."""


def mask(text: str) -> str:
    """The skeleton of ``text``: variable parts as placeholders, lowercase, single spaces."""
    text = text[:MAX_CHARS]
    for needle, pattern, placeholder in _RULES:
        if needle is None or needle in text:
            text = pattern.sub(placeholder, text)
    # _SPACE.sub(" ", lowered).strip(), the same string (see _SPACE).
    return " ".join(text.lower().split())
