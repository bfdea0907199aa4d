"""What a Customer Identification Program collects about a customer, validated and normalised.

The CIP content (REFERENCE.md, EO 13984): name, address, national identification numbers, means
and source of payment, email and telephone, and for an entity its incorporation. Request bodies
decode into the ``*In`` structs (unknown fields refused); :func:`validate_facts` turns them into
the stored :class:`Facts`, with every value checked by the library that knows its format
(pycountry, email-validator, phonenumbers, python-stdnum) and every error naming the field path.

Card, account and wallet numbers are never stored: they become a keyed fingerprint (HMAC-SHA256)
and, for cards and accounts, the last four characters. The same card used by two customers gives
the same fingerprint, so accounts can be linked without keeping the number. Pure: the caller
passes the key and ``today``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import types
import unicodedata
from typing import Literal

import email_validator
import msgspec
import phonenumbers
import pycountry
from stdnum import get_cc_module, lei, luhn
from stdnum.exceptions import ValidationError
from stdnum.us import ein, ssn

from ..errors import BadRequest

Kind = Literal["individual", "organisation"]

MAX_TEXT = 500
MAX_ITEMS = 20  # per list (addresses, identifiers, payment methods): a customer, not a bulk upload
_EARLIEST_BIRTH = dt.date(1900, 1, 1)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TYPE = re.compile(r"[a-z][a-z0-9_]{0,39}")
_SEPARATORS = re.compile(r"[\s\-.]")
_INDIVIDUAL_ONLY = ("birth_date", "nationality", "residence_country")
_ORGANISATION_ONLY = ("incorporation_date", "incorporation_country", "headquarters_country")
_LABELS = {"vat": "VAT number", "lei": "LEI", "ein": "EIN", "ssn": "SSN"}


class FactsInvalid(BadRequest):
    code = "invalid_facts"


# --- wire forms: decoded from request bodies -----------------------------------------------------


class AddressIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    line1: str
    city: str
    country: str
    line2: str | None = None
    region: str | None = None
    postal_code: str | None = None


class IdentifierIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    type: str  # "vat", "lei", "ein", "ssn", or a python-stdnum module name for the country
    value: str
    country: str | None = None


class PaymentIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    method: Literal["card", "bank_account", "wallet", "invoice", "other"]
    institution: str | None = None
    source_of_funds: str | None = None
    card_number: str | None = None  # never stored: fingerprint + last4
    account_number: str | None = None  # never stored: fingerprint + last4
    wallet_address: str | None = None  # never stored: fingerprint
    fingerprint: str | None = None  # one the payment processor gives (e.g. a Stripe card fingerprint)


class FactsIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    legal_name: str | None = None
    addresses: list[AddressIn] = []
    birth_date: str | None = None  # individuals, ISO date
    incorporation_date: str | None = None  # organisations, ISO date
    nationality: str | None = None  # alpha-2
    residence_country: str | None = None
    incorporation_country: str | None = None
    headquarters_country: str | None = None  # BIS look-through: headquarters / ultimate parent
    email: str | None = None
    phone: str | None = None
    identifiers: list[IdentifierIn] = []
    payment_methods: list[PaymentIn] = []
    business_purpose: str | None = None


# --- stored forms ----------------------------------------------------------------------------------


class Address(msgspec.Struct, frozen=True):
    line1: str
    city: str
    country: str  # alpha-2, upper case
    line2: str | None = None
    region: str | None = None
    postal_code: str | None = None


class Identifier(msgspec.Struct, frozen=True):
    type: str
    value: str  # compact form when validated (VAT without its country prefix: see ``country``)
    country: str | None
    validated: bool  # False when python-stdnum has no validator for this type and country


class Payment(msgspec.Struct, frozen=True):
    method: str
    institution: str | None
    source_of_funds: str | None
    fingerprint: str  # hex HMAC-SHA256; "" for an invoice with no instrument (never link on it)
    last4: str | None


class Facts(msgspec.Struct, frozen=True):
    legal_name: str | None = None
    addresses: tuple[Address, ...] = ()
    birth_date: str | None = None
    incorporation_date: str | None = None
    nationality: str | None = None
    residence_country: str | None = None
    incorporation_country: str | None = None
    headquarters_country: str | None = None
    email: str | None = None
    phone: str | None = None  # E.164
    identifiers: tuple[Identifier, ...] = ()
    payment_methods: tuple[Payment, ...] = ()
    business_purpose: str | None = None


def validate_facts(kind: Kind, facts: FactsIn, *, fingerprint_key: bytes, today: dt.date) -> Facts:
    """Check and normalise what a customer submitted; raise :class:`FactsInvalid` naming the field."""
    wrong = _ORGANISATION_ONLY if kind == "individual" else _INDIVIDUAL_ONLY
    for name in wrong:
        if getattr(facts, name) is not None:
            raise FactsInvalid(f"{name}: not allowed for an {kind}")
    for name in ("addresses", "identifiers", "payment_methods"):
        if len(getattr(facts, name)) > MAX_ITEMS:
            raise FactsInvalid(f"{name}: at most {MAX_ITEMS} entries")

    residence = _country("residence_country", facts.residence_country)
    incorporation = _country("incorporation_country", facts.incorporation_country)
    return Facts(
        legal_name=_text("legal_name", facts.legal_name),
        addresses=tuple(_address(f"addresses[{i}]", a) for i, a in enumerate(facts.addresses)),
        birth_date=_date("birth_date", facts.birth_date, today, earliest=_EARLIEST_BIRTH),
        incorporation_date=_date("incorporation_date", facts.incorporation_date, today),
        nationality=_country("nationality", facts.nationality),
        residence_country=residence,
        incorporation_country=incorporation,
        headquarters_country=_country("headquarters_country", facts.headquarters_country),
        email=_email(facts.email),
        # A national number ("030 901820") is read in the country the customer lives or is
        # registered in; an international one (+49...) needs no default.
        phone=_phone(facts.phone, residence or incorporation),
        identifiers=tuple(_identifier(f"identifiers[{i}]", x) for i, x in enumerate(facts.identifiers)),
        payment_methods=tuple(
            _payment(f"payment_methods[{i}]", p, fingerprint_key) for i, p in enumerate(facts.payment_methods)
        ),
        business_purpose=_text("business_purpose", facts.business_purpose),
    )


def merge_facts(old: Facts, new: Facts) -> Facts:
    """PATCH semantics: each field of ``new`` that is set (not None, not empty) replaces the old one.

    Lists are replaced whole, not appended to: a client that sends identifiers sends all of them.
    """
    merged = {}
    for field in msgspec.structs.fields(Facts):
        value = getattr(new, field.name)
        merged[field.name] = getattr(old, field.name) if value is None or value == () else value
    return Facts(**merged)


def missing_for_submission(kind: Kind, facts: Facts) -> list[str]:
    """The fields a submission for review still needs; [] when it is complete."""
    needed: list[tuple[str, object]] = [("legal_name", facts.legal_name), ("addresses", facts.addresses)]
    if kind == "individual":
        needed.append(("birth_date", facts.birth_date))
    else:
        needed += [
            ("incorporation_date", facts.incorporation_date),
            ("incorporation_country", facts.incorporation_country),
        ]
    needed.append(("email", facts.email))
    return [name for name, value in needed if value is None or value == ()]


# --- field validators ------------------------------------------------------------------------------


def _text(path: str, value: str | None) -> str | None:
    return None if value is None else _required(path, value)


def _required(path: str, value: str) -> str:
    """Trimmed; refused when empty, over MAX_TEXT characters, or holding control characters."""
    value = value.strip()
    if not value:
        raise FactsInvalid(f"{path}: must not be empty")
    if len(value) > MAX_TEXT:
        raise FactsInvalid(f"{path}: longer than {MAX_TEXT} characters")
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise FactsInvalid(f"{path}: contains control characters")
    return value


def _country(path: str, value: str | None) -> str | None:
    return None if value is None else _required_country(path, value)


def _required_country(path: str, value: str) -> str:
    code = _required(path, value).upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise FactsInvalid(f"{path}: not an ISO 3166-1 alpha-2 country code")
    return code


def _date(path: str, value: str | None, today: dt.date, *, earliest: dt.date | None = None) -> str | None:
    text = _text(path, value)
    if text is None:
        return None
    try:
        if not _DATE.fullmatch(text):
            raise ValueError(text)
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise FactsInvalid(f"{path}: not a date in the form YYYY-MM-DD") from None
    if day > today:
        raise FactsInvalid(f"{path}: in the future")
    if earliest is not None and day < earliest:
        raise FactsInvalid(f"{path}: before {earliest.isoformat()}")
    return day.isoformat()


def _email(value: str | None) -> str | None:
    text = _text("email", value)
    if text is None:
        return None
    try:
        return email_validator.validate_email(text, check_deliverability=False).normalized
    except email_validator.EmailNotValidError as err:
        raise FactsInvalid(f"email: {err}") from None


def _phone(value: str | None, region: str | None) -> str | None:
    text = _text("phone", value)
    if text is None:
        return None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        hint = "" if region else " (give it as +<country code><number>, or set the country)"
        raise FactsInvalid(f"phone: not a valid phone number{hint}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _address(path: str, a: AddressIn) -> Address:
    return Address(
        line1=_required(f"{path}.line1", a.line1),
        city=_required(f"{path}.city", a.city),
        country=_required_country(f"{path}.country", a.country),
        line2=_text(f"{path}.line2", a.line2),
        region=_text(f"{path}.region", a.region),
        postal_code=_text(f"{path}.postal_code", a.postal_code),
    )


def _identifier(path: str, x: IdentifierIn) -> Identifier:
    kind = _required(f"{path}.type", x.type).lower()
    if not _TYPE.fullmatch(kind):
        raise FactsInvalid(f"{path}.type: letters, digits and '_' only, starting with a letter")
    value = _required(f"{path}.value", x.value)
    country = _country(f"{path}.country", x.country)
    if kind in ("ein", "ssn"):
        if country not in (None, "US"):
            raise FactsInvalid(f"{path}.country: an {kind.upper()} is a US number")
        country = "US"
    elif kind == "vat" and country is None:
        country = _vat_prefix(value)

    module = _validator(kind, country)
    if module is None:
        return Identifier(kind, value, country, validated=False)
    try:
        compact = str(module.validate(value))
    except ValidationError as err:
        where = f" for {_country_name(country)}" if country and kind not in ("ein", "ssn") else ""
        reason = str(err).rstrip(".")
        reason = reason[:1].lower() + reason[1:]
        label = _LABELS.get(kind, kind.replace("_", " "))
        raise FactsInvalid(f"{path}.value: not a valid {label}{where} ({reason})") from None
    return Identifier(kind, compact, country, validated=True)


def _validator(kind: str, country: str | None) -> types.ModuleType | None:
    """The python-stdnum module that checks this identifier, or None when there is none."""
    if kind == "lei":
        return lei
    if kind == "ein":
        return ein
    if kind == "ssn":
        return ssn
    if country is None:
        return None
    module = get_cc_module(country, kind)
    # get_cc_module is a getattr on the country package: accept only a real validator module
    # of that country, never some other attribute that happens to share the name.
    if not isinstance(module, types.ModuleType) or not callable(getattr(module, "validate", None)):
        return None
    package = f"stdnum.{country.lower()}"
    if not (module.__name__.startswith(package + ".") or module.__name__.startswith(package + "_.")):
        return None
    return module


def _vat_prefix(value: str) -> str | None:
    """The country of a VAT number written with its prefix (DE136695976), or None."""
    prefix = value[:2].upper()
    if prefix == "EL":  # Greece writes its VAT numbers with EL, not its ISO code GR
        return "GR"
    if prefix.isalpha() and pycountry.countries.get(alpha_2=prefix) is not None:
        return prefix
    return None


def _country_name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code)
    return str(country.name) if country is not None else code


# --- payments --------------------------------------------------------------------------------------


def _payment(path: str, p: PaymentIn, key: bytes) -> Payment:
    given = [
        name
        for name in ("card_number", "account_number", "wallet_address", "fingerprint")
        if getattr(p, name) is not None
    ]
    if len(given) > 1:
        raise FactsInvalid(f"{path}: give only one of {', '.join(given)}")
    if not given and p.method != "invoice":
        raise FactsInvalid(f"{path}: needs a card_number, account_number, wallet_address or fingerprint")
    fingerprint, last4 = "", None
    if p.card_number is not None:
        _method_fits(path, p.method, "card_number", "card")
        digits = _SEPARATORS.sub("", _required(f"{path}.card_number", p.card_number))
        if not (digits.isdigit() and 12 <= len(digits) <= 19 and luhn.is_valid(digits)):
            raise FactsInvalid(f"{path}.card_number: not a valid card number")
        fingerprint, last4 = _fingerprint(key, "card", digits), digits[-4:]
    elif p.account_number is not None:
        _method_fits(path, p.method, "account_number", "bank_account")
        account = _SEPARATORS.sub("", _required(f"{path}.account_number", p.account_number)).upper()
        if not (account.isascii() and account.isalnum() and 4 <= len(account) <= 34):
            raise FactsInvalid(f"{path}.account_number: not a valid account number")
        fingerprint, last4 = _fingerprint(key, "account", account), account[-4:]
    elif p.wallet_address is not None:
        _method_fits(path, p.method, "wallet_address", "wallet")
        wallet = _required(f"{path}.wallet_address", p.wallet_address)
        if any(c.isspace() for c in wallet):
            raise FactsInvalid(f"{path}.wallet_address: must not contain spaces")
        # Ethereum-style hex addresses are case-insensitive (the case is only a checksum);
        # base58 and others are case-sensitive and kept as they are.
        if wallet[:2].lower() == "0x":
            wallet = wallet.lower()
        fingerprint = _fingerprint(key, "wallet", wallet)
    elif p.fingerprint is not None:
        fingerprint = _fingerprint(key, "processor", _required(f"{path}.fingerprint", p.fingerprint))
    return Payment(
        method=p.method,
        institution=_text(f"{path}.institution", p.institution),
        source_of_funds=_text(f"{path}.source_of_funds", p.source_of_funds),
        fingerprint=fingerprint,
        last4=last4,
    )


def _method_fits(path: str, method: str, field: str, expected: str) -> None:
    if method not in (expected, "other"):
        raise FactsInvalid(f"{path}.method: {field} needs method '{expected}' (or 'other')")


def _fingerprint(key: bytes, purpose: str, value: str) -> str:
    return hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()
