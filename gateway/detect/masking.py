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

MAX_CHARS = 16_384

_UPPER = r"A-Z\u00c0-\u00d6\u00d8-\u00de\u0100-\u017f\u0401\u0410-\u042f"  # Latin, Cyrillic capitals
_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"```.*?(?:```|\Z)", re.S), " <code> "),
    (re.compile(r"`[^`\n]{1,200}`"), " <code> "),
    (re.compile(r"\b(?:https?://|www\.)\S+", re.I), " <url> "),
    (re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"), " <email> "),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I), " <uuid> "),
    (re.compile(r"\b(?:0x[0-9a-f]+|(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,})\b", re.I), " <hex> "),
    (re.compile(r"\"[^\"\n]{1,300}\"|“[^”\n]{1,300}”|«[^»\n]{1,300}»|'[^'\n]{2,300}'(?!\w)"), " <str> "),
    (re.compile(rf"\b[{_UPPER}][\w'\u2019-]*(?:[ \t]+[{_UPPER}][\w'\u2019-]*)+"), " <name> "),
    # Digits inside a word too ("item_1370", "gpt4"): generated identifiers vary like numbers.
    (re.compile(r"[-+]?(?<![.\d])\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?%?"), " <num> "),
)
_SPACE = re.compile(r"\s+")


def mask(text: str) -> str:
    """The skeleton of ``text``: variable parts as placeholders, lowercase, single spaces."""
    text = text[:MAX_CHARS]
    for pattern, placeholder in _RULES:
        text = pattern.sub(placeholder, text)
    return _SPACE.sub(" ", text.lower()).strip()
