"""Read a sanctions or denied-party list file into :class:`ListEntry` values.

One entry point, :func:`parse_list`, for every list the gateway screens against. The file
format within a source (CSV or JSON for the CSL, XML or CSV for OFAC's SDN list) is told
from the content, not the file name, because operators rename downloads. Files are read
as a stream (CSV and JSON lines row by row, XML element by element), so a list of several
hundred megabytes is not held twice in memory. A malformed file raises
:class:`ListFormatError` naming the file and the line, record or element at fault.
"""

from __future__ import annotations

import csv
import mmap
from pathlib import Path

from . import _csl, _ftm, _ofac
from ._fields import ListFormatError, text_lines
from .entries import ListEntry, Source

__all__ = ["ListFormatError", "Source", "parse_list"]

_SNIFF_BYTES = 4096


def parse_list(path: Path, source: Source) -> list[ListEntry]:
    """All entries of the list file at ``path``, which holds the ``source`` list."""
    path = Path(path)
    try:
        first = _first_character(path)
        if not first:
            raise ListFormatError(f"{path.name}: the file is empty")
        if source == "csl":
            if first in ("{", "["):
                # Mapped, not read: msgspec decodes straight from the file's pages.
                with path.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
                    return list(_csl.parse_json(path, data))
            return list(_csl.parse_csv(path, text_lines(path)))
        if source == "sdn":
            if first == "<":
                return list(_ofac.parse_xml(path))
            return list(_ofac.parse_csv(path))
        if source == "opensanctions":
            with path.open("rb") as file:
                return list(_ftm.parse_lines(path, iter(file)))
    except OSError as exc:
        raise ListFormatError(f"{path.name}: cannot read the file ({exc.strerror or exc})") from None
    except csv.Error as exc:
        # The CSV reader's own complaints (a bare carriage return inside a field, a field over
        # its size limit) are the file's fault like any other: not an internal error.
        raise ListFormatError(f"{path.name}: not a readable CSV file ({exc})") from None
    raise ValueError(f"unknown list source {source!r}")


def _first_character(path: Path) -> str:
    """The first character that is not white space or a byte-order mark, or "" for an empty file."""
    with path.open("rb") as file:
        head = file.read(_SNIFF_BYTES)
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    return text[:1]
