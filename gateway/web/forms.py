"""Reading a submitted form field by field (pure): each reader returns the value or records, under
the field's name, a message a person can act on, so that a page shows every mistake beside its
field at once and nothing is saved until the whole form is right."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping

import pycountry

__all__ = ["MAX_TEXT", "Form"]

MAX_TEXT = 200
"""The longest a one-line answer may be (names, street lines, cities)."""
_COUNTRY = re.compile(r"^[A-Za-z]{2}$")


class Form:
    """A submitted form: ``text()``, ``country()``, ... read fields; ``errors`` maps a field's name to
    its message; ``ok`` when there are none."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = {k: v for k, v in values.items()}
        self.errors: dict[str, str] = {}

    @property
    def ok(self) -> bool:
        return not self.errors

    def fail(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    def raw(self, name: str) -> str:
        return self.values.get(name, "").strip()

    def text(self, name: str, label: str, *, required: bool = True, max_len: int = MAX_TEXT) -> str | None:
        value = self.raw(name)
        if not value:
            if required:
                self.fail(name, f"Enter the {label}.")
            return None
        if len(value) > max_len:
            self.fail(name, f"The {label} must be at most {max_len} characters (it has {len(value)}).")
            return None
        if not value.isprintable():
            self.fail(name, f"The {label} must be plain text, without control characters.")
            return None
        return value

    def choice(self, name: str, label: str, options: Mapping[str, str]) -> str | None:
        value = self.raw(name)
        if value not in options:
            self.fail(name, f"Choose the {label}.")
            return None
        return value

    def country(self, name: str, label: str, *, required: bool = True) -> str | None:
        value = self.raw(name)
        if not value:
            if required:
                self.fail(name, f"Choose the {label}.")
            return None
        code = value.upper()
        if not _COUNTRY.match(value) or pycountry.countries.get(alpha_2=code) is None:
            self.fail(
                name,
                f"The {label} must be a two-letter ISO country code, like DE or US;"
                f" {value[:20]!r} is not one.",
            )
            return None
        return code

    def date(self, name: str, label: str, *, required: bool = False, today: dt.date) -> str | None:
        value = self.raw(name)
        if not value:
            if required:
                self.fail(name, f"Enter the {label}.")
            return None
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            self.fail(name, f"The {label} must be a date, like 1990-04-30.")
            return None
        if day > today or day.year < 1800:
            self.fail(name, f"The {label} must be a date in the past.")
            return None
        return day.isoformat()

    def percent(self, name: str, label: str, *, required: bool = False) -> float | None:
        value = self.raw(name).rstrip("%").strip()
        if not value:
            if required:
                self.fail(name, f"Enter the {label}.")
            return None
        number = _finite(value)
        if number is None:
            self.fail(name, f"The {label} must be a number between 0 and 100.")
            return None
        if not 0 < number <= 100:
            self.fail(name, f"The {label} must be more than 0 and at most 100 (it is {value[:20]}).")
            return None
        return number

    def number(self, name: str, label: str, *, minimum: float = 0, required: bool = True) -> float | None:
        value = self.raw(name)
        if not value:
            if required:
                self.fail(name, f"Enter the {label}.")
            return None
        number = _finite(value)
        if number is None:
            self.fail(name, f"The {label} must be a number.")
            return None
        if number < minimum:
            self.fail(name, f"The {label} must be at least {minimum:g}.")
            return None
        return number


def _finite(value: str) -> float | None:
    """The number written, or None for text that is not one (``nan`` and ``inf`` included)."""
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None
