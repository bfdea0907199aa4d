"""Sanctions and denied-party screening: list files in, scored matches out.

:func:`parse_list` reads the US Consolidated Screening List, OFAC's SDN files and
OpenSanctions' export into :class:`ListEntry` values; a :class:`Screener` indexes them once and
screens each :class:`Subject` against them. Nothing here touches the database or the clock.
"""

from __future__ import annotations

from .entries import Kind, ListEntry, Source
from .formats import ListFormatError, parse_list
from .matcher import DEFAULT_THRESHOLD, Match, Screener, Subject
from .normalise import normalise, tokens

__all__ = [
    "DEFAULT_THRESHOLD",
    "Kind",
    "ListEntry",
    "ListFormatError",
    "Match",
    "Screener",
    "Source",
    "Subject",
    "normalise",
    "parse_list",
    "tokens",
]
