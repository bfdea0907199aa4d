"""One entry of a sanctions or denied-party list, whatever list it came from.

Every list format (the US Consolidated Screening List, OFAC's SDN files, OpenSanctions'
FollowTheMoney export) is parsed into this one shape, so that the matcher, the database
and the review screens never need to know where an entry came from.
"""

from __future__ import annotations

from typing import Literal

import msgspec

Source = Literal["csl", "sdn", "opensanctions"]
Kind = Literal["person", "organisation", "vessel", "aircraft", "unknown"]


class ListEntry(msgspec.Struct, frozen=True):
    source: str
    """``"csl"``, ``"sdn"`` or ``"opensanctions"``."""
    entry_id: str
    """Unique within the source. CSL: ``"<list abbreviation>:<entity_number or _id>"`` (the CSL's
    ``entity_number`` repeats across its sub-lists); SDN: the ``uid``/``ent_num``; OpenSanctions: ``id``."""
    kind: Kind
    name: str
    aliases: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    """ISO 3166-1 alpha-2, upper case: from addresses, nationalities, citizenships, country properties."""
    birth_dates: tuple[str, ...] = ()
    """ISO ``"YYYY"``, ``"YYYY-MM"`` or ``"YYYY-MM-DD"``."""
    programs: tuple[str, ...] = ()
    list_name: str = ""
    """The list the entry is on, e.g. ``"SDN"``, ``"Entity List (EL) - Bureau of Industry and Security"``."""
    remarks: str = ""
    identifiers: tuple[str, ...] = ()
    """Passport, national id, registration, tax or IMO numbers, as written on the list."""
