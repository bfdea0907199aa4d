"""Find the line of a key in a TOML file, so that a policy error can say where to look.

``tomllib`` returns values without positions. Policy files are simple (tables, arrays of tables,
``key = value`` lines, arrays spread over several lines), so a line scanner that tracks the current
table header is enough to map a key path such as ``("rules", "tier2", "caps", "max_gpus_per_job")``
or ``("thresholds", "training", 1, "flop")`` back to its line. When the exact key is not written
(an inline table, a missing field) the line of the nearest enclosing key or table is given.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

PathPart = str | int

_HEADER = re.compile(r"^\s*(\[\[?)\s*(.+?)\s*\]\]?\s*(?:#.*)?$")
_KEY_PART = r"(?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')"
_KEY = re.compile(rf"^\s*({_KEY_PART}(?:\s*\.\s*{_KEY_PART})*)\s*=")
_PART = re.compile(_KEY_PART)


def _parts(dotted: str) -> list[str]:
    return [p.strip("\"'") for p in _PART.findall(dotted)]


class Locator:
    """The key path each key and table header of one file stands at, by line."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.entries: list[tuple[int, tuple[PathPart, ...]]] = []  # (1-based line, path)
        table: tuple[PathPart, ...] = ()
        current_index: dict[tuple[PathPart, ...], int] = {}  # array of tables -> index of its last element
        in_string = False
        for number, line in enumerate(self.lines, start=1):
            quotes = line.count('"""') + line.count("'''")
            if in_string:
                in_string = quotes % 2 == 0
                continue
            header = _HEADER.match(line)
            if header and not _KEY.match(line):
                path: list[PathPart] = []
                names = _parts(header.group(2))
                for i, name in enumerate(names):
                    path.append(name)
                    key = tuple(path)
                    if header.group(1) == "[[" and i == len(names) - 1:
                        current_index[key] = current_index.get(key, -1) + 1
                        path.append(current_index[key])
                    elif key in current_index:
                        path.append(current_index[key])
                table = tuple(path)
                self.entries.append((number, table))
            else:
                key_match = _KEY.match(line)
                if key_match:
                    self.entries.append((number, table + tuple(_parts(key_match.group(1)))))
            in_string = quotes % 2 == 1

    def line(self, path: Sequence[PathPart], value: object = None) -> int | None:
        """The line of ``path``, or of its nearest written ancestor; for a string element of an array
        (``value``), the line of the element itself when the array spans several lines."""
        target = tuple(path)
        best: int | None = None
        best_score = -1.0
        best_at = -1
        for at, (number, key) in enumerate(self.entries):
            if target[: len(key)] == key:
                score = float(len(key))  # the key itself, or its nearest written ancestor
            elif key[: len(target)] == target:
                score = len(target) - 0.5  # a table only written through its sub-tables: the first one
            else:
                continue
            if score > best_score:
                best, best_score, best_at = number, score, at
        # Look further only for an array element below a key written on ``best``.
        if best is None or not isinstance(value, str) or best_score >= len(target) - 0.5:
            return best
        end = self.entries[best_at + 1][0] if best_at + 1 < len(self.entries) else len(self.lines) + 1
        for number in range(best, end):
            text = self.lines[number - 1]
            if f'"{value}"' in text or f"'{value}'" in text:
                return number
        return best
